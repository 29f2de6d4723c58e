import Foundation
import Imaging
import NeuralEngine
import Testing

@testable import MTACNN

/// Issue 17's segmentation column: the full-resolution stem (`seg_stem`), the Dice + BCE mask loss
/// with expert masks weighted over weak ones. The whole network's gradient through the stem
/// against central differences (the PyTorch parity is ModelParityTests' `all4_stem`), exact
/// freezing with a stem, and the configuration and checkpoint rules that keep old files as they were.
@Suite struct SegmentationStemTests {
  static func configuration(stem: Int?, from: [ModelTask: [ModelTask]] = [.seg: [.cls]]) -> ModelConfiguration
  {
    var c = FreezingTests.configuration(tasks: [.cls, .seg], from: from)
    c.segStem = stem
    return c
  }

  /// Central differences of `loss` at the probed elements of `t` (the perturbation actually
  /// applied, after rounding to Float).
  static func numeric(_ t: Tensor, at idx: [Int], eps: Float, _ loss: () -> Double) -> [Double] {
    idx.map { i in
      let old = t[i]
      t[i] = old + eps
      let lp = loss()
      t[i] = old - eps
      let lm = loss()
      t[i] = old
      return (lp - lm) / (Double(old + eps) - Double(old - eps))
    }
  }

  static func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    var d = 0.0
    var na = 0.0
    var nb = 0.0
    for i in a.indices {
      d += (a[i] - b[i]) * (a[i] - b[i])
      na += a[i] * a[i]
      nb += b[i] * b[i]
    }
    return d.squareRoot() / max(na.squareRoot(), nb.squareRoot(), 1e-9)
  }

  /// The stem on its own (two conv-BN-ReLU in training mode and the concatenation after shared
  /// stage 1) against central differences of a random projection of block 4's skip: its
  /// parameters, the image, and stage 1's part (which must pass through unchanged).
  @Test func stemGradientMatchesFiniteDifferences() throws {
    let store = ParameterStore(seed: 9)
    let stem = SegmentationStem(store, channels: 3)
    store.finalize()
    stem.isTraining = true
    var rng = SplitMix64(seed: 13)
    func random(_ shape: [Int]) -> Tensor {
      let t = Tensor(shape: shape)
      for i in 0..<t.count { t[i] = Float(Int(rng.next() % 2001) - 1000) / 1000 }
      return t
    }
    let f1 = random([2, 4, 8, 8])
    let image = random([2, 3, 8, 8])
    let r = random([2, 7, 8, 8])
    func value() -> Double {
      let y = stem.skip(stage1: f1, image: image)
      var s = 0.0
      for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
      return s
    }
    _ = stem.skip(stage1: f1, image: image)
    store.zeroGradients()
    let (dF1, dImage) = stem.backward(r, learns: true, wantImage: true)
    // Per image, the first 4 of the 7 channels are stage 1's.
    let plane = 8 * 8
    let all = r.array
    var stage1Part: [Float] = []
    for b in 0..<2 {
      let start = b * 7 * plane
      stage1Part += all[start..<(start + 4 * plane)]
    }
    #expect(dF1.array == stage1Part, "stage 1's part of the skip gradient")
    let dx = try #require(dImage).array
    var numeric: [Double] = []
    var analytic: [Double] = []
    var pick = SplitMix64(seed: 3)
    let idx = (0..<40).map { _ in Int(pick.next() % UInt64(image.count)) }
    numeric += Self.numeric(image, at: idx, eps: 1e-3, value)
    analytic += idx.map { Double(dx[$0]) }
    for p in store.parameters where p.kind == .trainable {
      let g = p.grad.array
      let ip = (0..<10).map { _ in Int(pick.next() % UInt64(p.count)) }
      numeric += Self.numeric(p.value, at: ip, eps: 1e-3, value)
      analytic += ip.map { Double(g[$0]) }
    }
    let e = Self.relativeError(numeric, analytic)
    // Float32 batch statistics over 128 values per channel and ReLU kinks: differences at
    // step 1e-3 agree to about 1e-2 (a missing path or a wrong channel order is off by order 1).
    #expect(e < 1e-2, "stem gradient relative error \(e)")
  }

  /// The whole network's backward through the stem, decoder block 4 and the shared encoder
  /// against central differences (training mode, batch statistics), and the image gradient
  /// through both paths (inference mode, as explanations take it), for a random projection
  /// Σ r·logits summed in Double. Through a dozen Float32 layers with ReLU and max-pool kinks,
  /// central differences are only good to a few percent: PyTorch's own float32 differences on
  /// this configuration differ from its exact autograd by up to 5-15 % per element. So this
  /// checks the wiring (a missing or misrouted path is off by far more), and the element-wise
  /// exactness is ModelParityTests' `all4_stem` against the reference's autograd (rtol 2e-3).
  @Test func gradientThroughTheStemMatchesFiniteDifferences() throws {
    var c = Self.configuration(stem: 3)
    c.dropout = 0
    c.transformerDropout = 0
    let model = try MTACNNModel(configuration: c, seed: 5)
    var rng = SplitMix64(seed: 21)
    let s = c.size
    let x = Tensor(shape: [3, 3, s, s])
    for i in 0..<x.count { x[i] = Float(rng.next() % 1000) / 1000 }
    let r = Tensor(shape: [3, 1, s, s])
    for i in 0..<r.count { r[i] = Float(Int(rng.next() % 2001) - 1000) / 1000 }
    func projection(_ y: Tensor) -> Double {
      var sum = 0.0
      for i in 0..<y.count { sum += Double(y[i]) * Double(r[i]) }
      return sum
    }
    func value() -> Double { projection(model.forward(x, heads: [.seg]).maskLogits!) }

    model.isTraining = true
    model.store.zeroGradients()
    model.forward(x, heads: [.seg])
    model.backward(classification: nil, mask: r)
    var numeric: [Double] = []
    var analytic: [Double] = []
    for name in [
      "seg.stem.block.0.0.weight", "seg.stem.block.0.1.bias", "seg.stem.block.1.0.weight",
      "seg.stem.block.1.1.weight", "seg.decoder.block4.conv.0.0.weight", "encoder.stage1.block.0.0.weight",
    ] {
      let p = try #require(model.store.parameter(named: name))
      let g = p.grad.array
      #expect(g.contains { $0 != 0 }, "\(name) has no gradient")
      var pick = SplitMix64(seed: SeededGenerator.hash(name))
      let idx = (0..<5).map { _ in Int(pick.next() % UInt64(p.count)) }
      let n = Self.numeric(p.value, at: idx, eps: 1e-4, value)
      numeric += n
      analytic += idx.map { Double(g[$0]) }
    }
    let e = Self.relativeError(numeric, analytic)
    #expect(e < 5e-2, "parameter gradient relative error \(e)")

    model.isTraining = false
    model.forward(x, heads: [.seg])
    let dx = try #require(model.gradients(classification: nil, mask: r, at: [.input])[.input]).array
    var pick = SplitMix64(seed: 8)
    let idx = (0..<30).map { _ in Int(pick.next() % UInt64(x.count)) }
    let num = Self.numeric(x, at: idx, eps: 1e-4, value)
    let ei = Self.relativeError(num, idx.map { Double(dx[$0]) })
    #expect(ei < 5e-2, "input gradient relative error \(ei)")
  }

  /// The examples of FreezingTests, every other mask read as weak (so the expert weight matters).
  static func examples() -> [Example] {
    FreezingTests.examples(40, seed: 7).enumerated().map { i, e in
      var e = e
      e.maskKind = i % 2 == 0 ? .weak : .expert
      return e
    }
  }

  static func train(_ model: MTACNNModel, epochs: Int, to path: String, initFile: SafeTensorsFile? = nil)
    throws
  {
    let data = examples()
    let adam = Adam(model.store, learningRate: 3e-3)
    if let initFile { try model.restoreOptimizer(adam, from: initFile) }
    var o = TrainingOptions()
    o.epochs = epochs
    o.batchSize = 8
    o.patience = 100
    o.seed = 3
    o.augmentation = AugmentationConfig(hueDegrees: 5, saturation: 0.1)
    o.maskLoss = .diceBCE
    o.expertMaskWeight = 4
    let t = try Trainer(
      model: model, optimizer: adam, options: o, train: data.filter { $0.part == .train },
      validation: data.filter { $0.part == .val })
    _ = try t.run(save: { _ in }, events: { _ in }, shouldStop: { false })
    try model.save(to: path, trainingJSON: "{}", optimizer: adam)
  }

  /// The paper's order with the new column: classification alone, then segmentation with a stem
  /// added reading the frozen classifier, trained with Dice + BCE and weighted masks. Every
  /// classification tensor keeps its bytes and the classifier's outputs stay bit-identical.
  @Test func addingSegmentationWithAStemLeavesTheFrozenClassifierBitIdentical() throws {
    let clsPath = FreezingTests.temp("cls.safetensors")
    let cls = try MTACNNModel(configuration: FreezingTests.configuration(tasks: [.cls], from: [:]), seed: 1)
    try FreezingTests.train(cls, epochs: 1, to: clsPath)

    let c = Self.configuration(stem: 4)
    let joint = try MTACNNModel(configuration: c, seed: 2)
    let initFile = try SafeTensorsFile.read(path: clsPath)
    let missing = try joint.loadValues(from: initFile, allowMissing: [.seg])
    #expect(missing.contains("seg.stem.block.0.0.weight"))
    try joint.freeze([.cls])
    let outPath = FreezingTests.temp("cls_seg_stem.safetensors")
    try Self.train(joint, epochs: 2, to: outPath, initFile: initFile)

    let before = try FreezingTests.tensorBytes(clsPath)
    let after = try FreezingTests.tensorBytes(outPath)
    let frozen = before.keys.filter { !$0.hasPrefix("adam.") }
    #expect(frozen.count > 20)
    for name in frozen { #expect(after[name] == before[name], "\(name) changed") }
    #expect(after["adam.m.seg.stem.block.0.0.weight"] != nil)
    let (trained, _) = try ModelCheckpoint.load(path: outPath)
    #expect(trained.configuration.segStem == 4)
    let fresh = try MTACNNModel(configuration: c, seed: 2)
    #expect(
      trained.store["seg.stem.block.0.0.weight"].value.array
        != fresh.store["seg.stem.block.0.0.weight"].value.array)
    #expect(try FreezingTests.outputs(clsPath, task: .cls) == FreezingTests.outputs(outPath, task: .cls))
  }

  /// Freezing segmentation freezes its stem (part of `seg.head`): its tensors keep their bytes
  /// and the nucleus logits stay bit-identical while classification trains.
  @Test func freezingSegmentationKeepsTheStem() throws {
    let c = Self.configuration(stem: 2, from: [.cls: [.seg]])
    let base = try MTACNNModel(configuration: c, seed: 4)
    let basePath = FreezingTests.temp("seg_first.safetensors")
    try Self.train(base, epochs: 1, to: basePath)
    let (model, _) = try ModelCheckpoint.load(path: basePath)
    try model.freeze([.seg])
    #expect(model.frozenTensorNames.contains("seg.stem.block.1.1.running_var"))
    let outPath = FreezingTests.temp("seg_first_cls.safetensors")
    try FreezingTests.train(model, epochs: 1, to: outPath, initFile: try SafeTensorsFile.read(path: basePath))
    let before = try FreezingTests.tensorBytes(basePath)
    let after = try FreezingTests.tensorBytes(outPath)
    for name in before.keys where name.hasPrefix("seg.") {
      #expect(after[name] == before[name], "\(name) changed")
    }
    #expect(after["cls.head.subtype.weight"] != before["cls.head.subtype.weight"])
    #expect(try FreezingTests.outputs(basePath, task: .seg) == FreezingTests.outputs(outPath, task: .seg))
  }

  /// A configuration without a stem decodes as before and is written without the key (so an old
  /// checkpoint rewritten keeps its config); a stem needs the segmentation task; the tensors must
  /// agree with the key both ways, and the error names what is wrong.
  @Test func configurationAndCheckpointRules() throws {
    let (_, io) = try ModelParityTests.paths("all4_joint")
    let old = try ModelCheckpoint.metadata(
      of: try SafeTensorsFile.read(path: io.replacingOccurrences(of: "io_", with: "model_")))
    #expect(old.configuration.segStem == nil)
    let encoded = String(decoding: try JSONEncoder().encode(old.configuration), as: UTF8.self)
    #expect(!encoded.contains("seg_stem"))
    #expect(try ModelConfiguration.decode(json: encoded) == old.configuration)

    var stem = old.configuration
    stem.segStem = 6
    let withStem = String(decoding: try JSONEncoder().encode(stem), as: UTF8.self)
    #expect(withStem.contains("\"seg_stem\":6"))
    #expect(try ModelConfiguration.decode(json: withStem).segStem == 6)

    var clsOnly = FreezingTests.configuration(tasks: [.cls], from: [:])
    clsOnly.segStem = 4
    #expect(throws: ModelConfiguration.ConfigError(message: "seg_stem needs the seg task")) {
      try clsOnly.validate()
    }
    stem.segStem = 0
    #expect(throws: ModelConfiguration.ConfigError.self) { try stem.validate() }

    let (stemModel, _) = try ModelParityTests.paths("all4_stem")
    let file = try SafeTensorsFile.read(path: stemModel)
    let good = try ModelCheckpoint.metadata(of: file).configuration
    #expect(good.segStem == 3)
    var missingKey = good
    missingKey.segStem = nil
    do {
      try ModelCheckpoint.checkShapes(missingKey, against: file)
      Issue.record("a stem without seg_stem was accepted")
    } catch { #expect("\(error)".contains("seg.stem")) }
    var wrong = good
    wrong.segStem = 5
    do {
      try ModelCheckpoint.checkShapes(wrong, against: file)
      Issue.record("seg_stem 5 against 3-channel tensors was accepted")
    } catch { #expect("\(error)".contains("seg_stem")) }
  }

  /// The batch's mask weights: an expert mask weighs the given weight, a weak one 1, an image
  /// without a mask 0; the focal loss takes no weights, so asking for them without Dice + BCE is
  /// refused.
  @Test func expertMasksWeighMoreThanWeakOnes() throws {
    var ex = Array(Self.examples().prefix(3))
    ex[2].mask = nil
    let a = BatchAssembler(size: FreezingTests.size, augmentation: nil, stain: nil, expertMaskWeight: 5)
    let (_, t) = a.assemble(ex)
    #expect(t.maskWeights == [1, 5, 0])
    #expect(
      BatchAssembler(size: FreezingTests.size, augmentation: nil, stain: nil).assemble(ex).1.maskWeights
        == nil)

    let model = try MTACNNModel(configuration: Self.configuration(stem: 2))
    var o = TrainingOptions()
    o.expertMaskWeight = 3
    #expect(throws: TrainingError.self) {
      _ = try Trainer(model: model, optimizer: Adam(model.store), options: o, train: ex, validation: [])
    }
  }
}
