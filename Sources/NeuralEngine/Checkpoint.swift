/// Saving and loading a network's parameters (and optionally Adam's state) as safetensors.
///
/// Tensor names are the parameter names; buffers (batch-norm running statistics) are saved
/// too. The caller's configuration goes in `__metadata__`. Loading checks every tensor first
/// and only then copies, so a bad file leaves the network exactly as it was.
public enum Checkpoint {
  /// Metadata key recording the engine's checkpoint layout version.
  public static let formatKey = "neuralengine.format"
  public static let formatVersion = "1"

  /// Writes parameters (and Adam's moments and steps when `optimizer` is given) atomically.
  public static func save(
    _ store: ParameterStore, optimizer: Adam? = nil, metadata: [String: String] = [:], to path: String
  ) throws(SafeTensorsError) {
    var tensors: [(String, Tensor)] = store.parameters.map { ($0.name, $0.value) }
    var meta = metadata
    meta[formatKey] = formatVersion
    if let optimizer {
      let st = optimizer.state()
      tensors += st.tensors
      for (k, v) in st.metadata { meta[k] = v }
    }
    try SafeTensorsWriter.write(tensors, metadata: meta, to: path)
  }

  /// What `load` did.
  public struct LoadReport: Sendable {
    public var metadata: [String: String]
    /// Parameters that took values from the file.
    public var loaded: [String]
    /// Parameters the file did not have (kept their current values); only with `allowMissing`.
    public var missing: [String]
    /// Tensors in the file that no parameter (or Adam state) uses.
    public var unused: [String]
  }

  /// Loads parameter values from `path`. Only parameters in `groups` are loaded when given.
  /// Every tensor must be present (unless `allowMissing`: e.g. a new task's column) with the
  /// parameter's shape and a readable dtype; otherwise nothing is changed and the error names
  /// the tensor.
  @discardableResult
  public static func load(
    _ store: ParameterStore, from path: String, optimizer: Adam? = nil, groups: Set<String>? = nil,
    allowMissing: Bool = false
  ) throws(SafeTensorsError) -> LoadReport {
    let file = try SafeTensorsFile.read(path: path)
    return try load(store, from: file, optimizer: optimizer, groups: groups, allowMissing: allowMissing)
  }

  @discardableResult
  public static func load(
    _ store: ParameterStore, from file: SafeTensorsFile, optimizer: Adam? = nil, groups: Set<String>? = nil,
    allowMissing: Bool = false
  ) throws(SafeTensorsError) -> LoadReport {
    var plan: [(Parameter, SafeTensorsEntry)] = []
    var missing: [String] = []
    for p in store.parameters where groups?.contains(p.group) ?? true {
      guard let e = file.entry(named: p.name) else {
        if allowMissing {
          missing.append(p.name)
          continue
        }
        throw SafeTensorsError(path: file.path, tensor: p.name, reason: .missing)
      }
      guard e.shape == p.shape else {
        throw SafeTensorsError(
          path: file.path, tensor: p.name, reason: .wrongShape(expected: p.shape, found: e.shape))
      }
      guard e.dtype.isReadable else {
        throw SafeTensorsError(path: file.path, tensor: p.name, reason: .unsupportedDType(e.dtype.rawValue))
      }
      plan.append((p, e))
    }
    for (p, e) in plan { try file.read(e, into: p.value) }
    store.touch()
    if let optimizer { try optimizer.restore(from: file) }
    let used = Set(store.parameters.map(\.name))
    let unused = file.names.filter { !used.contains($0) && !$0.hasPrefix("adam.") }
    return LoadReport(
      metadata: file.metadata, loaded: plan.map { $0.0.name }, missing: missing, unused: unused)
  }
}
