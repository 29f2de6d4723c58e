import Foundation
import Imaging
import NeuralEngine
import Testing

@testable import MTACNN

/// Issue 4's freezing: a frozen task's tensors in the output file are byte-identical to those of
/// the file training started from, and its outputs on a fixed batch are bit-identical; frozen
/// tasks never read from a task being trained.
@Suite struct FreezingTests {
  static let size = 32

  /// A small network (the default layout, narrow), so a few training steps take a moment.
  static func configuration(tasks: [ModelTask], from: [ModelTask: [ModelTask]]) -> ModelConfiguration {
    var c = ModelConfiguration.defaults(for: .all4, size: size)
    c.channels = [4, 8, 8, 16]
    c.decoderChannels = [8, 8, 4, 4]
    c.transformerWidth = 16
    c.transformerDepth = 1
    c.transformerHeads = 2
    c.transformerMLP = 16
    c.tasks = tasks.map(\.rawValue)
    c.ttcFrom = Dictionary(
      uniqueKeysWithValues: tasks.map { t in (t.rawValue, (from[t] ?? []).map(\.rawValue)) })
    return c
  }

  /// Synthetic smear-like examples: a dark disc (the "nucleus", also the mask) whose size depends
  /// on the class, on a light background with noise.
  static func examples(_ n: Int, seed: UInt64) -> [Example] {
    var rng = SplitMix64(seed: seed)
    return (0..<n).map { i in
      let k = i % 4
      let s = size
      var im = RGBImage(width: s, height: s, fill: (225, 205, 215))
      var m = Mask(width: s, height: s)
      let cx = Double(s) / 2 + rng.symmetric(4)
      let cy = Double(s) / 2 + rng.symmetric(4)
      let r = 4.0 + 2.0 * Double(k)
      for y in 0..<s {
        for x in 0..<s {
          let noise = UInt8(Int(rng.next() % 16))
          if (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy) < r * r {
            im[x, y] = (90 &+ noise, 40 &+ noise, 120 &+ noise)
            m[x, y] = 255
          } else {
            im[x, y] = (215 &+ noise, 195 &+ noise, 205 &+ noise)
          }
        }
      }
      return Example(
        image: im, classIndex: k, mask: m, part: i % 5 == 0 ? .val : .train, name: "synthetic \(i)",
        sourceWidth: s,
        sourceHeight: s)
    }
  }

  static func train(_ model: MTACNNModel, epochs: Int, to path: String, initFile: SafeTensorsFile? = nil)
    throws
  {
    let data = examples(40, seed: 7)
    let adam = Adam(model.store, learningRate: 3e-3)
    if let initFile { try model.restoreOptimizer(adam, from: initFile) }
    var o = TrainingOptions()
    o.epochs = epochs
    o.batchSize = 8
    o.patience = 100
    o.seed = 3
    o.augmentation = AugmentationConfig(hueDegrees: 5, saturation: 0.1)
    let t = try Trainer(
      model: model, optimizer: adam, options: o, train: data.filter { $0.part == .train },
      validation: data.filter { $0.part == .val })
    // Save the last epoch regardless of validation loss, so something always changed.
    var last: EpochRecord?
    _ = try t.run(save: { last = $0 }, events: { _ in }, shouldStop: { false })
    _ = last
    try model.save(to: path, trainingJSON: "{}", optimizer: adam)
  }

  static func temp(_ name: String) -> String {
    let dir = NSTemporaryDirectory() + "mtacnn-freeze-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir + "/" + name
  }

  /// The raw bytes of each tensor of a safetensors file.
  static func tensorBytes(_ path: String) throws -> [String: [UInt8]] {
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    var n = 0
    for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
    let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as! [String: Any]
    var out: [String: [UInt8]] = [:]
    for (name, v) in header where name != "__metadata__" {
      let off = (v as! [String: Any])["data_offsets"] as! [Int]
      out[name] = Array(bytes[(8 + n + off[0])..<(8 + n + off[1])])
    }
    return out
  }

  static var batch: Tensor {
    let ex = examples(6, seed: 99)
    let t = Tensor(shape: [ex.count, 3, size, size])
    for (i, e) in ex.enumerated() {
      let p = PlanarImage(e.image)
      for j in 0..<p.data.count { t[i * 3 * size * size + j] = p.data[j] }
    }
    return t
  }

  static func outputs(_ path: String, task: ModelTask) throws -> [Float] {
    let (m, _) = try ModelCheckpoint.load(path: path)
    m.isTraining = false
    let o = m.forward(batch, heads: [task])
    return task == .cls ? o.classification!.logProbabilities : o.maskLogits!.array
  }

  /// The paper's procedure: classification alone, then segmentation added reading the frozen
  /// classifier (`--init cls.safetensors --tasks cls,seg --freeze cls`).
  @Test func addingSegmentationLeavesTheFrozenClassifierBitIdentical() throws {
    let clsPath = Self.temp("cls.safetensors")
    let cls = try MTACNNModel(configuration: Self.configuration(tasks: [.cls], from: [:]), seed: 1)
    try Self.train(cls, epochs: 2, to: clsPath)

    var c = Self.configuration(tasks: [.cls, .seg], from: [.seg: [.cls]])
    c.tasks = ["cls", "seg"]
    let joint = try MTACNNModel(configuration: c, seed: 2)
    let initFile = try SafeTensorsFile.read(path: clsPath)
    let missing = try joint.loadValues(from: initFile, allowMissing: [.seg])
    #expect(!missing.isEmpty && missing.allSatisfy { $0.hasPrefix("seg.") })
    try joint.freeze([.cls])
    #expect(joint.trainedTasks == [.seg])
    let outPath = Self.temp("cls_seg.safetensors")
    try Self.train(joint, epochs: 2, to: outPath, initFile: initFile)

    let before = try Self.tensorBytes(clsPath)
    let after = try Self.tensorBytes(outPath)
    let frozen = before.keys.filter { !$0.hasPrefix("adam.") }
    #expect(frozen.count > 20)
    for name in frozen { #expect(after[name] == before[name], "\(name) changed") }
    // A frozen parameter has no Adam state in the output; the new task's parameters do.
    #expect(after.keys.filter { $0.hasPrefix("adam.m.cls.") || $0.hasPrefix("adam.m.encoder.") }.isEmpty)
    #expect(after["adam.m.seg.out.weight"] != nil)
    // Something did train.
    let (trained, _) = try ModelCheckpoint.load(path: outPath)
    let fresh = try MTACNNModel(configuration: c, seed: 2)
    #expect(trained.store["seg.out.weight"].value.array != fresh.store["seg.out.weight"].value.array)
    // Outputs of the frozen classifier: bit for bit.
    #expect(try Self.outputs(clsPath, task: .cls) == Self.outputs(outPath, task: .cls))
  }

  /// A jointly trained model (both tasks read each other): freezing segmentation freezes everything
  /// segmentation reads (the classification column and the encoder), so only the classification
  /// head trains, and segmentation's tensors and outputs stay identical.
  @Test func freezingSegmentationOfAJointModelKeepsEverythingItReads() throws {
    let c = Self.configuration(tasks: [.cls, .seg], from: [.cls: [.seg], .seg: [.cls]])
    let base = try MTACNNModel(configuration: c, seed: 4)
    let basePath = Self.temp("joint.safetensors")
    try Self.train(base, epochs: 1, to: basePath)

    let (model, _) = try ModelCheckpoint.load(path: basePath)
    try model.freeze([.seg])
    #expect(
      Set(model.frozenTensorNames.map { String($0.split(separator: ".")[0]) }) == ["encoder", "cls", "seg"])
    #expect(model.frozenTensorNames.allSatisfy { !$0.hasPrefix("cls.head.") })
    let outPath = Self.temp("joint_cls.safetensors")
    try Self.train(model, epochs: 2, to: outPath, initFile: try SafeTensorsFile.read(path: basePath))

    let before = try Self.tensorBytes(basePath)
    let after = try Self.tensorBytes(outPath)
    for name in before.keys where !name.hasPrefix("adam.") && !name.hasPrefix("cls.head.") {
      #expect(after[name] == before[name], "\(name) changed")
    }
    #expect(after["cls.head.subtype.weight"] != before["cls.head.subtype.weight"])
    #expect(try Self.outputs(basePath, task: .seg) == Self.outputs(outPath, task: .seg))
  }

  @Test func freezingRefusesWhatCannotBeHonoured() throws {
    let m = try MTACNNModel(configuration: Self.configuration(tasks: [.cls], from: [:]))
    #expect(throws: ModelError.self) { try m.freeze([.cls]) }
    #expect(throws: ModelError.self) { try m.freeze([.seg]) }
    let j = try MTACNNModel(configuration: Self.configuration(tasks: [.cls, .seg], from: [.seg: [.cls]]))
    #expect(throws: ModelError.self) { try j.freeze([.cls, .seg]) }
    // Freezing cls, which reads nothing, leaves the whole segmentation column trainable.
    try j.freeze([.cls])
    #expect(j.frozenGroups(for: [.cls]) == ["encoder", "cls.column", "cls.head"])
    // Freezing seg, which reads cls, freezes the classification column too.
    #expect(j.frozenGroups(for: [.seg]) == ["encoder", "seg.column", "seg.head", "cls.column"])
  }
}
