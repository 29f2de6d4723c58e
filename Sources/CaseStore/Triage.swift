import Foundation
import GRDB

/// How serious a triage item is, most serious first (issue 8's order, with issue 17's
/// screening miss ahead of everything).
public enum TriageSeverity: Int, Sendable, Codable, Comparable, CaseIterable {
  /// The promoted model calls the case possibly malignant (P(malignant) at or above its
  /// screening operating point) and a rater called it benign: the costly miss a screener must
  /// look at first.
  case possiblyMalignantCalledBenign = -1
  /// Labels (raters', or a rater's and the model's) fall in different groups: benign
  /// against malignant for `all4`.
  case groupDisagreement = 0
  /// Labels differ within one group (a subtype disagreement), or, for a flat schema, differ.
  case classDisagreement = 1
  /// Everyone agrees, but the model's confidence is below the threshold.
  case lowConfidence = 2

  public static func < (a: TriageSeverity, b: TriageSeverity) -> Bool { a.rawValue < b.rawValue }
}

/// One case in the disagreement triage queue.
public struct TriageItem: Sendable, Equatable, Codable {
  public var caseID: Int64
  public var severity: TriageSeverity
  /// Every rater's current label (as the viewer may see them).
  public var labels: [String: String]
  /// The promoted model's label and confidence, when there is a visible prediction.
  public var predictedLabel: String?
  public var confidence: Double?
  /// Whether a rater disagrees with the model (not only raters among themselves).
  public var disagreesWithModel: Bool
  /// The promoted model's P(malignant) (hierarchical schemas), when there is a visible prediction.
  public var pMalignant: Double? = nil
  /// Whether the raters' labels differ among themselves.
  public var ratersDisagree: Bool { Set(labels.values).count > 1 }
}

extension CaseStore {
  /// The triage queue (issue 8): cases where raters' current labels disagree with each other
  /// or with the promoted model, or where the model's confidence is below
  /// `confidenceBelow`, that have no adjudication yet. Ordered most severe first (benign
  /// against malignant, then subtype, then low confidence) and, within a severity, by model
  /// uncertainty (lowest confidence first; cases without a prediction after those with one),
  /// then case id. With `possiblyMalignantFrom` (the promoted model's screening operating
  /// point), a case whose P(malignant) reaches it and that a rater labelled with the negative
  /// group (Benign) comes before all of those, highest P(malignant) first.
  /// Blinding applies to the viewer: cases they may not see others' labels of
  /// are left out.
  ///
  /// With `session`, only that session's cases, and the labels its raters made in it (the
  /// queue a lead works through after a session); without, every case and every rater's
  /// current label.
  public func triageQueue(
    viewer: Viewer, confidenceBelow: Double = 0.6, limit: Int = 100_000, session: String? = nil,
    possiblyMalignantFrom: Double? = nil
  )
    throws(StoreError)
    -> [TriageItem]
  {
    let schema = labelSchema
    return try read { db in
      let vid = try CaseStore.viewerRaterID(db, viewer)
      let hidden =
        vid == nil ? "0" : CaseStore.hiddenAnnotationsSQL(viewer: String(vid!), caseExpr: "cs.case_id")
      let hiddenModel =
        vid == nil ? "0" : CaseStore.hiddenModelSQL(viewer: String(vid!), caseExpr: "cs.case_id")
      let sid = try session.map { try CaseStore.sessionID(db, $0) }
      let labelSource =
        sid.map { "session_current cur JOIN rater r ON r.id = cur.rater_id WHERE cur.session_id = \($0) AND" }
        ?? "current_annotation cur JOIN rater r ON r.id = cur.rater_id WHERE"
      let scope =
        sid.map { "JOIN session_case sc ON sc.case_id = cs.case_id AND sc.session_id = \($0)" } ?? ""
      let labelled =
        sid.map {
          "EXISTS (SELECT 1 FROM session_current l WHERE l.session_id = \($0) AND l.case_id = cs.case_id AND l.label IS NOT NULL)"
        } ?? "cs.n_labels > 0"
      // Candidates: any labelled case, or a low-confidence one; adjudicated cases have left.
      let rows = try Row.fetchAll(
        db,
        sql: """
          SELECT cs.case_id, CASE WHEN \(hiddenModel) THEN NULL ELSE cs.pred_label END AS pred_label,
            CASE WHEN \(hiddenModel) THEN NULL ELSE cs.pred_confidence END AS pred_confidence,
            CASE WHEN \(hiddenModel) THEN NULL ELSE (SELECT p.p_malignant FROM prediction p
               WHERE p.case_id = cs.case_id AND p.model_version = cs.pred_model) END AS p_malignant,
            (SELECT group_concat(r.name || char(31) || cur.label, char(30)) FROM \(labelSource)
               cur.case_id = cs.case_id AND cur.label IS NOT NULL) AS labels
          FROM case_status cs \(scope)
          WHERE (\(labelled) OR (cs.pred_confidence < ? AND NOT \(hiddenModel)))
            AND NOT EXISTS (SELECT 1 FROM adjudication j WHERE j.case_id = cs.case_id)
            AND NOT \(hidden)
          """, arguments: [confidenceBelow])
      let candidates = rows.map { r -> TriageCandidate in
        var labels: [String: String] = [:]
        if let text: String = r["labels"] {
          for pair in text.split(separator: "\u{1E}") {
            let parts = pair.split(separator: "\u{1F}", maxSplits: 1).map(String.init)
            if parts.count == 2 { labels[parts[0]] = parts[1] }
          }
        }
        return TriageCandidate(
          caseID: r["case_id"], labels: labels, predictedLabel: r["pred_label"],
          confidence: r["pred_confidence"],
          pMalignant: schema.isHierarchical ? r["p_malignant"] : nil)
      }
      return CaseStore.triageItems(
        candidates, schema: schema, confidenceBelow: confidenceBelow, limit: limit,
        possiblyMalignantFrom: possiblyMalignantFrom)
    }
  }

  /// Ranks triage candidates (issue 8's order), dropping those that need no triage; shared by
  /// both backends, whose queries only find the candidates a viewer may see.
  static func triageItems(
    _ candidates: [TriageCandidate], schema: LabelSchema, confidenceBelow: Double, limit: Int,
    possiblyMalignantFrom: Double? = nil
  ) -> [TriageItem] {
    var items: [TriageItem] = []
    let negative = schema.groups.first
    for c in candidates {
      let labels = c.labels
      let predicted = c.predictedLabel
      let confidence = c.confidence
      var all = Set(labels.values)
      let raterLabels = all
      if let predicted, !labels.isEmpty { all.insert(predicted) }
      let disagreesWithModel = predicted != nil && raterLabels.contains { $0 != predicted }
      let pMalignant = c.pMalignant
      let screeningMiss =
        possiblyMalignantFrom.map { t in pMalignant.map { $0 >= t } ?? false } ?? false
        && labels.values.contains { schema.group(of: $0) == negative }
      let severity: TriageSeverity
      if screeningMiss {
        severity = .possiblyMalignantCalledBenign
      } else if all.count > 1 {
        let groups = Set(all.map { schema.group(of: $0) ?? $0 })
        severity = schema.isHierarchical && groups.count > 1 ? .groupDisagreement : .classDisagreement
      } else if let confidence, confidence < confidenceBelow {
        severity = .lowConfidence
      } else {
        continue
      }
      items.append(
        TriageItem(
          caseID: c.caseID, severity: severity, labels: labels, predictedLabel: predicted,
          confidence: confidence,
          disagreesWithModel: disagreesWithModel, pMalignant: pMalignant))
    }
    items.sort { a, b in
      if a.severity != b.severity { return a.severity < b.severity }
      if a.severity == .possiblyMalignantCalledBenign, let x = a.pMalignant, let y = b.pMalignant, x != y {
        return x > y
      }
      switch (a.confidence, b.confidence) {
      case (let x?, let y?) where x != y: return x < y
      case (nil, _?): return false
      case (_?, nil): return true
      default: return a.caseID < b.caseID
      }
    }
    return Array(items.prefix(limit))
  }
}

/// A case the triage query found: the labels the viewer may see and the visible prediction.
struct TriageCandidate {
  var caseID: Int64
  var labels: [String: String]
  var predictedLabel: String?
  var confidence: Double?
  /// The visible prediction's P(malignant) (hierarchical schemas), for the screening call.
  var pMalignant: Double? = nil
}
