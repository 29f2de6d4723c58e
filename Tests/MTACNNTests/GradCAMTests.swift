import Foundation
import NeuralEngine
import Testing

@testable import MTACNN

/// MTA-CNN's Grad-CAM (`MTACNNModel` as an `ExplainableModel`) against the PyTorch reference:
/// tools/fixtures/make_gradcam_fixtures.py runs autograd on the reference network
/// (tools/torch/mtacnn.py) with random weights, batch-norm statistics and TTC betas, for every
/// class, and records the S/8 map after the ReLU and the S × S heatmap (bilinear,
/// `align_corners=False`).
@Suite struct GradCAMTests {
  static func load(_ name: String) throws -> (MTACNNModel, SafeTensorsFile) {
    guard
      let m = Bundle.module.url(
        forResource: "gradcam_\(name)", withExtension: "safetensors", subdirectory: "Fixtures"),
      let io = Bundle.module.url(
        forResource: "gradcam_\(name)_io", withExtension: "safetensors", subdirectory: "Fixtures")
    else { throw FixtureError.missing(name) }
    let (model, _) = try ModelCheckpoint.load(path: m.path)
    return (model, try SafeTensorsFile.read(path: io.path))
  }

  /// The fixture's input batch as planar images.
  static func inputs(_ io: SafeTensorsFile) throws -> [PlanarImage] {
    let x = try io.tensor("input")
    let (b, s) = (x.shape[0], x.shape[2])
    let plane = 3 * s * s
    let v = x.array
    return (0..<b).map { PlanarImage(width: s, height: s, data: Array(v[($0 * plane)..<(($0 + 1) * plane)])) }
  }

  @Test(arguments: ["all4", "wbc5"]) func mapsAndHeatmapsMatchTheReferenceForEveryClass(_ name: String) throws
  {
    let (model, io) = try Self.load(name)
    let batch = try Self.inputs(io)
    let b = batch.count
    let k = model.classCount
    let cams = try io.tensor("cam")
    let heat = try io.tensor("heatmap")
    let (h, w, s) = (cams.shape[2], cams.shape[3], heat.shape[2])
    #expect(cams.shape == [k, b, model.size / 8, model.size / 8] && s == model.size)
    // The probabilities, from the classification head alone.
    let probs = try model.probabilities(batch)
    expectClose(probs.flatMap { $0 }, try io.floats("log_probs").map { expf($0) }, "\(name) probabilities")
    let before = model.store.parameters.map { $0.value.array }
    var nonzero = 0
    for c in 0..<k {
      let g = try model.gradCAM(batch, classIndices: Array(repeating: c, count: b))
      for i in 0..<b {
        #expect(g[i].classIndex == c)
        let refCam = Array(cams.array[((c * b + i) * h * w)..<((c * b + i + 1) * h * w)])
        let refHeat = Array(heat.array[((c * b + i) * s * s)..<((c * b + i + 1) * s * s)])
        let scale = max(refCam.max() ?? 0, 1e-6)
        expectClose(
          g[i].cam.values, refCam, "\(name) class \(c) image \(i) map", rtol: 2e-3, atol: 2e-4 * scale)
        expectClose(
          g[i].heatmap.values, refHeat, "\(name) class \(c) image \(i) heatmap", rtol: 2e-3,
          atol: 2e-4 * scale)
        if g[i].cam.maxAbsolute > 0 { nonzero += 1 }
      }
    }
    // The fixture is not degenerate: most maps have something in them.
    #expect(nonzero > k * b / 2)
    // Default class: the predicted one.
    let predicted = try model.gradCAM(batch, classIndices: Array(repeating: nil, count: b))
    for i in 0..<b { #expect(predicted[i].classIndex == argmax(probs[i])) }
    // Explaining changes no parameter and leaves nothing frozen.
    #expect(model.store.parameters.map { $0.value.array } == before)
    #expect(model.store.frozen.isEmpty)
  }

  @Test func aMixedBatchGivesEachImageItsOwnClassesMap() throws {
    let (model, io) = try Self.load("all4")
    let batch = try Self.inputs(io)
    let mixed = try model.gradCAM(batch, classIndices: [3, 0, 2])
    for i in batch.indices {
      let alone = try model.gradCAM([batch[i]], classIndices: [mixed[i].classIndex])[0]
      expectClose(mixed[i].cam.values, alone.cam.values, "image \(i)", rtol: 1e-4, atol: 1e-6)
    }
    #expect(throws: ExplanationError.classOutOfRange(4, classes: 4)) {
      try model.gradCAM([batch[0]], classIndices: [4])
    }
  }
}
