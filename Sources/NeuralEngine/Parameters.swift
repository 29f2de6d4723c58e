/// How a parameter's first values are drawn. The formulas are PyTorch's defaults for the
/// matching layers, so a network here starts like the reference network does.
public enum Initializer: Sendable, Equatable {
  case zeros
  case ones
  case constant(Float)
  /// Uniform on [-bound, bound] (PyTorch's Conv2d/Linear default is bound = 1/sqrt(fan_in)).
  case uniform(bound: Float)
  case normal(std: Float)
  /// Normal, redrawn outside [-2 std, 2 std].
  case truncatedNormal(std: Float)
  /// Glorot uniform: bound = sqrt(6 / (fanIn + fanOut)).
  case xavierUniform(fanIn: Int, fanOut: Int)
  /// Given values, row-major.
  case values([Float])
}

/// Whether the optimiser updates a parameter (weights) or the layer does (running statistics).
public enum ParameterKind: String, Sendable {
  case trainable
  case buffer
}

/// One named tensor in the parameter arena, with its gradient in the gradient arena.
///
/// Names are the checkpoint keys (`s1.conv1.weight`); the group is the unit of freezing
/// (`shared`, `cls`, `seg`, ...).
public final class Parameter: @unchecked Sendable {
  public let name: String
  public let shape: [Int]
  public let group: String
  public let kind: ParameterKind
  public let initializer: Initializer
  /// Offset of the first element in both arenas.
  public let offset: Int
  public let count: Int
  /// Shared with the store (not the store itself, so layers may outlive it without a cycle).
  let arena: Arena

  init(
    name: String, shape: [Int], group: String, kind: ParameterKind, initializer: Initializer,
    offset: Int, arena: Arena
  ) {
    self.name = name
    self.shape = shape
    self.group = group
    self.kind = kind
    self.initializer = initializer
    self.offset = offset
    self.count = Tensor.count(of: shape)
    self.arena = arena
  }

  /// The values (a view into the parameter arena).
  public var value: Tensor {
    Tensor(shape: shape, storage: arena.valueStorage, offset: offset)
  }

  /// The gradient (a view into the gradient arena). Layers accumulate into it.
  public var grad: Tensor {
    Tensor(shape: shape, storage: arena.gradStorage, offset: offset)
  }

  /// The store's value version (see `ParameterStore.version`).
  public var version: UInt64 { arena.version }

  /// True when backward should compute this parameter's gradient: trainable and its group is
  /// not frozen.
  public var requiresGrad: Bool {
    kind == .trainable && !arena.frozen.contains(group)
  }
}

/// The two arenas and the frozen groups, shared by a store and its parameters.
final class Arena: @unchecked Sendable {
  var values: TensorStorage?
  var grads: TensorStorage?
  var frozen: Set<String> = []
  /// Bumped whenever values change through the engine (see `ParameterStore.version`).
  var version: UInt64 = 0
  /// Per-thread scratch shared by the layers of this store's network.
  let scratch = SharedScratch()

  var valueStorage: TensorStorage {
    guard let values else {
      preconditionFailure("ParameterStore.finalize() must be called before parameters are used")
    }
    return values
  }

  var gradStorage: TensorStorage {
    guard let grads else {
      preconditionFailure("ParameterStore.finalize() must be called before parameters are used")
    }
    return grads
  }
}

/// All parameters of a network in one arena, and their gradients in another (llm.c style).
///
/// Layers register their parameters while the network is built; `finalize()` then allocates
/// both arenas at once and draws the initial values, each parameter from its own stream derived
/// from the store's seed and the parameter's name, so values do not depend on creation order.
public final class ParameterStore: @unchecked Sendable {
  public let seed: UInt64
  public private(set) var parameters: [Parameter] = []
  private var byName: [String: Parameter] = [:]
  private var total = 0
  let arena = Arena()

  public init(seed: UInt64 = 0) {
    self.seed = seed
  }

  var valueStorage: TensorStorage { arena.valueStorage }
  var gradStorage: TensorStorage { arena.gradStorage }

  public var isFinalized: Bool { arena.values != nil }

  /// Changes whenever the engine changes parameter values (finalize, initialize, an optimiser
  /// step, a checkpoint load, `touch()`). Layers that cache something derived from their
  /// weights (e.g. Winograd-transformed kernels for inference) recompute it when it moves.
  /// Code that writes `Parameter.value` directly must call `touch()` afterwards.
  public var version: UInt64 { arena.version }

  /// Marks the values as changed.
  public func touch() { arena.version &+= 1 }

  /// Registers a parameter. Names must be unique.
  @discardableResult
  public func add(
    _ name: String, shape: [Int], group: String, initializer: Initializer,
    kind: ParameterKind = .trainable
  ) -> Parameter {
    precondition(!isFinalized, "cannot add parameter \(name) after finalize()")
    precondition(byName[name] == nil, "duplicate parameter name \(name)")
    let p = Parameter(
      name: name, shape: shape, group: group, kind: kind, initializer: initializer, offset: total,
      arena: arena)
    // Keep every parameter 16-float (64-byte) aligned in the arena.
    total += (p.count + 15) / 16 * 16
    parameters.append(p)
    byName[name] = p
    return p
  }

  /// Allocates the arenas and draws the initial values.
  public func finalize() {
    precondition(!isFinalized, "finalize() called twice")
    arena.values = TensorStorage(capacity: total)
    arena.grads = TensorStorage(capacity: total)
    touch()
    for p in parameters { initialize(p) }
  }

  /// Draws `p`'s initial values again (e.g. to reset a task's head).
  public func initialize(_ p: Parameter) {
    touch()
    let v = p.value
    var rng = SeededGenerator(seed: seed, stream: SeededGenerator.hash(p.name))
    switch p.initializer {
    case .zeros: v.fill(0)
    case .ones: v.fill(1)
    case .constant(let c): v.fill(c)
    case .uniform(let b):
      for i in 0..<p.count { v[i] = Float((rng.nextUnitDouble() * 2 - 1) * Double(b)) }
    case .normal(let std):
      for i in 0..<p.count { v[i] = Float(rng.nextNormal() * Double(std)) }
    case .truncatedNormal(let std):
      for i in 0..<p.count {
        var z = rng.nextNormal()
        while abs(z) > 2 { z = rng.nextNormal() }
        v[i] = Float(z * Double(std))
      }
    case .xavierUniform(let fi, let fo):
      let b = (6.0 / Double(fi + fo)).squareRoot()
      for i in 0..<p.count { v[i] = Float((rng.nextUnitDouble() * 2 - 1) * b) }
    case .values(let vals):
      precondition(vals.count == p.count, "initial values for \(p.name): \(vals.count) ≠ \(p.count)")
      for i in 0..<p.count { v[i] = vals[i] }
    }
  }

  public func parameter(named name: String) -> Parameter? { byName[name] }

  public subscript(name: String) -> Parameter {
    guard let p = byName[name] else { preconditionFailure("no parameter named \(name)") }
    return p
  }

  /// Group names, in order of first registration.
  public var groups: [String] {
    var seen: Set<String> = []
    var out: [String] = []
    for p in parameters where !seen.contains(p.group) {
      seen.insert(p.group)
      out.append(p.group)
    }
    return out
  }

  public func parameters(inGroup group: String) -> [Parameter] {
    parameters.filter { $0.group == group }
  }

  /// Freezes a group: its layers compute no gradient for it and the optimiser leaves it alone.
  public func freeze(_ group: String) { arena.frozen.insert(group) }
  public func unfreeze(_ group: String) { arena.frozen.remove(group) }
  public func isFrozen(_ group: String) -> Bool { arena.frozen.contains(group) }
  public var frozen: Set<String> { arena.frozen }

  /// Zeroes the gradients of every parameter that requires one (frozen ones are never written).
  public func zeroGradients() {
    for p in parameters where p.requiresGrad { p.grad.fill(0) }
  }

  /// Number of trainable scalars (frozen or not).
  public var trainableCount: Int {
    parameters.filter { $0.kind == .trainable }.reduce(0) { $0 + $1.count }
  }

  /// Bytes of both arenas.
  public var arenaBytes: Int { 2 * total * 4 }
}
