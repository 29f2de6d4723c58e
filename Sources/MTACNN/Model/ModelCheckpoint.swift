import Foundation
import NeuralEngine

/// Adam's settings and step as the checkpoint's `optimizer` metadata records them
/// (docs/checkpoint-format.md §1).
public struct OptimizerRecord: Codable, Equatable, Sendable {
  public var type = "adam"
  public var lr: Double
  public var beta1: Double
  public var beta2: Double
  public var eps: Double
  public var weightDecay: Double
  public var step: Int

  enum CodingKeys: String, CodingKey {
    case type, lr, beta1, beta2, eps, step
    case weightDecay = "weight_decay"
  }
}

/// The `__metadata__` of an MTA-CNN checkpoint, decoded.
public struct CheckpointMetadata: Sendable {
  public var configuration: ModelConfiguration
  /// The `training` JSON as written (data, seeds, epochs, augmentation, freeze, best epoch, ...).
  public var trainingJSON: String?
  public var optimizer: OptimizerRecord?
  /// The colour-outlier reference (issue 10), when the checkpoint has one.
  public var colourReference: ColourOutlierDetector?
  /// The screening operating point on P(malignant) (issue 17), when one was chosen for it.
  public var operatingPoint: OperatingPoint? = nil
  /// Every metadata string of the file.
  public var raw: [String: String]

  /// A field of the `training` JSON, if present (nil when absent or not JSON).
  public func trainingValue(_ key: String) -> Any? {
    guard let t = trainingJSON,
      let obj = try? JSONSerialization.jsonObject(with: Data(t.utf8)) as? [String: Any]
    else { return nil }
    return obj[key]
  }
}

/// Checkpoint files: the contract of docs/checkpoint-format.md, shared with `tools/torch`.
///
/// Reading checks the format marker, decodes and validates the configuration, builds the network
/// it describes and loads every tensor: a missing tensor, a wrong shape or dtype, or a tensor the
/// network does not have (other than Adam state) is an error that names it, and the network is
/// only returned when everything loaded. Writing is atomic (temporary file, then rename).
public enum ModelCheckpoint {
  public static let format = "blastview.mtacnn"
  public static let formatVersion = "1"

  /// Reads and checks the metadata only.
  public static func metadata(of file: SafeTensorsFile) throws(ModelError) -> CheckpointMetadata {
    let m = file.metadata
    guard m["format"] == format else {
      let found = m["format"].map { "'\($0)'" } ?? "missing"
      throw .badCheckpoint(
        path: file.path,
        reason: "not an MTA-CNN checkpoint (metadata 'format' is \(found), expected '\(format)')")
    }
    guard m["format_version"] == formatVersion else {
      throw .badCheckpoint(
        path: file.path,
        reason:
          "unsupported format_version '\(m["format_version"] ?? "")' (this build reads \(formatVersion))"
      )
    }
    guard let text = m["config"] else {
      throw .badCheckpoint(path: file.path, reason: "metadata has no 'config'")
    }
    let config: ModelConfiguration
    do {
      config = try ModelConfiguration.decode(json: text)
    } catch {
      throw .badCheckpoint(
        path: file.path, reason: "bad 'config' metadata: \(error.message)")
    }
    try checkShapes(config, against: file)
    var opt: OptimizerRecord? = nil
    if let o = m["optimizer"] {
      guard let rec = try? JSONDecoder().decode(OptimizerRecord.self, from: Data(o.utf8)) else {
        throw .badCheckpoint(path: file.path, reason: "bad 'optimizer' metadata")
      }
      opt = rec
    }
    var colour: ColourOutlierDetector? = nil
    if let text = m[ColourReference.metadataKey] {
      guard let d = ColourReference.decode(text) else {
        throw .badCheckpoint(path: file.path, reason: "bad '\(ColourReference.metadataKey)' metadata")
      }
      colour = d
    }
    var point: OperatingPoint? = nil
    if let text = m[OperatingPoint.metadataKey] {
      guard config.hierarchical, let p = OperatingPoint.decode(text) else {
        throw .badCheckpoint(
          path: file.path,
          reason: config.hierarchical
            ? "bad '\(OperatingPoint.metadataKey)' metadata"
            : "'\(OperatingPoint.metadataKey)' metadata on a flat (not hierarchical) model")
      }
      point = p
    }
    var meta = CheckpointMetadata(
      configuration: config, trainingJSON: m["training"], optimizer: opt, colourReference: colour, raw: m)
    meta.operatingPoint = point
    return meta
  }

  /// Rewrites a checkpoint's metadata through `update` (its tensors are copied unchanged),
  /// atomically; the result must still read as a checkpoint.
  public static func rewriteMetadata(
    path: String, _ update: (inout [String: String]) -> Void
  ) throws(ModelError) {
    do {
      let file = try SafeTensorsFile.read(path: path)
      _ = try metadata(of: file)
      var meta = file.metadata
      update(&meta)
      var tensors: [(String, Tensor)] = []
      for e in file.entries {
        let t = Tensor(shape: e.shape)
        try file.read(e, into: t)
        tensors.append((e.name, t))
      }
      try SafeTensorsWriter.write(tensors, metadata: meta, to: path)
    } catch let e as ModelError {
      throw e
    } catch let e as SafeTensorsError {
      throw .safetensors(e)
    } catch {
      throw .badCheckpoint(path: path, reason: "\(error)")
    }
  }

  /// Opens a checkpoint and returns its network with every tensor loaded.
  public static func load(path: String, seed: UInt64 = 0) throws(ModelError) -> (
    MTACNNModel, CheckpointMetadata
  ) {
    let file: SafeTensorsFile
    do {
      file = try SafeTensorsFile.read(path: path)
    } catch {
      throw .safetensors(error)
    }
    let meta = try metadata(of: file)
    let model: MTACNNModel
    do {
      model = try MTACNNModel(configuration: meta.configuration, seed: seed)
    } catch {
      throw .badCheckpoint(path: path, reason: error.description)
    }
    try model.loadValues(from: file)
    return (model, meta)
  }

  /// Checks every size the configuration declares against the tensors the file actually holds,
  /// before any network is built: the tensors are bounded by the file's length, so a
  /// configuration that agrees with them cannot ask for more than the file could describe
  /// (issue 15, item 4). `size` is checked through the positional embedding when the model has
  /// a segmentation head, and by `ModelConfiguration.Bounds` in every case. Every loader goes
  /// through here (`metadata(of:)`): predict, eval, explain, audit, train --init, retraining.
  static func checkShapes(_ c: ModelConfiguration, against file: SafeTensorsFile) throws(ModelError) {
    func expect(_ name: String, _ shape: [Int], field: String) throws(ModelError) {
      guard let e = file.entry(named: name) else {
        throw .badCheckpoint(
          path: file.path, reason: "config field '\(field)' cannot be checked: tensor '\(name)' is missing")
      }
      guard e.shape == shape else {
        throw .badCheckpoint(
          path: file.path,
          reason:
            "config field '\(field)' does not match tensor '\(name)': it has shape \(e.shape), the config implies \(shape)"
        )
      }
    }
    let ch = c.channels
    try expect("encoder.stage1.block.0.0.weight", [ch[0], 3, 3, 3], field: "channels[0]")
    try expect("encoder.stage2.block.0.0.weight", [ch[1], ch[0], 3, 3], field: "channels[1]")
    for t in c.tasks {
      try expect("\(t).stage3.block.0.0.weight", [ch[2], ch[1], 3, 3], field: "channels[2]")
      try expect("\(t).stage4.block.0.0.weight", [ch[3], ch[2], 3, 3], field: "channels[3]")
    }
    if c.tasks.contains("cls") {
      if c.hierarchical {
        try expect("cls.head.malignant.weight", [1, ch[3]], field: "hierarchical")
        try expect("cls.head.subtype.weight", [c.classes.count - 1, ch[3]], field: "classes")
      } else {
        try expect("cls.head.logits.weight", [c.classes.count, ch[3]], field: "classes")
      }
    }
    if c.tasks.contains("seg") {
      let w = c.transformerWidth
      let tokens = (c.size / 16) * (c.size / 16)
      try expect("seg.bottleneck.pos", [1, tokens, w], field: "size")
      for i in 0..<c.transformerDepth {
        let layer = "seg.bottleneck.enc.layers.\(i)"
        try expect(layer + ".self_attn.in_proj_weight", [3 * w, w], field: "transformer_depth")
        try expect(layer + ".linear1.weight", [c.transformerMLP, w], field: "transformer_mlp")
      }
      if file.entry(named: "seg.bottleneck.enc.layers.\(c.transformerDepth).norm1.weight") != nil {
        throw .badCheckpoint(
          path: file.path,
          reason:
            "config field 'transformer_depth' is \(c.transformerDepth) but the file holds more transformer layers"
        )
      }
      // The decoder's input channels depend on the skips; its output channels are the field.
      for (i, d) in c.decoderChannels.enumerated() {
        let name = "seg.decoder.block\(i + 1).conv.1.0.weight"
        try expect(name, [d, d, 3, 3], field: "decoder_channels[\(i)]")
      }
      if let c0 = c.segStem {
        try expect("seg.stem.block.1.0.weight", [c0, c0, 3, 3], field: "seg_stem")
      } else if file.entry(named: "seg.stem.block.0.0.weight") != nil {
        throw .badCheckpoint(
          path: file.path,
          reason: "the file holds a segmentation stem ('seg.stem.*') but its config has no 'seg_stem'")
      }
    }
  }

  /// Every Adam tensor name prefix; such tensors are optional and never "unknown".
  static func isOptimizerTensor(_ name: String) -> Bool { name.hasPrefix("adam.") }
}

extension MTACNNModel {
  /// Loads tensors from `file` into this network. With `allowMissing` (a task added to a trained
  /// model), tensors of tasks the file lacks keep their initial values and are returned; a tensor
  /// the network does not have is always an error.
  @discardableResult
  public func loadValues(from file: SafeTensorsFile, allowMissing: Set<ModelTask> = []) throws(ModelError)
    -> [String]
  {
    // Check the whole file first, so a bad file leaves the network exactly as it was.
    let known = Set(store.parameters.map(\.name))
    let unknown = file.names.filter { !known.contains($0) && !ModelCheckpoint.isOptimizerTensor($0) }
    guard unknown.isEmpty else {
      let list = unknown.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
      throw .badCheckpoint(
        path: file.path,
        reason:
          "holds \(unknown.count) tensor(s) this model does not have: \(list) (a misnamed tensor is never ignored)"
      )
    }
    var missing: [String] = []
    for p in store.parameters where file.entry(named: p.name) == nil {
      let task = ModelTask.allCases.first { p.group == $0.columnGroup || p.group == $0.headGroup }
      guard let task, allowMissing.contains(task) else {
        throw .safetensors(SafeTensorsError(path: file.path, tensor: p.name, reason: .missing))
      }
      missing.append(p.name)
    }
    do {
      try Checkpoint.load(store, from: file, allowMissing: !missing.isEmpty)
    } catch {
      throw .safetensors(error)
    }
    return missing
  }

  /// Writes the checkpoint: every parameter and running statistic, the configuration and the
  /// `training` record in the metadata, and Adam's moments for the parameters that trained (a
  /// frozen parameter has none) with the step counts, so `--init` continues where it stopped.
  public func save(
    to path: String, trainingJSON: String? = nil, optimizer: Adam? = nil,
    colourReference: ColourOutlierDetector? = nil
  ) throws(ModelError) {
    var tensors: [(String, Tensor)] = store.parameters.map { ($0.name, $0.value) }
    var meta: [String: String] = [
      "format": ModelCheckpoint.format, "format_version": ModelCheckpoint.formatVersion,
      "config": configurationJSON,
    ]
    if let trainingJSON { meta["training"] = trainingJSON }
    if let colourReference { meta[ColourReference.metadataKey] = ColourReference.encode(colourReference) }
    if let optimizer {
      var steps: [String: Int] = [:]
      for p in store.parameters where p.requiresGrad {
        tensors.append(("adam.m." + p.name, optimizer.firstMoment(p)))
        tensors.append(("adam.v." + p.name, optimizer.secondMoment(p)))
        steps[p.name] = optimizer.stepCount(p)
      }
      // Float settings written as their shortest decimal (0.9, not 0.8999999761581421).
      func decimal(_ f: Float) -> Double { Double("\(f)") ?? Double(f) }
      let record = OptimizerRecord(
        lr: decimal(optimizer.learningRate), beta1: decimal(optimizer.beta1), beta2: decimal(optimizer.beta2),
        eps: decimal(optimizer.epsilon), weightDecay: decimal(optimizer.weightDecay),
        step: steps.values.max() ?? 0)
      meta["optimizer"] = jsonText(record)
      meta["adam.steps"] = jsonText(steps)
    }
    do {
      try SafeTensorsWriter.write(tensors, metadata: meta, to: path)
    } catch {
      throw .safetensors(error)
    }
  }

  /// Restores Adam's moments and step counts for the learning parameters the file has state for
  /// (per-parameter steps from `adam.steps`, else the `optimizer` step). Returns how many
  /// parameters continued.
  @discardableResult
  public func restoreOptimizer(_ optimizer: Adam, from file: SafeTensorsFile) throws(ModelError) -> Int {
    let meta = try ModelCheckpoint.metadata(of: file)
    var perParameter: [String: Int] = [:]
    if let s = file.metadata["adam.steps"],
      let obj = try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any]
    {
      for (k, v) in obj { if let n = v as? NSNumber { perParameter[k] = n.intValue } }
    }
    var restored = 0
    for p in store.parameters where p.requiresGrad {
      guard let m = file.entry(named: "adam.m." + p.name), let v = file.entry(named: "adam.v." + p.name)
      else {
        continue
      }
      guard m.shape == p.shape, v.shape == p.shape else {
        throw .safetensors(
          SafeTensorsError(
            path: file.path, tensor: "adam.m." + p.name,
            reason: .wrongShape(expected: p.shape, found: m.shape)))
      }
      do {
        try file.read(m, into: optimizer.firstMoment(p))
        try file.read(v, into: optimizer.secondMoment(p))
      } catch {
        throw .safetensors(error)
      }
      optimizer.setStepCount(perParameter[p.name] ?? meta.optimizer?.step ?? 0, for: p)
      restored += 1
    }
    return restored
  }

  /// The configuration as the checkpoint stores it: JSON with sorted keys, as the reference writes.
  public var configurationJSON: String { jsonText(configuration) }
}

/// Compact JSON with sorted keys (for metadata strings).
func jsonText<T: Encodable>(_ value: T) -> String {
  let enc = JSONEncoder()
  enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
  return (try? String(decoding: enc.encode(value), as: UTF8.self)) ?? "{}"
}
