import Agreement
import Foundation
import Terminal
import Workflows

/// What `agree --session` adds to the agreement report: the session, mask agreement between
/// every pair of raters, and the promoted model against the consensus label. These are the
/// numbers of the review dashboard (both come from `SessionAgreementReport`).
enum AgreeSessionReport {
  /// The `agree` JSON (issue 6's keys) plus `session`, `masks` and `model`.
  static func json(_ r: SessionAgreementReport, options: AgreementOptions) -> JSONOutput {
    guard case .object(var fields) = AgreeReport.json(r.labels, options: options) else {
      return AgreeReport.json(r.labels, options: options)
    }
    let s = r.session
    let extra: [(String, JSONOutput)] = [
      (
        "session",
        .object([
          ("name", .string(s.name)), ("read_as", r.readAs.map { .string($0) } ?? .null),
          ("blinded", .bool(s.blinded)), ("hide_model", .bool(s.hideModel)), ("closed", .bool(!s.isOpen)),
          ("created_by", .string(s.createdBy)), ("cases", .int(s.caseCount)),
          ("visible_cases", .int(r.visibleCases)),
          ("labelled", .object(s.raters.map { ($0, .int(s.labelled[$0] ?? 0)) })),
          ("counted_labels", .string(s.blinded ? "blind" : "current")),
        ])
      ),
      ("revisions", revisionsJSON(r)),
      ("masks", .array(r.masks.map(maskJSON))),
      ("model", r.model.map(modelJSON) ?? .null),
    ]
    // Before `undefined`, which stays last.
    let at = fields.firstIndex { $0.0 == "undefined" } ?? fields.count
    fields.insert(contentsOf: extra, at: at)
    return .object(fields)
  }

  /// Labels changed after the blind one (not counted): per rater, and per case.
  static func revisionsJSON(_ r: SessionAgreementReport) -> JSONOutput {
    var byRater: [JSONOutput] = []
    for x in r.revisionsByRater {
      let fields: [(String, JSONOutput)] = [
        ("rater", .string(x.rater)), ("revisions", .int(x.revisions)), ("cases", .int(x.cases)),
      ]
      byRater.append(.object(fields))
    }
    var cases: [JSONOutput] = []
    for x in r.revisions {
      let current: JSONOutput = x.currentLabel.map { JSONOutput.string($0) } ?? .null
      let fields: [(String, JSONOutput)] = [
        ("case", .int(Int(x.caseID))), ("rater", .string(x.rater)), ("blind_label", .string(x.blindLabel)),
        ("current_label", current), ("revisions", .int(x.revisions)),
      ]
      cases.append(.object(fields))
    }
    return .object([("by_rater", .array(byRater)), ("cases", .array(cases))])
  }

  static func maskJSON(_ m: MaskPairAgreement) -> JSONOutput {
    let s = m.summary
    return .object([
      ("a", .string(m.a)), ("b", .string(m.b)), ("n_cases", .int(m.cases.count)), ("only_a", .int(m.onlyA)),
      ("only_b", .int(m.onlyB)),
      (
        "pooled",
        .object([
          ("dice", .number(s.pooledDice.value)), ("iou", .number(s.pooledIoU.value)),
          ("f1", .number(s.pooledF1.value)), ("pq", .number(s.pooledPQ.value)),
          ("aji", .number(s.pooledAJI.value)),
        ])
      ),
      (
        "mean",
        .object([
          ("dice", .number(s.meanDice.value.value)), ("iou", .number(s.meanIoU.value.value)),
        ])
      ),
    ])
  }

  static func metricsJSON(_ m: ClassMetrics) -> JSONOutput {
    .object([
      ("precision", .double(m.precision)), ("recall", .double(m.recall)), ("f1", .double(m.f1)),
      ("specificity", .double(m.specificity)), ("npv", .double(m.npv)), ("support", .int(m.support)),
    ])
  }

  static func modelJSON(_ m: ModelAgreement) -> JSONOutput {
    var o: [(String, JSONOutput)] = [
      ("version", m.modelVersion.map { .int(Int($0)) } ?? .null), ("n", .int(m.n)),
      ("no_consensus", .int(m.noConsensus)), ("without_prediction", .int(m.withoutPrediction)),
      ("hidden_predictions", .int(m.hiddenPredictions)), ("adjudicated", .int(m.adjudicated)),
    ]
    if let r = m.report {
      o += [
        ("accuracy", .double(r.accuracy)), ("kappa", .number(r.kappa.value)), ("macro", metricsJSON(r.macro)),
        ("per_class", .object(r.classes.map { ($0, r.perClass[$0].map(metricsJSON) ?? .null) })),
        (
          "confusion",
          .object([
            ("rows", .string("consensus")), ("cols", .string("model")),
            ("matrix", .array(r.confusion.map { .array($0.map { .int($0) }) })),
          ])
        ),
      ]
    } else {
      o += [
        ("accuracy", .null), ("kappa", .null), ("macro", .null), ("per_class", .null), ("confusion", .null),
      ]
    }
    return .object(o)
  }

  /// The text report's session sections.
  static func text(_ r: SessionAgreementReport) -> String {
    let safe = Sanitizer.sanitize(_:)
    let f = { (x: Double?) in x.map { AgreeOutput.fixed($0) } ?? "undefined" }
    var out: [String] = [""]
    if r.session.blinded {
      let by = r.revisionsByRater
      if by.isEmpty {
        out.append("Revisions after unblinding: none (the statistics count the labels given blind).")
      } else {
        out.append(
          "Revisions after unblinding (not counted; the statistics count the labels given blind): "
            + by.map { "\(safe($0.rater)) \($0.revisions) on \($0.cases) case\($0.cases == 1 ? "" : "s")" }
            .joined(separator: ", "))
      }
      out.append("")
    }
    if r.masks.isEmpty {
      out.append("Masks: no pair of raters.")
    }
    for m in r.masks {
      let s = m.summary
      out.append(
        "Masks \(safe(m.a)) and \(safe(m.b)): \(m.cases.count) cases drawn by both (only \(safe(m.a)) \(m.onlyA), "
          + "only \(safe(m.b)) \(m.onlyB)); pooled Dice \(f(s.pooledDice.value)), IoU \(f(s.pooledIoU.value)); "
          + "mean Dice \(f(s.meanDice.value.value)), IoU \(f(s.meanIoU.value.value))")
    }
    out.append("")
    if let m = r.model, m.modelVersion == nil {
      out.append("Model: none promoted.")
    } else if let m = r.model {
      let version = m.modelVersion.map { "v\($0)" } ?? ""
      var head =
        "Model \(version) against the consensus label: \(m.n) cases (no consensus \(m.noConsensus), "
        + "no prediction \(m.withoutPrediction)"
      if m.hiddenPredictions > 0 { head += ", prediction hidden \(m.hiddenPredictions)" }
      out.append(head + ")")
      if let c = m.report {
        out.append(
          "  accuracy \(f(c.accuracy)), kappa \(f(c.kappa.value)); macro precision \(f(c.macro.precision)), "
            + "recall \(f(c.macro.recall)), F1 \(f(c.macro.f1)), specificity \(f(c.macro.specificity)), "
            + "NPV \(f(c.macro.npv))")
      }
      out.append(
        "  The consensus is the adjudicated label, else the label of a strict majority of two or more raters."
      )
    }
    return out.joined(separator: "\n") + "\n"
  }
}
