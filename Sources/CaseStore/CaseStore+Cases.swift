import Foundation
import GRDB

/// What the case view needs about one case, as the viewer may see it.
public struct CaseDetail: Sendable, Equatable {
  public var record: CaseRecord
  /// The promoted model's prediction, nil when absent or hidden (`--hide-model`).
  public var prediction: Prediction?
  /// Every rater's current annotation (session-scoped in a session), the viewer's own
  /// always, others' only when blinding allows.
  public var current: [Annotation]
  public var mine: Annotation?
  /// The reference mask from import, nil when absent or hidden.
  public var referenceMaskID: Int64?
  /// The newest adjudication (the case's final label), nil when absent or hidden.
  public var adjudication: Adjudication?
  /// Every adjudication of the case, oldest first (empty when none or hidden), for the history.
  public var adjudications: [Adjudication] = []
  /// True while the viewer may not see other raters' work on this case.
  public var blinded: Bool
  /// True while the viewer may not see the model's prediction for this case.
  public var modelHidden: Bool
  /// Why the case's image cannot be shown as this case (missing, unreadable, or replaced
  /// since import: its bytes no longer match the recorded SHA-256); nil when it is fine.
  public var imageProblem: String? = nil
}

extension CaseStore {
  /// Number of cases in the workspace.
  public func caseCount() throws(StoreError) -> Int {
    try read { db in try Int.fetchOne(db, sql: #"SELECT count(*) FROM "case""#) ?? 0 }
  }

  /// The case with this id, with its reference label left out while the viewer is blinded
  /// for it (the import label is as revealing as another rater's).
  public func caseRecord(id: Int64, viewer: Viewer) throws(StoreError) -> CaseRecord {
    let root = try imageRoot()
    let found: CaseRecord? = try read { db in
      guard
        var rec = try Row.fetchOne(db, sql: #"SELECT * FROM "case" WHERE id = ?"#, arguments: [id])
          .map({ CaseStore.caseRecord($0, root: root) })
      else { return nil }
      if try CaseStore.annotationsHidden(db, viewerID: CaseStore.viewerRaterID(db, viewer), caseID: id) {
        rec.blind()
      }
      return rec
    }
    guard let found else { throw confirmNotDamaged(.unknownCase(String(id))) }
    return found
  }

  /// Everything the case view shows, in one consistent read.
  public func caseDetail(id: Int64, viewer: Viewer) throws(StoreError) -> CaseDetail {
    let record = try caseRecord(id: id, viewer: viewer)
    let current = try currentAnnotations(case: id, viewer: viewer)
    let adjudications = try adjudications(case: id, viewer: viewer)
    return try read { db in
      let vid = try CaseStore.viewerRaterID(db, viewer)
      let blinded = try CaseStore.annotationsHidden(db, viewerID: vid, caseID: id)
      let modelHidden = try CaseStore.modelHidden(db, viewerID: vid, caseID: id)
      let prediction = modelHidden ? nil : try CaseStore.promotedPrediction(db, caseID: id)
      let refMask =
        blinded
        ? nil
        : try Int64.fetchOne(db, sql: "SELECT mask_id FROM reference_mask WHERE case_id = ?", arguments: [id])
      return CaseDetail(
        record: record, prediction: prediction, current: current,
        mine: viewer.rater.flatMap { me in current.first { $0.rater == me } }, referenceMaskID: refMask,
        adjudication: adjudications.last, adjudications: adjudications, blinded: blinded,
        modelHidden: modelHidden, imageProblem: CaseStore.imageProblem(record))
    }
  }

  /// Finds a case from what a user typed: a case id (`42` or `#42`), an image path (as
  /// stored, as given on the command line, or resolved against the image root) or a
  /// SHA-256 prefix of at least 6 hex digits. Ambiguous prefixes are refused with the matches.
  /// A miss is checked against damage first (an index that no longer matches its table misses
  /// cases that exist), so "no case matches" is never the answer of a damaged database.
  public func resolveCase(_ text: String) throws(StoreError) -> Int64 {
    do throws(StoreError) {
      return try lookUpCase(text)
    } catch {
      if case .unknownCase = error { throw confirmNotDamaged(error) }
      throw error
    }
  }

  private func lookUpCase(_ text: String) throws(StoreError) -> Int64 {
    let t = text.trimmingCharacters(in: .whitespaces)
    let root = try imageRoot()
    return try read { db in
      let digits = t.hasPrefix("#") ? String(t.dropFirst()) : t
      if !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let id = Int64(digits),
        try Bool.fetchOne(db, sql: #"SELECT EXISTS (SELECT 1 FROM "case" WHERE id = ?)"#, arguments: [id])
          == true
      {
        return id
      }
      var candidates = [t, Workspace.absolute(t)]
      if let root {
        let absRoot = Workspace.absolute(root)
        let abs = Workspace.absolute(t)
        if abs.hasPrefix(absRoot + "/") { candidates.append(String(abs.dropFirst(absRoot.count + 1))) }
      }
      for p in candidates {
        let ids = try Int64.fetchAll(db, sql: #"SELECT id FROM "case" WHERE path = ?"#, arguments: [p])
        if ids.count == 1 { return ids[0] }
        if ids.count > 1 { throw StoreError.ambiguousCase(text, matches: ids) }
      }
      let hex = t.lowercased()
      if hex.count >= 6, hex.count <= 64, hex.allSatisfy({ $0.isHexDigit }) {
        let ids = try Int64.fetchAll(
          db, sql: #"SELECT id FROM "case" WHERE sha256 >= ? AND sha256 < ? ORDER BY id LIMIT 20"#,
          arguments: [hex, hex + "g"])
        if ids.count == 1 { return ids[0] }
        if ids.count > 1 { throw StoreError.ambiguousCase(text, matches: ids) }
      }
      throw StoreError.unknownCase(text)
    }
  }

  /// Every case, in id order, in pages (for export and the trainer).
  public func cases(afterID: Int64 = 0, limit: Int = 10_000, viewer: Viewer) throws(StoreError)
    -> [CaseRecord]
  {
    let root = try imageRoot()
    return try read { db in
      let vid = try CaseStore.viewerRaterID(db, viewer)
      return try Row.fetchAll(
        db,
        sql: """
          SELECT c.*, (? IS NOT NULL AND \(CaseStore.hiddenAnnotationsSQL(viewer: "?", caseExpr: "c.id"))) AS hidden
          FROM "case" c WHERE c.id > ? ORDER BY c.id LIMIT ?
          """, arguments: [vid, vid, afterID, limit]
      ).map { r in
        var rec = CaseStore.caseRecord(r, root: root)
        if r["hidden"] as Bool { rec.blind() }
        return rec
      }
    }
  }

  /// Case ids of one split, in id order (training and validation sets).
  public func caseIDs(split: Split) throws(StoreError) -> [Int64] {
    try read { db in
      try Int64.fetchAll(
        db, sql: #"SELECT id FROM "case" WHERE split = ? ORDER BY id"#, arguments: [split.rawValue])
    }
  }
}
