import Foundation
import Imaging
import NeuralEngine
import Testing

@testable import MTACNN

/// Issue 9: "on a model trained on purpose to use the corner, for example with data where only
/// the corner label differs, the audit must flag it". A small MTA-CNN (classification only,
/// S = 32, corner not blanked) trained on toy smears whose class shows only in the scale-bar box
/// colour (cells and background are drawn independently of the class); the audit, through the
/// model's own Grad-CAM, must fail it on fresh images, and for the reason the data planted.
@Suite struct TrainedShortcutAuditTests {
  static let labelColours: [(UInt8, UInt8, UInt8)] = [
    (250, 250, 250), (20, 20, 20), (250, 20, 250), (20, 200, 20),
  ]

  /// A 64 × 64 toy smear of class `c`: textured background, a disc of a random (class-free)
  /// colour and place, and the class's label box in Aria's corner rectangle.
  static func image(class c: Int, seed: UInt64) -> RGBImage {
    var rng = SplitMix64(seed: seed)
    var im = RGBImage(width: 64, height: 64)
    for y in 0..<64 {
      for x in 0..<64 {
        let v = UInt8(150 + rng.next() % 40)
        im[x, y] = (v, v, UInt8(160 + rng.next() % 40))
      }
    }
    let cx = 14 + Int(rng.next() % 30)
    let cy = 14 + Int(rng.next() % 30)
    let disc = (UInt8(rng.next() % 200), UInt8(rng.next() % 200), UInt8(rng.next() % 200))
    for y in 0..<64 {
      for x in 0..<64 where (x - cx) * (x - cx) + (y - cy) * (y - cy) < 81 { im[x, y] = disc }
    }
    return im.blanking(CornerBlank.aria.rect(forWidth: 64, height: 64), with: labelColours[c])
  }

  @Test func theAuditFlagsAModelTrainedOnTheLabel() throws {
    var c = FreezingTests.configuration(tasks: [.cls], from: [:])
    c.blankCorner = nil
    c.sourceSize = nil
    let model = try MTACNNModel(configuration: c, seed: 4)
    #expect(model.preprocessing.cornerBlank == nil)
    let examples = (0..<160).map { i in
      Example(
        image: model.preprocessing.resized(Self.image(class: i % 4, seed: UInt64(i))), classIndex: i % 4,
        mask: nil,
        part: i % 8 == 0 ? .val : .train, name: "toy \(i)", sourceWidth: 64, sourceHeight: 64)
    }
    var o = TrainingOptions()
    o.epochs = 12
    o.batchSize = 8
    o.learningRate = 3e-3
    o.seed = 1
    // No flips or rotations: they would move the label to other corners.
    o.augmentation.flip = false
    o.augmentation.rot90 = false
    let t = try Trainer(
      model: model, optimizer: Adam(model.store, learningRate: o.learningRate), options: o,
      train: examples.filter { $0.part == .train }, validation: examples.filter { $0.part == .val })
    _ = try t.run(save: { _ in }, events: { _ in }, shouldStop: { false })

    let fresh = (0..<40).map { i in
      let image = Self.image(class: i % 4, seed: 10_000 + UInt64(i))
      return AuditImage(name: "fresh \(i)", classIndex: i % 4) { image }
    }
    let r = try ShortcutAudit(corner: .aria, shifts: [.none]).run(model, images: fresh, cornerSource: "aria")
    // It learned the label: right with it, at chance without it, and it follows a swapped label.
    #expect(r.accuracyUnblanked > 0.9, "accuracy with the label \(r.accuracyUnblanked)")
    #expect(r.accuracyBlanked < 0.6, "accuracy without the label \(r.accuracyBlanked)")
    #expect(!r.passed)
    #expect(r.flipRateBlanked > 0.3 && r.flipRateSwapped > 0.5)
    #expect(Double(r.swapsToDonorClass) > 0.8 * Double(r.flipsSwapped))
    #expect(r.findings.count >= 2)
  }
}
