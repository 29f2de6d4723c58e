import Foundation
import NeuralEngine
import Testing

@testable import MTACNN

/// The Swift network against the PyTorch reference (tools/torch/mtacnn.py) on committed fixtures
/// made by tools/fixtures/make_mtacnn_model_fixtures.py: the checkpoint written by the reference
/// loads here, and inference outputs, the combined loss, every gradient, the batch-norm updates and
/// a Grad-CAM gradient agree. `all4_stem` (issue 17) has the segmentation stem and trains with the
/// Dice + BCE mask loss and per-image mask weights.
@Suite struct ModelParityTests {
  static let cases = ["all4_joint", "wbc5_seq", "all4_cls", "all4_stem"]

  static func paths(_ name: String) throws -> (model: String, io: String) {
    guard
      let m = Bundle.module.url(
        forResource: "model_\(name)", withExtension: "safetensors", subdirectory: "Fixtures"),
      let io = Bundle.module.url(
        forResource: "io_\(name)", withExtension: "safetensors", subdirectory: "Fixtures")
    else { throw FixtureError.missing(name) }
    return (m.path, io.path)
  }

  /// Loads the case's model and its reference tensors.
  static func load(_ name: String) throws -> (MTACNNModel, SafeTensorsFile) {
    let (m, io) = try paths(name)
    let (model, _) = try ModelCheckpoint.load(path: m)
    return (model, try SafeTensorsFile.read(path: io))
  }

  static func targets(_ io: SafeTensorsFile, size: Int) throws -> BatchTargets {
    let labels = try io.floats("labels").map { Int($0) }
    let hasLabel = try io.floats("has_label").map { $0 != 0 }
    let hasMask = try io.floats("has_mask").map { $0 != 0 }
    return BatchTargets(
      labels: zip(labels, hasLabel).map { $1 ? $0 : -1 }, masks: try io.tensor("masks"), hasMask: hasMask,
      maskWeights: io.entry(named: "mask_weight") == nil ? nil : try io.floats("mask_weight"))
  }

  /// The mask loss the reference trained the case with (its io file's metadata).
  static func maskLoss(_ io: SafeTensorsFile) throws -> MaskLoss {
    switch io.metadata["mask_loss"] {
    case "dice_bce": return .diceBCE
    case "focal", nil: return .focal
    case let other?: throw FixtureError.missing("mask loss \(other)")
    }
  }

  @Test(arguments: cases) func inferenceOutputsMatchTheReference(_ name: String) throws {
    let (model, io) = try Self.load(name)
    model.isTraining = false
    let out = model.forward(try io.tensor("x"))
    if let c = out.classification {
      expectClose(c.logProbabilities, try io.floats("eval.logp"), "\(name) log-probabilities")
    } else {
      #expect(io.entry(named: "eval.logp") == nil)
    }
    if let m = out.maskLogits {
      expectClose(m.array, try io.floats("eval.seg"), "\(name) nucleus logits")
    } else {
      #expect(io.entry(named: "eval.seg") == nil)
    }
  }

  @Test(arguments: cases) func trainingLossGradientsAndStatisticsMatchTheReference(_ name: String) throws {
    let (model, io) = try Self.load(name)
    let t = try Self.targets(io, size: model.size)
    model.isTraining = true
    model.store.zeroGradients()
    let out = model.forward(try io.tensor("x"))
    let loss = MultiTaskLoss(schema: model.schema, maskLoss: try Self.maskLoss(io))(
      out, t, tasks: Set(model.tasks))
    model.backward(classification: loss.classificationGradient, mask: loss.maskGradient)
    expectClose([loss.total], try io.floats("train.loss"), "\(name) loss")
    if let e = io.entry(named: "train.loss_cls") {
      expectClose([loss.classification ?? .nan], try io.floats(e.name), "\(name) classification loss")
    }
    if let e = io.entry(named: "train.loss_seg") {
      expectClose([loss.mask ?? .nan], try io.floats(e.name), "\(name) mask loss")
    }
    var checked = 0
    for p in model.store.parameters where p.kind == .trainable {
      expectClose(p.grad.array, try io.floats("grad." + p.name), "\(name) gradient of \(p.name)", rtol: 2e-3)
      checked += 1
    }
    #expect(checked == model.store.parameters.filter { $0.kind == .trainable }.count && checked > 10)
    var stats = 0
    for e in io.entries where e.name.hasPrefix("after.") {
      let p = try #require(model.store.parameter(named: String(e.name.dropFirst(6))))
      expectClose(p.value.array, try io.floats(e.name), "\(name) \(p.name) after one training pass")
      stats += 1
    }
    #expect(stats > 0)
  }

  /// The image gradient of Σ r · nucleus logits (inference mode): through the encoder and, in
  /// `all4_stem`, through the segmentation stem as well.
  @Test(arguments: ["all4_joint", "wbc5_seq", "all4_stem"]) func segmentationInputGradientMatchesTheReference(
    _ name: String
  ) throws {
    let (model, io) = try Self.load(name)
    model.isTraining = false
    let out = model.forward(try io.tensor("x"), heads: [.seg])
    let logits = try #require(out.maskLogits)
    expectClose(logits.array, try io.floats("eval.seg"), "\(name) nucleus logits")
    let g = model.gradients(classification: nil, mask: try io.tensor("seggrad.r"), at: [.input])
    expectClose(
      try #require(g[.input]).array, try io.floats("seggrad.input_grad"),
      "\(name) input gradient of the mask",
      rtol: 2e-3)
  }

  @Test(arguments: ["all4_joint", "wbc5_seq", "all4_cls", "all4_stem"])
  func gradCAMGradientMatchesTheReference(
    _ name: String
  ) throws {
    let (model, io) = try Self.load(name)
    model.isTraining = false
    let before = model.store.parameters.map { $0.value.array }
    let out = model.forward(try io.tensor("x"), heads: [.cls], retain: [.stage4(.cls)])
    let c = try #require(out.classification)
    let target = try io.floats("gradcam.target").map { Int($0) }
    let g = model.gradients(
      classification: c.logProbabilityGradient(classes: target), mask: nil, at: [.stage4(.cls), .input])
    expectClose(
      try #require(model.retained[.stage4(.cls)]).array, try io.floats("gradcam.features"), "\(name) features"
    )
    expectClose(
      try #require(g[.stage4(.cls)]).array, try io.floats("gradcam.grad"), "\(name) Grad-CAM gradient",
      rtol: 2e-3)
    expectClose(
      try #require(g[.input]).array, try io.floats("gradcam.input_grad"), "\(name) input gradient", rtol: 2e-3
    )
    // Explaining changes nothing: no parameter, no freezing.
    #expect(model.store.parameters.map { $0.value.array } == before)
    #expect(model.store.frozen.isEmpty)
  }

  @Test func parameterCountAndFLOPsMatchThePublishedReference() throws {
    // docs/checkpoint-format.md: torch.utils.flop_counter on tools/torch/mtacnn.py (torch 2.15),
    // `mtacnn.flops(MTACNN(ModelConfig.for_schema("all4", size=S)))`, exact counts.
    for (size, params, total, conv) in [
      (224, 1_111_813, 3_713_025_024, 3_570_925_568), (128, 1_094_917, 1_203_766_272, 1_166_016_512),
    ] {
      var c = ModelConfiguration.defaults(for: .all4, size: size)
      c.blankCorner = nil
      c.sourceSize = nil
      let m = try MTACNNModel(configuration: c)
      #expect(m.parameterCount == params)
      let f = m.forwardFLOPs()
      #expect(f.total == total)
      #expect(f.convolution == conv)
    }
  }
}

/// Elementwise |a − b| ≤ atol + rtol·|b|, reporting the worst element.
func expectClose(
  _ a: [Float], _ b: [Float], _ what: String, rtol: Float = 1e-4, atol: Float = 1e-5,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(
    a.count == b.count, "\(what): \(a.count) values, expected \(b.count)", sourceLocation: sourceLocation)
  guard a.count == b.count else { return }
  var worst = 0
  var excess: Float = -1
  for i in a.indices {
    let e = abs(a[i] - b[i]) - (atol + rtol * abs(b[i]))
    if e > excess || a[i].isNaN {
      excess = a[i].isNaN ? .infinity : e
      worst = i
    }
  }
  #expect(
    excess <= 0,
    "\(what): element \(worst) is \(a.isEmpty ? .nan : a[worst]), expected \(b.isEmpty ? .nan : b[worst])",
    sourceLocation: sourceLocation)
}
