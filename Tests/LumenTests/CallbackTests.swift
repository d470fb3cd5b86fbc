import Foundation
import Testing
@testable import Lumen

private struct KerasReplay: Decodable {
    struct Epoch: Decodable { let learning_rate: Double; let stop: Bool; let saved: Bool }
    struct Scenario: Decodable, CustomTestStringConvertible, Sendable {
        let name: String, kind: String
        let args: [String: Double?]
        let epochs: [Epoch]
        let best_epoch: Int?
        var testDescription: String { name }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            name = try c.decode(String.self, forKey: .name)
            kind = try c.decode(String.self, forKey: .kind)
            epochs = try c.decode([Epoch].self, forKey: .epochs)
            best_epoch = try c.decodeIfPresent(Int.self, forKey: .best_epoch)
            // args mix strings (monitor, mode), numbers and booleans: keep numbers, and
            // turn the rest into markers the test reads back.
            let raw = try c.decode([String: AnyValue].self, forKey: .args)
            var args: [String: Double?] = [:]
            for (key, value) in raw { args[key] = value.number }
            self.args = args
            monitor = raw["monitor"]?.text ?? "val_loss"
            mode = raw["mode"]?.text
            flags = Set(raw.compactMap { $0.value.flag == true ? $0.key : nil })
        }

        let monitor: String
        let mode: String?
        let flags: Set<String>
        enum Keys: String, CodingKey { case name, kind, args, epochs, best_epoch }
    }

    struct AnyValue: Decodable {
        var number: Double?, text: String?, flag: Bool?
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { flag = b } else if let d = try? c.decode(Double.self) { number = d } else { text = try c.decode(String.self) }
        }
    }

    let val_loss: [Double]
    let val_accuracy: [Double]
    let scenarios: [Scenario]
}

private let replay = try! JSONDecoder().decode(KerasReplay.self, from: Data(contentsOf: URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().appendingPathComponent("Fixtures/keras/callbacks.json")))

/// The callbacks replay metric sequences that Keras' own callbacks saw
/// (Scripts/make-keras-fixtures.py) and must drop the learning rate, stop, and write
/// checkpoints at exactly the same epochs.
@Suite struct CallbackTests {
    private func context(saved: SavedLog) throws -> TrainingContext {
        let spec = ModelSpec(name: "tiny", inputShape: [1, 1, 2], layers: [LayerSpec(type: "Flatten"), {
            var d = LayerSpec(type: "Dense"); d.units = 2; d.activation = .softmax; return d }()])
        return TrainingContext(model: try Model(spec: spec, device: testDevice), optimizer: Adam(learningRate: 1e-3),
                               saveModel: { saved.urls.append($0) }, report: { _ in })
    }

    @Test(arguments: replay.scenarios)
    fileprivate func callbackMatchesKeras(_ scenario: KerasReplay.Scenario) throws {
        let saved = SavedLog()
        let context = try context(saved: saved)
        let a = scenario.args
        let mode = scenario.mode.flatMap { Monitor.Mode(rawValue: $0) } ?? .auto
        let callback: Callback
        switch scenario.kind {
        case "ReduceLROnPlateau":
            callback = try ReduceLROnPlateau(monitor: Monitor(scenario.monitor, mode: mode, minDelta: (a["min_delta"] ?? nil) ?? 1e-4),
                                             factor: (a["factor"] ?? nil) ?? 0.1, patience: Int((a["patience"] ?? nil) ?? 10),
                                             cooldown: Int((a["cooldown"] ?? nil) ?? 0), minLR: (a["min_lr"] ?? nil) ?? 0)
        case "EarlyStopping":
            callback = try EarlyStopping(monitor: Monitor(scenario.monitor, mode: mode, minDelta: (a["min_delta"] ?? nil) ?? 0),
                                         patience: Int((a["patience"] ?? nil) ?? 0), baseline: a["baseline"] ?? nil,
                                         restoreBestWeights: scenario.flags.contains("restore_best_weights"),
                                         startFromEpoch: Int((a["start_from_epoch"] ?? nil) ?? 0))
        default:
            callback = try ModelCheckpoint(filepath: "/tmp/lumen-callback-test/{epoch}.safetensors",
                                           monitor: Monitor(scenario.monitor, mode: mode),
                                           saveBestOnly: scenario.flags.contains("save_best_only"),
                                           initialValueThreshold: a["initial_value_threshold"] ?? nil)
        }
        try callback.trainBegan(context)
        for (epoch, expected) in scenario.epochs.enumerated() {
            let before = saved.urls.count
            let logs = ["loss": replay.val_loss[epoch] + 0.1, "val_loss": replay.val_loss[epoch], "val_accuracy": replay.val_accuracy[epoch]]
            try callback.epochEnded(epoch, logs: logs, context)
            let lr = Double(context.optimizer.learningRate)
            #expect(abs(lr - expected.learning_rate) <= 1e-6 * expected.learning_rate, "\(scenario.name) epoch \(epoch + 1): lr \(lr) vs Keras \(expected.learning_rate)")
            #expect(context.stopTraining == expected.stop, "\(scenario.name) epoch \(epoch + 1): stop")
            #expect((saved.urls.count > before) == expected.saved, "\(scenario.name) epoch \(epoch + 1): checkpoint written")
        }
        #expect(context.stopTraining == (scenario.epochs.last?.stop ?? false))
        if let early = callback as? EarlyStopping, let best = scenario.best_epoch {
            #expect(early.bestEpoch == best, "\(scenario.name): best epoch")
        }
        if scenario.kind == "ModelCheckpoint" {
            #expect(saved.urls.allSatisfy { $0.lastPathComponent.hasSuffix(".safetensors") })
        }
    }

    @Test func restoreBestWeightsPutsBackTheBestEpoch() throws {
        let saved = SavedLog()
        let context = try context(saved: saved)
        let stopping = try EarlyStopping(monitor: Monitor("val_loss"), patience: 1, restoreBestWeights: true)
        let weight = context.model.parameters[0]
        var valuesAtEpoch: [[Float]] = []
        for (epoch, loss) in [0.5, 0.4, 0.45, 0.6].enumerated() where !context.stopTraining {
            try weight.value.write([Float](repeating: Float(epoch), count: weight.value.count))
            valuesAtEpoch.append(try weight.value.toArray())
            try stopping.epochEnded(epoch, logs: ["val_loss": loss], context)
        }
        #expect(context.stopTraining)
        try stopping.trainEnded(context)
        #expect(try weight.value.toArray() == valuesAtEpoch[1])
    }

    @Test func unknownMetricDirectionNeedsAMode() {
        #expect(throws: LumenError.self) { try EarlyStopping(monitor: Monitor("val_f1")) }
        #expect(throws: Never.self) { try EarlyStopping(monitor: Monitor("val_f1", mode: .max)) }
        #expect((try? Monitor("val_auc").minimises()) == false)
        #expect((try? Monitor("loss").minimises()) == true)
    }

    @Test func filenameTemplatesFormatLikePython() throws {
        let logs = ["val_loss": 0.123456, "val_accuracy": 0.9]
        #expect(try FilenameTemplate.format("w-{epoch:02d}-{val_loss:.2f}.safetensors", epoch: 3, logs: logs) == "w-03-0.12.safetensors")
        #expect(try FilenameTemplate.format("{epoch}.safetensors", epoch: 12, logs: logs) == "12.safetensors")
        #expect(try FilenameTemplate.format("best-{val_accuracy:.4f}", epoch: 1, logs: logs) == "best-0.9000")
        #expect(throws: LumenError.self) { try FilenameTemplate.format("{val_auc}.safetensors", epoch: 1, logs: logs) }
    }

    @Test func classWeightsBalancedFollowsSklearn() throws {
        // The chest X-ray training set: 1,341 normal, 3,875 pneumonia.
        let w = try ClassWeightSetting.balanced.weights(classes: ["NORMAL", "PNEUMONIA"], counts: [1341, 3875])
        #expect(abs(w[0] - 5216.0 / (2 * 1341)) < 1e-5 && abs(w[1] - 5216.0 / (2 * 3875)) < 1e-5)
        #expect(try ClassWeightSetting(flag: "NORMAL=2.5").weights(classes: ["NORMAL", "PNEUMONIA"], counts: [1, 1]) == [2.5, 1])
        #expect(try ClassWeightSetting(flag: "1,3").weights(classes: ["a", "b"], counts: [1, 1]) == [1, 3])
        #expect(throws: LumenError.self) { try ClassWeightSetting(flag: "1,2,3").weights(classes: ["a", "b"], counts: [1, 1]) }
        #expect(throws: LumenError.self) { try ClassWeightSetting(flag: "CAT=1").weights(classes: ["a", "b"], counts: [1, 1]) }
    }

    @Test func aucIsTheMannWhitneyStatistic() {
        #expect(Metrics.rocAUC(scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1]) == 0.75)
        #expect(Metrics.rocAUC(scores: [0.5, 0.5], labels: [0, 1]) == 0.5)
        #expect(Metrics.rocAUC(scores: [0.5, 0.7], labels: [1, 1]) == nil)
    }
}

final class SavedLog: @unchecked Sendable {
    var urls: [URL] = []
}
