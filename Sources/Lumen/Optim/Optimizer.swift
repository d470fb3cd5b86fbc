/// Updates trainable parameters from their gradients, on the device.
///
/// The learning rate is a plain property, read at every step, so callbacks such as
/// ReduceLROnPlateau can change it between steps.
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    /// Steps taken so far.
    var iterations: Int { get }
    /// Applies one update to every trainable parameter that has a gradient.
    func step(_ parameters: [Parameter]) throws
    /// The optimizer's per-parameter state, named `<parameter>.<slot>`, for checkpoints.
    func stateTensors() -> [(name: String, tensor: Tensor)]
    /// Puts back state saved by `stateTensors` and the step count, for `--resume`.
    func restore(_ state: [String: HostTensor], iterations: Int, on device: Device) throws
}

/// SGD as in Keras: momentum, optional Nesterov, decoupled weight decay.
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    public private(set) var iterations = 0
    private var velocity: [String: Tensor] = [:]

    public init(learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
    }

    public func step(_ parameters: [Parameter]) throws {
        for parameter in parameters where parameter.trainable {
            guard let gradient = parameter.gradient else { continue }
            let value = parameter.value
            let slot = try velocity[parameter.name] ?? Tensor.zeros(on: value.device, shape: value.shape)
            velocity[parameter.name] = slot
            try OptimOps.sgdUpdate(value, gradient: gradient, velocity: slot, learningRate: learningRate, momentum: momentum,
                                   nesterov: nesterov, weightDecay: weightDecay)
        }
        iterations += 1
    }

    public func stateTensors() -> [(name: String, tensor: Tensor)] {
        velocity.keys.sorted().map { ("\($0).momentum", velocity[$0]!) }
    }

    public func restore(_ state: [String: HostTensor], iterations: Int, on device: Device) throws {
        velocity = [:]
        for (key, entry) in state where key.hasSuffix(".momentum") {
            velocity[String(key.dropLast(".momentum".count))] = try Tensor(on: device, shape: entry.shape, values: entry.values)
        }
        self.iterations = iterations
    }
}

/// Adam as in Keras (defaults lr 1e-3, β1 0.9, β2 0.999, ε 1e-7); with a weight decay
/// it is AdamW, the decay decoupled from the gradient.
public final class Adam: Optimizer {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    public let weightDecay: Float
    public private(set) var iterations = 0
    private var moments: [String: (m: Tensor, v: Tensor)] = [:]

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7,
                weightDecay: Float = 0) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// AdamW with Keras' default decay of 0.004.
    public static func adamW(learningRate: Float = 1e-3, weightDecay: Float = 0.004) -> Adam {
        Adam(learningRate: learningRate, weightDecay: weightDecay)
    }

    public func step(_ parameters: [Parameter]) throws {
        let t = Double(iterations + 1)
        let alpha = Double(learningRate) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t))
        for parameter in parameters where parameter.trainable {
            guard let gradient = parameter.gradient else { continue }
            let value = parameter.value
            let slot = try moments[parameter.name]
                ?? (Tensor.zeros(on: value.device, shape: value.shape), Tensor.zeros(on: value.device, shape: value.shape))
            moments[parameter.name] = slot
            try OptimOps.adamUpdate(value, gradient: gradient, m: slot.m, v: slot.v, alpha: Float(alpha),
                                    learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                                    weightDecay: weightDecay)
        }
        iterations += 1
    }

    public func stateTensors() -> [(name: String, tensor: Tensor)] {
        moments.keys.sorted().flatMap { [("\($0).m", moments[$0]!.m), ("\($0).v", moments[$0]!.v)] }
    }

    public func restore(_ state: [String: HostTensor], iterations: Int, on device: Device) throws {
        moments = [:]
        for (key, m) in state where key.hasSuffix(".m") {
            let name = String(key.dropLast(2))
            guard let v = state[name + ".v"] else {
                throw LumenError.shapeMismatch("optimizer state has \(key) but no \(name).v")
            }
            moments[name] = (try Tensor(on: device, shape: m.shape, values: m.values),
                             try Tensor(on: device, shape: v.shape, values: v.values))
        }
        self.iterations = iterations
    }
}

import Foundation
