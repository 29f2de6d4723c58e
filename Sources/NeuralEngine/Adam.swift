import Foundation

/// Adam (Kingma & Ba) with optional decoupled weight decay (AdamW, Loshchilov & Hutter), written
/// as PyTorch's single-tensor implementation so one step matches it to rounding.
///
/// Moments live in two arenas laid out like the parameter arena. Each parameter keeps its own
/// step count, as PyTorch does, so a group that was frozen for a while resumes with the right
/// bias correction. Frozen groups and buffers are never touched: their values, moments and
/// step counts stay bit-identical.
public final class Adam {
  public let store: ParameterStore
  public var learningRate: Float
  public var beta1: Float
  public var beta2: Float
  public var epsilon: Float
  /// Decoupled weight decay: each step multiplies a parameter by (1 − lr·decay) first.
  public var weightDecay: Float
  /// Names of parameters excluded from weight decay (e.g. biases, norms, position embeddings).
  public var noDecay: Set<String> = []

  private let m: TensorStorage
  private let v: TensorStorage
  private var steps: [Int]

  public init(
    _ store: ParameterStore, learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
    epsilon: Float = 1e-8, weightDecay: Float = 0
  ) {
    precondition(store.isFinalized, "Adam needs a finalized ParameterStore")
    self.store = store
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
    let cap = store.valueStorage.capacity
    m = TensorStorage(capacity: cap)
    v = TensorStorage(capacity: cap)
    steps = [Int](repeating: 0, count: store.parameters.count)
  }

  /// First moment of `p` (a view).
  public func firstMoment(_ p: Parameter) -> Tensor { Tensor(shape: p.shape, storage: m, offset: p.offset) }
  /// Second moment of `p` (a view).
  public func secondMoment(_ p: Parameter) -> Tensor { Tensor(shape: p.shape, storage: v, offset: p.offset) }

  /// Steps taken by `p`.
  public func stepCount(_ p: Parameter) -> Int {
    steps[store.parameters.firstIndex { $0 === p }!]
  }

  /// Sets the step count of `p` (for a checkpoint that records one step for all parameters, as
  /// PyTorch-written ones do, instead of `adam.steps`).
  public func setStepCount(_ count: Int, for p: Parameter) {
    precondition(count >= 0, "negative Adam step count")
    steps[store.parameters.firstIndex { $0 === p }!] = count
  }

  /// Applies one update to every parameter that requires a gradient.
  public func step() {
    defer { store.touch() }
    for (idx, p) in store.parameters.enumerated() where p.requiresGrad {
      steps[idx] += 1
      let t = steps[idx]
      let lr = learningRate
      let b1 = beta1
      let b2 = beta2
      let eps = epsilon
      let bc1 = 1 - Float(pow(Double(b1), Double(t)))
      let bc2 = 1 - Float(pow(Double(b2), Double(t)))
      let stepSize = lr / bc1
      let bc2Sqrt = bc2.squareRoot()
      let decay: Float = noDecay.contains(p.name) ? 1 : 1 - lr * weightDecay
      let w = p.value.data
      let g = p.grad.data
      let mm = m.base + p.offset
      let vv = v.base + p.offset
      let work = { (range: Range<Int>) in
        for i in range {
          if decay != 1 { w[i] *= decay }
          let gi = g[i]
          mm[i] += (gi - mm[i]) * (1 - b1)
          vv[i] = vv[i] * b2 + (1 - b2) * gi * gi
          let denom = vv[i].squareRoot() / bc2Sqrt + eps
          w[i] += -stepSize * (mm[i] / denom)
        }
      }
      if p.count > 1 << 16 {
        parallelChunks(p.count, work)
      } else {
        work(0..<p.count)
      }
    }
  }

  /// The optimiser state for a checkpoint: moments as tensors named `adam.m.<name>` and
  /// `adam.v.<name>`, step counts in the metadata under `adam.steps` (JSON object).
  public func state() -> (tensors: [(String, Tensor)], metadata: [String: String]) {
    var tensors: [(String, Tensor)] = []
    var stepMap: [String: Int] = [:]
    for (idx, p) in store.parameters.enumerated() where p.kind == .trainable {
      tensors.append(("adam.m." + p.name, firstMoment(p)))
      tensors.append(("adam.v." + p.name, secondMoment(p)))
      stepMap[p.name] = steps[idx]
    }
    let json = stepMap.keys.sorted().map { "\"\(jsonEscape($0))\":\(stepMap[$0]!)" }.joined(separator: ",")
    return (
      tensors,
      [
        "adam.steps": "{" + json + "}", "adam.lr": "\(learningRate)", "adam.beta1": "\(beta1)",
        "adam.beta2": "\(beta2)", "adam.eps": "\(epsilon)", "adam.weight_decay": "\(weightDecay)",
      ]
    )
  }

  /// Restores moments and step counts saved by `state()`. Parameters absent from the file
  /// (e.g. a newly added task) start fresh.
  public func restore(from file: SafeTensorsFile) throws(SafeTensorsError) {
    var stepMap: [String: Int] = [:]
    if let json = file.metadata["adam.steps"] {
      stepMap = try parseStepMap(json, path: file.path)
    }
    for (idx, p) in store.parameters.enumerated() where p.kind == .trainable {
      guard let mt = file.entry(named: "adam.m." + p.name), let vt = file.entry(named: "adam.v." + p.name)
      else { continue }
      try file.read(mt, into: firstMoment(p))
      try file.read(vt, into: secondMoment(p))
      steps[idx] = stepMap[p.name] ?? 0
    }
  }
}

/// Parses `{"name": steps, ...}`.
private func parseStepMap(_ json: String, path: String) throws(SafeTensorsError) -> [String: Int] {
  guard let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
    throw SafeTensorsError(path: path, reason: .badHeader("__metadata__ adam.steps is not a JSON object"))
  }
  var out: [String: Int] = [:]
  for (k, v) in obj {
    guard let n = v as? NSNumber, n.doubleValue >= 0, n.doubleValue == n.doubleValue.rounded() else {
      throw SafeTensorsError(
        path: path, tensor: k, reason: .badHeader("adam.steps value is not a step count"))
    }
    out[k] = n.intValue
  }
  return out
}

func jsonEscape(_ s: String) -> String {
  var out = ""
  for ch in s.unicodeScalars {
    switch ch {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    default:
      if ch.value < 0x20 {
        out += String(format: "\\u%04x", ch.value)
      } else {
        out.unicodeScalars.append(ch)
      }
    }
  }
  return out
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
