import Agreement
import Foundation
import Imaging
import Testing

@testable import MTACNN

@Suite struct MetricsTests {
  /// Every classification figure against scikit-learn (tools/fixtures/make_mtacnn_fixtures.py).
  @Test func classificationMatchesScikitLearn() throws {
    let f = try fixture("metrics")
    let classes = f["classes"] as! [String]
    let r = ClassificationReport(classes: classes, truth: ints(f["truth"]), predicted: ints(f["predicted"]))
    #expect(r.confusion == (f["confusion"] as! [Any]).map(ints))
    #expect(r.n == 211)
    #expect(abs(r.accuracy - double(f["accuracy"])) < 1e-12)
    #expect(abs(try #require(r.kappa.value) - double(f["kappa"])) < 1e-12)
    let (p, rc, f1, sp, npv, sup) = (
      doubles(f["precision"]), doubles(f["recall"]), doubles(f["f1"]), doubles(f["specificity"]),
      doubles(f["npv"]), ints(f["support"])
    )
    for (k, c) in classes.enumerated() {
      let x = r.perClass[c]!
      #expect(abs(x.precision - p[k]) < 1e-12 && abs(x.recall - rc[k]) < 1e-12 && abs(x.f1 - f1[k]) < 1e-12)
      #expect(abs(x.specificity - sp[k]) < 1e-12 && abs(x.npv - npv[k]) < 1e-12 && x.support == sup[k])
    }
    #expect(abs(r.macro.f1 - f1.reduce(0, +) / 4) < 1e-12)
    #expect(abs(r.macro.precision - p.reduce(0, +) / 4) < 1e-12)
    #expect(abs(r.macro.specificity - sp.reduce(0, +) / 4) < 1e-12)
  }

  @Test func binaryTableMatchesScikitLearn() throws {
    let f = try fixture("metrics")
    let classes = f["classes"] as! [String]
    let m = ConfusionMatrix(k: classes.count, truth: ints(f["truth"]), predicted: ints(f["predicted"]))
    let b = ClassificationReport(
      classes: ["Benign", "Malignant"], matrix: m.merged(groups: 2) { ClassSchema.all4.binaryGroup($0)! })
    let e = f["binary"] as! [String: Any]
    #expect(b.confusion == (e["confusion"] as! [Any]).map(ints))
    #expect(abs(b.accuracy - double(e["accuracy"])) < 1e-12)
    #expect(abs(try #require(b.kappa.value) - double(e["kappa"])) < 1e-12)
    #expect(abs(b.perClass["Malignant"]!.f1 - doubles(e["f1"])[1]) < 1e-12)
    #expect(abs(b.perClass["Benign"]!.recall - doubles(e["recall"])[0]) < 1e-12)
  }

  @Test func expectedCalibrationErrorMatchesIndependentComputation() throws {
    let f = try fixture("metrics")
    let probs = (f["probabilities"] as! [Any]).map(doubles)
    let ece = expectedCalibrationError(probabilities: probs, truth: ints(f["truth"]))
    #expect(abs(ece - double(f["ece_15"])) < 1e-12)
  }

  /// Hand-worked: a confidence of exactly 1/15 falls in the first bin; a perfect, fully confident
  /// model has ECE 0.
  @Test func calibrationBinEdgesAndPerfectModel() {
    #expect(expectedCalibrationError(probabilities: [[1, 0], [0, 1]], truth: [0, 1]) == 0)
    // two images at confidence 0.6 (bin 9), one right, one wrong: |0.5 - 0.6| = 0.1
    let e = expectedCalibrationError(probabilities: [[0.6, 0.4], [0.6, 0.4]], truth: [0, 1])
    #expect(abs(e - 0.1) < 1e-12)
  }

  @Test func kappaEdgeCases() throws {
    // All one class and all right: p_e = 1, so kappa is 0/0. It is undefined, as `agree` says
    // of two raters who used one category, not 1 (nor 0 when nothing matched).
    let all = ClassificationReport(
      classes: ["a", "b"], matrix: try #require(ConfusionMatrix(k: 2, counts: [5, 0, 0, 0])))
    #expect(all.accuracy == 1)
    #expect(all.kappa.value == nil)
    #expect(all.undefined.map(\.statistic) == ["kappa"])
    #expect(all.undefined.first?.reason.contains("p_e = 1") == true)
    #expect(cohenKappa(all.matrix).value == nil)
    // zero denominators give 0, as scikit-learn's zero_division=0
    let none = ClassificationReport(
      classes: ["a", "b"], matrix: try #require(ConfusionMatrix(k: 2, counts: [3, 0, 2, 0])))
    // One class predicted for everything, two in the truth: p_e = 0.6, kappa 0.
    #expect(none.kappa.value == 0)
    #expect(none.perClass["b"]!.precision == 0)
    #expect(none.perClass["b"]!.recall == 0)
  }

  @Test func diceAndIoUMatchScikitLearn() throws {
    let f = try fixture("metrics")
    var overlaps: [PixelOverlap] = []
    for m in f["masks"] as! [[String: Any]] {
      let o = PixelOverlap(truth: mask01(m["truth"]), predicted: mask01(m["predicted"]))
      #expect(abs(o.scoredDice - double(m["dice"])) < 1e-12)
      #expect(abs(o.scoredIoU - double(m["iou"])) < 1e-12)
      overlaps.append(o)
    }
    let r = SegmentationReport(overlaps: overlaps)
    #expect(abs(r.dicePooled - double(f["pooled_dice"])) < 1e-12)
    #expect(abs(r.iouPooled - double(f["pooled_iou"])) < 1e-12)
    #expect(abs(r.dice - overlaps.map(\.scoredDice).reduce(0, +) / 4) < 1e-12)
  }

  @Test func reportEncodesIssueKeys() throws {
    let m = try #require(ConfusionMatrix(k: 2, counts: [3, 1, 0, 4]))
    let data = try JSONEncoder().encode(ClassificationReport(classes: ["Benign", "Early"], matrix: m))
    let obj = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    for key in ["n", "accuracy", "kappa", "macro", "per_class", "confusion"] {
      #expect(obj[key] != nil, "\(key)")
    }
    let early = (obj["per_class"] as! [String: Any])["Early"] as! [String: Any]
    for key in ["precision", "recall", "f1", "specificity", "npv", "support"] { #expect(early[key] != nil) }
  }
}

@Suite struct EvaluationReportTests {
  @Test func reportHasIssueKeysAndBinaryTable() throws {
    let probs: [[Double]] = [
      [0.9, 0.05, 0.03, 0.02], [0.1, 0.7, 0.1, 0.1], [0.2, 0.2, 0.5, 0.1], [0.6, 0.1, 0.1, 0.2],
    ]
    let truth = [0, 1, 2, 3]
    let seg = SegmentationReport(overlaps: [PixelOverlap()], detection: DetectionScore())
    let rob = [
      EvaluationReport.RobustnessRow(
        shift: .gray, report: ClassificationReport(classes: ["a"], truth: [0], predicted: [0]))
    ]
    let r = EvaluationReport(
      schema: .all4, probabilities: probs, truth: truth, segmentation: seg, robustness: rob)
    #expect(r.classification.accuracy == 0.75)
    // Pro predicted Benign: the binary table has one malignant image called benign
    #expect(r.binary?.confusion == [[1, 0], [1, 2]])
    let obj = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as! [String: Any]
    for key in [
      "n", "accuracy", "kappa", "macro", "per_class", "confusion", "binary", "segmentation", "calibration",
      "robustness",
    ] {
      #expect(obj[key] != nil, "\(key)")
    }
    let s = obj["segmentation"] as! [String: Any]
    #expect(s["dice"] != nil && s["iou"] != nil && s["detection_f1"] != nil)
    #expect((obj["calibration"] as! [String: Any])["ece"] != nil)
    #expect(((obj["robustness"] as! [[String: Any]])[0]["shift"] as! String) == "gray")
    let flat = EvaluationReport(schema: .wbc5, probabilities: [[1, 0, 0, 0, 0]], truth: [0])
    #expect(flat.binary == nil)
    #expect((obj["undefined"] as? [Any])?.isEmpty == true)
  }

  /// Every image Early-B and called Early-B: chance agreement is 1 in the four-class table and in
  /// the benign-vs-malignant one, so kappa is 0/0 in both. The JSON says null and gives the
  /// reason under `undefined`, as `agree --json` does, instead of the 1 eval used to print.
  @Test func kappaWithChanceAgreementOneIsNullWithItsReason() throws {
    let probs: [[Double]] = [[0.1, 0.7, 0.1, 0.1], [0.2, 0.5, 0.2, 0.1], [0.05, 0.9, 0.03, 0.02]]
    let r = EvaluationReport(schema: .all4, probabilities: probs, truth: [1, 1, 1])
    #expect(r.classification.accuracy == 1)
    #expect(r.classification.kappa.value == nil)
    #expect(r.binary?.kappa.value == nil)
    #expect(r.undefined.map(\.statistic) == ["kappa", "binary.kappa"])
    let obj = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as! [String: Any]
    #expect(obj["kappa"] is NSNull)
    #expect((obj["binary"] as? [String: Any])?["kappa"] is NSNull)
    let undefined = try #require(obj["undefined"] as? [[String: String]])
    #expect(undefined.map { $0["statistic"] } == ["kappa", "binary.kappa"])
    #expect(undefined.allSatisfy { $0["reason"]?.contains("chance agreement p_e = 1") == true })
  }
}
