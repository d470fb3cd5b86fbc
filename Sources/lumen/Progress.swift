import Foundation
import Lumen

/// Shows training progress: a live bar on a terminal, plain lines in logs.
final class ProgressReporter: TrainingReporter {
    private let interactive = isatty(STDOUT_FILENO) != 0
    private var lastPlainLine = Date.distantPast
    private var epochs = 0
    /// The epoch's first step: the ETA's rate is taken from the steps after it.
    private var firstStep: StepProgress?

    func epochBegan(_ epoch: Int, of epochs: Int, steps: Int) {
        self.epochs = epochs
        firstStep = nil
        if !interactive { print("Epoch \(epoch + 1)/\(epochs): \(steps) steps"); fflush(stdout) }
    }

    func stepEnded(_ p: StepProgress) {
        if firstStep == nil { firstStep = p }
        let eta = p.eta(since: firstStep)
        let numbers = String(format: "loss %.4f  accuracy %.4f", p.loss, p.accuracy)
        // First-use work (compiling kernels, timing GEMMs) is said, and left out of the ETA.
        let firstUse = ProgressReporter.firstUseNote(p.firstUse)
        if interactive {
            let width = 30
            let filled = p.steps > 0 ? min(width, p.step * width / p.steps) : width
            let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
            print("\r  \(p.step)/\(p.steps) [\(bar)] ETA \(ProgressReporter.clock(eta))  \(numbers)\u{1B}[K", terminator: "")
            fflush(stdout)
        } else if Date().timeIntervalSince(lastPlainLine) >= 10 || p.step == p.steps {
            lastPlainLine = Date()
            print("  step \(p.step)/\(p.steps), \(ProgressReporter.clock(p.elapsed)) elapsed\(firstUse), ETA \(ProgressReporter.clock(eta)), \(numbers)")
            fflush(stdout)
        }
    }

    func epochEnded(_ epoch: Int, of epochs: Int, logs: [String: Double]) {
        if interactive { print("\r\u{1B}[K", terminator: "") }
        let order = ["loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc"]
        let metrics = order.compactMap { key in logs[key].map { String(format: "%@ %.4f", key, $0) } }.joined(separator: "  ")
        print(String(format: "Epoch %d/%d  %@  lr %.2e  %.1f s  %.1f img/s", epoch + 1, epochs, metrics,
                     logs["learning_rate"] ?? 0, logs["epoch_time"] ?? 0, logs["images_per_second"] ?? 0))
        fflush(stdout)
    }

    func message(_ text: String) {
        if interactive { print("\r\u{1B}[K", terminator: "") }
        print(text)
        fflush(stdout)
    }

    /// ", 0:02 of it first-use compiling and timing" for a second or more of it, else "".
    static func firstUseNote(_ seconds: Double) -> String {
        seconds >= 1 ? ", \(clock(seconds)) of it first-use compiling and timing" : ""
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Shows a pass over batches (extraction, evaluation, prediction): a bar on a terminal, in
/// a log a line every 10 s and at the end, each with an ETA; on standard error where
/// standard output carries the results. A pass of one batch shows nothing.
final class BatchProgressLine {
    private let stream: UnsafeMutablePointer<FILE>
    private let interactive: Bool
    private var lastLine = Date.distantPast
    /// The pass's first report: the ETA's rate is taken from the batches after it.
    private var first: BatchProgress?

    init(onStandardError: Bool) {
        stream = onStandardError ? stderr : stdout
        interactive = isatty(fileno(stream)) != 0
    }

    func show(_ p: BatchProgress) {
        guard p.total > 1 else { return }
        if first == nil { first = p }
        // First-use work (compiling kernels, timing GEMMs) is said, and left out of the ETA.
        let eta = "ETA \(ProgressReporter.clock(p.eta(since: first)))"
        if interactive {
            let filled = p.done * 30 / p.total
            let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: 30 - filled)
            fputs("\r  \(p.done)/\(p.total) [\(bar)] \(eta)\u{1B}[K" + (p.done == p.total ? "\n" : ""), stream)
        } else if Date().timeIntervalSince(lastLine) > 10 || p.done == p.total {
            lastLine = Date()
            let firstUse = ProgressReporter.firstUseNote(p.firstUse)
            fputs("  batch \(p.done)/\(p.total), \(ProgressReporter.clock(p.elapsed)) elapsed\(firstUse), \(eta)\n", stream)
        }
        fflush(stream)
    }
}

/// Turns Ctrl-C into a request to stop after the current step; a second Ctrl-C quits.
final class InterruptHandler {
    private let source: DispatchSourceSignal
    private var count = 0

    init(_ onInterrupt: @escaping () -> Void) {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue.global())
        source.setEventHandler { [unowned self] in
            self.count += 1
            if self.count > 1 {
                FileHandle.standardError.write(Data("\nlumen: interrupted again; quitting without a checkpoint\n".utf8))
                exit(130)
            }
            FileHandle.standardError.write(Data("\nlumen: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n".utf8))
            onInterrupt()
        }
        source.resume()
    }

    deinit {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
