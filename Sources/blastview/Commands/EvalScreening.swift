import Foundation
import Imaging
import MTACNN
import Terminal

/// `eval`'s screening section for a hierarchical model: the "possibly malignant" call at the
/// checkpoint's operating point on the evaluated images (sensitivity and specificity with their
/// counts), and the ROC and precision-recall curves of P(malignant).
struct ScreeningSummary {
  var point: OperatingPoint?
  /// The counts at the operating point on the evaluated images (nil without a point).
  var at: ScreeningCounts?
  var curves: ScreeningCurves?
  var n: Int

  init(run: EvaluationRun, point: OperatingPoint?) {
    let p = run.probabilities.map { 1 - $0[0] }
    let m = run.truth.map { $0 != 0 }
    self.point = point
    at = point.map { ScreeningCounts(pMalignant: p, isMalignant: m, threshold: $0.threshold) }
    curves = ScreeningCurves(pMalignant: p, isMalignant: m)
    n = p.count
  }

  var text: String {
    var lines: [String] = []
    if let point, let at {
      lines.append(
        String(
          format: "Screening: \"possibly malignant\" when P(malignant) >= %.6g, a call separate from the "
            + "argmax class above", point.threshold))
      lines.append(
        String(
          format: "  operating point chosen on %@ for %@: sensitivity %.4f of %d malignant, "
            + "specificity %.4f of %d benign", Sanitizer.sanitize(point.split) as NSString,
          point.rule as NSString,
          point.sensitivity, point.malignant, point.specificity, point.benign))
      lines.append(
        "  here: sensitivity " + rate(at.sensitivity)
          + " (\(at.caught) of \(at.malignant) malignant caught, \(at.missed) missed), specificity "
          + rate(at.specificity)
          + " (\(at.cleared) of \(at.benign) benign cleared, \(at.falseAlarms) false alarms)")
    } else {
      lines.append(
        "Screening: no operating point in this checkpoint (choose one with --split val --set-operating-point 0.995)"
      )
    }
    if let curves {
      lines.append(
        String(
          format: "  P(malignant): ROC AUC %.4f, average precision %.4f (%d malignant, %d benign)",
          curves.rocAUC,
          curves.averagePrecision, curves.positives, curves.negatives))
    }
    return lines.joined(separator: "\n")
  }

  private func rate(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "undefined" }

  /// `screening` in `eval --json`: `operating_point` (as stored, or null), `at_operating_point`
  /// (the counts here, or null), `roc_auc`, `average_precision`.
  func json() throws -> JSONOutput {
    .object([
      ("at_operating_point", try at.map { try JSONOutput(encoding: $0) } ?? .null),
      ("average_precision", .number(curves?.averagePrecision)),
      ("n", .int(n)),
      ("operating_point", try point.map { try JSONOutput(encoding: $0) } ?? .null),
      ("roc_auc", .number(curves?.rocAUC)),
    ])
  }
}

/// Draws `eval --plots`: roc.png (true against false positive rate) and pr.png (precision
/// against recall), with the operating point marked when there is one.
enum ScreeningPlots {
  static func write(_ c: ScreeningCurves, point: ScreeningCounts?, into dir: String, title: String) throws {
    do {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    } catch {
      throw CLIError(message: "--plots \(dir): cannot create the folder (\(error.localizedDescription))")
    }
    var roc = LinePlot(
      title: "ROC of P(malignant): " + title, xLabel: "False positive rate (1 - specificity)",
      yLabel: "True positive rate (sensitivity)")
    roc.series.append(.init(points: [(0, 0), (1, 1)], colour: (170, 170, 170), dashed: true))
    roc.series.append(
      .init(points: c.points.map { ($0.falsePositiveRate, $0.truePositiveRate) }, colour: (0, 90, 200)))
    roc.legend = String(format: "AUC %.4f, %d malignant, %d benign", c.rocAUC, c.positives, c.negatives)
    var pr = LinePlot(
      title: "Precision-recall of P(malignant): " + title, xLabel: "Recall (sensitivity)", yLabel: "Precision"
    )
    // Precision is undefined before the first positive call: the curve starts at the first threshold.
    pr.series.append(
      .init(
        points: c.points.compactMap { p in p.precision.map { (p.truePositiveRate, $0) } },
        colour: (0, 90, 200)))
    pr.legend = String(format: "average precision %.4f", c.averagePrecision)
    if let point, let sens = point.sensitivity, let spec = point.specificity {
      roc.markers.append(.init(x: 1 - spec, y: sens, colour: (210, 30, 30)))
      roc.legend! += String(format: "; operating point sens %.3f spec %.3f", sens, spec)
      let called = point.caught + point.falseAlarms
      if called > 0 {
        pr.markers.append(.init(x: sens, y: Double(point.caught) / Double(called), colour: (210, 30, 30)))
        pr.legend! += String(format: "; operating point recall %.3f", sens)
      }
    }
    for (name, plot) in [("roc.png", roc), ("pr.png", pr)] {
      let path = URL(fileURLWithPath: dir).appendingPathComponent(name).path
      do { try writePNG(plot.render(), to: path) } catch { throw CLIError(error) }
    }
  }
}
