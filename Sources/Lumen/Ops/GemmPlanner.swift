import Foundation

/// One SGEMM implementation: CLBlast, or one of Lumen's own kernels (`GemmKernels`).
public enum GemmBackend: Hashable, Sendable, CaseIterable {
    case clblast
    case lumen(GemmKernels.Tile)

    public static var allCases: [GemmBackend] { [.clblast] + GemmKernels.Tile.allCases.map { .lumen($0) } }

    /// The name in `LUMEN_GEMM` and in the choices file: `clblast`, `lumen-8x32`, ….
    public var name: String {
        switch self {
        case .clblast: return "clblast"
        case .lumen(let tile): return "lumen-" + tile.rawValue
        }
    }

    public init?(name: String) {
        guard let backend = GemmBackend.allCases.first(where: { $0.name == name }) else { return nil }
        self = backend
    }

    /// Lumen's tile for this backend; nil for CLBlast.
    var tile: GemmKernels.Tile? {
        if case .lumen(let tile) = self { return tile }
        return nil
    }

    func supports(transposeA: Bool, transposeB: Bool) -> Bool {
        tile?.supports(transposeA: transposeA, transposeB: transposeB) ?? true
    }

    /// Every value `LUMEN_GEMM` takes.
    public static let settings = ["auto", "lumen"] + allCases.map(\.name)

    /// The backend a `LUMEN_GEMM` value forces: nil for auto (or unset); `lumen` is 8×32.
    public static func forced(by text: String?) throws -> GemmBackend? {
        let value = text?.lowercased() ?? "auto"
        if value == "auto" || value.isEmpty { return nil }
        if value == "lumen" { return .lumen(.rows8cols32) }
        guard let backend = GemmBackend(name: value) else {
            throw LumenError.invalidSetting(name: "LUMEN_GEMM", value: text ?? "", valid: settings)
        }
        return backend
    }
}

/// A shape the planner decides something for, named as it is stored.
protocol PlannedShape {
    var text: String { get }
}

/// A decision the planner times once per shape and remembers: a backend for a GEMM shape,
/// a weight-gradient plan for a convolution.
protocol PlannedDecision {
    var storedName: String { get }
    init?(storedName: String)
}

extension GemmBackend: PlannedDecision {
    var storedName: String { name }
    init?(storedName: String) { self.init(name: storedName) }
}

/// One GEMM's shape: transposes, sizes, batch and batch sum.
struct GemmShape: Hashable, PlannedShape {
    let transposeA: Bool, transposeB: Bool
    let m: Int, n: Int, k: Int, batch: Int
    var sumOver = 1
    var text: String {
        "\(transposeA ? "T" : "N")\(transposeB ? "T" : "N") \(m)x\(n)x\(k) x\(batch)" + (sumOver > 1 ? " sum\(sumOver)" : "")
    }
}

/// How GEMMs are computed on one device, decided once per device and shape: the CLBlast
/// self-check (and the tuned CLBlast parameters handed over before it), then per shape the
/// forced backend or the fastest candidate, timed at first use and remembered in the cache
/// folder in a file named by the device, `gemm.cl`'s source and the CLBlast tuning, shared
/// safely by every process that uses the folder. Built from explicit settings; the device
/// keeps it (`GemmPlanner.of`).
public final class GemmPlanner: @unchecked Sendable {
    /// What the planner is told rather than finds out.
    public struct Settings: Sendable {
        /// A backend for every GEMM (`LUMEN_GEMM`); nil times the candidates.
        public var forced: GemmBackend?
        /// Makes CLBlast's self-check fail on purpose, to exercise the fallback
        /// (`LUMEN_FAIL_CLBLAST_CHECK=1`).
        public var failClblastCheck = false

        public init(forced: GemmBackend? = nil, failClblastCheck: Bool = false) {
            self.forced = forced
            self.failClblastCheck = failClblastCheck
        }
    }

    /// How the self-check went.
    enum CheckOutcome {
        case passed
        /// CLBlast was wrong by `maxError`; Lumen's own kernels passed and serve the device.
        case clblastFailed(maxError: Float)
        /// A Lumen kernel is forced: CLBlast was not built, the forced kernel passed.
        case clblastSkipped
        case failed(maxError: Float)
    }

    public let settings: Settings
    private unowned let device: Device
    private let checkLock = NSLock()
    private let choicesLock = NSLock()
    private var outcome: CheckOutcome?
    private var choices: [String: String]?
    private var choicesFile: URL?
    private var announcedTiming = false
    /// The tuned CLBlast parameters handed to CLBlast, once applied.
    public private(set) var clblastTuning: ClblastTuning?
    /// Set before the first GEMM to keep CLBlast on its defaults until
    /// `applyClblastTuning` is called (bench-kernels measures both).
    public var defersClblastTuning = false

    private init(device: Device, settings: Settings) {
        self.device = device
        self.settings = settings
    }

    /// The planner of `device`: the one attached with `attach`, else one with default
    /// settings (auto), made now.
    public static func of(_ device: Device) -> GemmPlanner {
        device.attachment { GemmPlanner(device: device, settings: Settings()) }
    }

    /// Gives `device` a planner with `settings`; call right after opening the device.
    @discardableResult
    public static func attach(to device: Device, settings: Settings) -> GemmPlanner {
        device.attachment { GemmPlanner(device: device, settings: settings) }
    }

    // MARK: - The self-check

    /// Throws `LumenError.gemmSelfCheckFailed` when neither CLBlast nor Lumen's own GEMM
    /// is right on the device. Runs the check once, first handing CLBlast its stored tuning.
    public func requireCheckedGemm() throws {
        checkLock.lock()
        defer { checkLock.unlock() }
        if outcome == nil {
            let started = Date()
            let skipsClblast = settings.forced.map { $0 != .clblast } ?? false
            if !defersClblastTuning && !skipsClblast { try applyClblastTuning() }
            let result = try device.measuringFirstUse {
                try GemmSelfCheck.run(on: device, failClblast: settings.failClblastCheck, forced: settings.forced)
            }
            outcome = result
            let seconds = Date().timeIntervalSince(started)
            if seconds > 2 {
                device.options.reporter.note(String(format: "compiled and checked CLBlast's GEMM kernels on %@ in %.0f s (first use; cached afterwards)", device.info.name, seconds))
            }
            if case .clblastFailed(let maxError) = result {
                device.options.reporter.warning("CLBlast computed a wrong SGEMM on \(device.info.name) (max error \(maxError)); Lumen's own GEMM passed the same check and serves this device")
            }
        }
        if case .failed(let maxError) = outcome! {
            throw LumenError.gemmSelfCheckFailed(device: device.info.name, maxError: maxError)
        }
    }

    /// Whether CLBlast was left unbuilt because a Lumen kernel is forced (after `requireCheckedGemm`).
    public var clblastSkipped: Bool {
        checkLock.lock()
        defer { checkLock.unlock() }
        if case .clblastSkipped = outcome { return true }
        return false
    }

    /// Whether CLBlast may serve GEMMs (after `requireCheckedGemm`).
    public var clblastUsable: Bool {
        checkLock.lock()
        defer { checkLock.unlock() }
        if case .clblastFailed = outcome { return false }
        return true
    }

    /// Hands the stored CLBlast tuning for the device (`lumen tune-clblast`) to CLBlast,
    /// once; returns it, or nil when none is stored.
    @discardableResult
    public func applyClblastTuning() throws -> ClblastTuning? {
        if clblastTuning == nil, let stored = ClblastTuning.stored(for: device.info, in: device.options.cacheDirectory) {
            try stored.apply(on: device)
            clblastTuning = stored
        }
        return clblastTuning
    }

    // MARK: - Per-shape decisions

    /// The backend for a GEMM of `shape`: the forced one (where it can compute the shape),
    /// the remembered one, or the fastest of the candidates for the device, timed with
    /// `run` (into scratch output) and remembered.
    func backend(for shape: GemmShape, run: (GemmBackend) throws -> Void) throws -> GemmBackend {
        try requireCheckedGemm()
        let clblast = clblastUsable
        if let forced = settings.forced, forced.supports(transposeA: shape.transposeA, transposeB: shape.transposeB) {
            guard forced != .clblast || clblast else {
                throw LumenError.gemmSelfCheckFailed(device: device.info.name, maxError: .infinity)
            }
            return forced
        }
        let candidates = GemmBackend.allCases.filter { backend in
            backend.supports(transposeA: shape.transposeA, transposeB: shape.transposeB)
                && (backend.tile?.suits(device) ?? clblast)
        }
        return try decision(for: shape, among: candidates, run: run)
    }

    /// The remembered decision for `shape` among `candidates`, or the fastest of them (each
    /// run once to warm up, then timed in up to three rounds, its best run counting: a
    /// choice is remembered for good, so one noisy run must not make it; a candidate over
    /// 1.5 times the fastest in the first round is not timed again), remembered unless
    /// another process stored one first, in which case that one is used.
    func decision<Decision: PlannedDecision>(for shape: some PlannedShape, among candidates: [Decision],
                                             run: (Decision) throws -> Void) throws -> Decision {
        try requireCheckedGemm()
        let name = entryName(shape)
        if let stored = storedChoice(name).flatMap(Decision.init(storedName:)),
           candidates.contains(where: { $0.storedName == stored.storedName }) {
            return stored
        }
        if !announcedTiming {
            announcedTiming = true
            device.options.reporter.note("timing GEMM kernels for new shapes on \(device.info.name) (first use; remembered afterwards)")
        }
        // Timing a plan may time the GEMMs inside it: first-use time is counted once.
        let best = try device.measuringFirstUse { () throws -> (decision: Decision, seconds: Double)? in
            var best: (decision: Decision, seconds: Double)?
            for candidate in candidates {
                try run(candidate)
                try device.synchronize()
            }
            // Rounds alternate the candidates, so a machine that slows down for a while
            // slows each of them alike. After the first, only candidates within half again
            // of the fastest run stay: noise does not make one that slow the fastest, and
            // timing the slow ones twice more was most of a new shape's cost.
            var standing = candidates
            for round in 0..<3 {
                var seconds: [Double] = []
                for candidate in standing {
                    let start = Date()
                    try run(candidate)
                    try device.synchronize()
                    seconds.append(Date().timeIntervalSince(start))
                    if best == nil || seconds.last! < best!.seconds { best = (candidate, seconds.last!) }
                }
                if round == 0, let fastest = best?.seconds {
                    standing = zip(standing, seconds).filter { $0.1 <= fastest * 1.5 }.map(\.0)
                }
            }
            return best
        }
        guard let best else { throw LumenError.shapeMismatch("no candidate to time for \(shape.text) on \(device.info.name)") }
        let standing = remember(best.decision.storedName, as: name)
        return candidates.first { $0.storedName == standing } ?? best.decision
    }

    /// The remembered decision for `shape`, or nil when it has not been timed here.
    func remembered<Decision: PlannedDecision>(_ type: Decision.Type, for shape: some PlannedShape) throws -> Decision? {
        try requireCheckedGemm()
        return storedChoice(entryName(shape)).flatMap(Decision.init(storedName:))
    }

    /// The remembered decision's stored name for `shape`, or nil (for tests and benchmarks).
    func storedChoice(for shape: some PlannedShape) -> String? { storedChoice(entryName(shape)) }

    /// The name `shape` is stored under: decisions timed without CLBlast (it failed its
    /// self-check here) are kept apart from those made with it.
    private func entryName(_ shape: some PlannedShape) -> String {
        clblastUsable ? shape.text : "without-clblast " + shape.text
    }

    /// The choices file: named by the device, `gemm.cl`, `winograd.cl` and `conv.cl`, the CLBlast tuning in force
    /// (which changes CLBlast's speed) and the kernel family, so any changing is timed afresh.
    func choicesFileURL() -> URL {
        choicesLock.lock()
        defer { choicesLock.unlock() }
        return unlockedChoicesFileURL()
    }

    private func unlockedChoicesFileURL() -> URL {
        if let choicesFile { return choicesFile }
        let url = ProgramCache.deviceFileURL("gemm-choices", for: device.info, in: device.options.cacheDirectory,
                                             // The candidates too: choices made before a tile or plan existed (or applied) would never time it.
                                             keyedAlsoBy: ["gemm", "winograd", "conv"].map { device.options.kernelSources[$0] ?? EmbeddedKernels.sources[$0] ?? "" }
                                                + [clblastTuning?.fingerprint ?? "",
                                                   (GemmBackend.allCases.map(\.name) + ConvOps.FilterGradientPlan.allCases.map(\.storedName)
                                                    + ConvolutionPlan.allCases.map(\.storedName)).joined(separator: ",") + " direct-any-window"]
                                                + (device.options.kernelStyle.map { ["kernels " + $0.rawValue] } ?? []))
        choicesFile = url
        return url
    }

    private func storedChoice(_ name: String) -> String? {
        choicesLock.lock()
        defer { choicesLock.unlock() }
        if choices == nil {
            choices = (try? JSONDecoder().decode([String: String].self, from: Data(contentsOf: unlockedChoicesFileURL()))) ?? [:]
        }
        return choices?[name]
    }

    /// Stores `value` under `name` unless another process stored a choice for it first,
    /// and returns the choice that stands. The file is re-read and merged under a lock,
    /// so one process never erases another's entries. An unwritable cache folder keeps
    /// the choice for this process only.
    @discardableResult
    func remember(_ value: String, as name: String) -> String {
        choicesLock.lock()
        defer { choicesLock.unlock() }
        let merged = try? AtomicFile.update(unlockedChoicesFileURL()) { data -> (data: Data, result: [String: String]) in
            var stored = data.flatMap { try? JSONDecoder().decode([String: String].self, from: $0) } ?? [:]
            if stored[name] == nil { stored[name] = value }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            return (try encoder.encode(stored), stored)
        }
        choices = (choices ?? [:]).merging(merged ?? [name: value]) { _, stored in stored }
        return choices?[name] ?? value
    }
}
