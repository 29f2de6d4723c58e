import Agreement
import Foundation
import Imaging
import NeuralEngine
import Testing

@testable import MTACNN

/// Issue 10: "`--colour-shift` is applied identically in `eval` and in `audit`". The audit's
/// robustness table (ShortcutAudit through `MTACNNModel`'s `ExplainableModel` side) and eval's
/// (Evaluator through the Predictor, as `blastview eval --colour-shift all` runs it) on one small
/// MTA-CNN network and the same images: the same probabilities per image and shift, the same rows.
@Suite struct AuditEvaluationAgreementTests {
  /// A toy smear on a background whose colour differs widely from image to image, so that even a
  /// network with random weights answers differently (and colour shifts change its answers).
  static func image(_ i: Int) -> RGBImage {
    var im = toyImage(class: i % 3, index: i)
    var rng = SplitMix64(seed: UInt64(77 + i))
    let tint = (Int(rng.next() % 200), Int(rng.next() % 200), Int(rng.next() % 200))
    for y in 0..<im.height {
      for x in 0..<im.width {
        let p = im[x, y]
        im[x, y] = (
          UInt8((Int(p.r) + tint.0) / 2), UInt8((Int(p.g) + tint.1) / 2), UInt8((Int(p.b) + tint.2) / 2)
        )
      }
    }
    return im
  }

  @Test func robustnessTablesOfAuditAndEvalAgree() throws {
    let images = (0..<12).map { Self.image($0) }
    // The reference network of the Grad-CAM fixture (random weights and batch-norm statistics,
    // all4, S = 64): its answers differ from image to image.
    let (net, _) = try GradCAMTests.load("all4")
    // Its malignant logit m, made m' = 5 (m − median m) over these images: Benign for half of them.
    let benign = try net.probabilities(images.map { net.preprocessing.input($0) }).map { Double($0[0]) }
    let m = benign.map { log((1 - $0) / $0) }.sorted()
    let w = try #require(net.store.parameter(named: "cls.head.malignant.weight"))
    let b = try #require(net.store.parameter(named: "cls.head.malignant.bias"))
    for i in 0..<w.value.count { w.value.data[i] *= 5 }
    b.value.data[0] = 5 * (b.value.data[0] - Float(m[m.count / 2]))
    let truth = (0..<12).map { $0 % 3 }
    let audit = ShortcutAudit(corner: net.preprocessing.cornerBlank ?? .aria)
    let report = try audit.run(
      net,
      images: zip(images, truth).enumerated().map { i, p in
        let (im, y) = p
        return AuditImage(name: "\(i)", classIndex: y) { im }
      })

    let predictor = Predictor(model: net, batchSize: 5)
    let items = zip(images, truth).map { EvaluationItem(image: $0, classIndex: $1, mask: nil, name: "") }
    var spread: Set<Int> = []
    for (s, shift) in ColourShift.all.enumerated() {
      let run = Evaluator.run(predictor, items: items, shift: shift)
      let evalRow = EvaluationReport.RobustnessRow(
        shift: shift,
        report: ClassificationReport(
          classes: net.schema.classes, truth: run.truth,
          predicted: run.probabilities.map { p in p.indices.max { p[$0] < p[$1] }! }))
      #expect(report.robustness[s] == evalRow, "\(shift)")
      // And image by image: the audit's inputs give the eval's probabilities.
      let inputs = images.map { net.preprocessing.input($0, shift: shift) }
      let probs = try net.probabilities(inputs)
      for i in images.indices {
        for k in 0..<4 {
          #expect(abs(Double(probs[i][k]) - run.probabilities[i][k]) < 1e-5, "\(shift) image \(i) class \(k)")
        }
        spread.insert(argmax(probs[i]))
      }
    }
    // The comparison is not between two constant answers.
    #expect(spread.count >= 2)
    // The "none" row is the model's own preprocessing: blanked or not as the model says.
    let own = net.preprocessing.cornerBlank != nil ? report.accuracyBlanked : report.accuracyUnblanked
    #expect(own == report.robustness[0].accuracy)
  }
}
