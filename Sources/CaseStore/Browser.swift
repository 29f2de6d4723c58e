import Foundation
import GRDB

/// Which cases the browser lists. Fields combine with AND; nil/false means "any".
public struct CaseFilter: Sendable, Equatable, Hashable {
  /// The promoted model's predicted class.
  public var predictedLabel: String?
  /// The viewer's current label.
  public var myLabel: String?
  /// Cases the viewer has not labelled.
  public var unreviewed: Bool
  /// Cases where raters' current labels differ (hidden cases never match while blinded).
  public var disagreement: Bool
  public var split: Split?
  /// The promoted model's confidence below this (cases without a visible prediction do not match).
  public var confidenceBelow: Double?
  /// `42` or `#42`: that case id; otherwise a case-insensitive substring of the image path,
  /// or a SHA-256 prefix (6+ hex digits).
  public var search: String?

  public init(
    predictedLabel: String? = nil, myLabel: String? = nil, unreviewed: Bool = false,
    disagreement: Bool = false,
    split: Split? = nil, confidenceBelow: Double? = nil, search: String? = nil
  ) {
    self.predictedLabel = predictedLabel
    self.myLabel = myLabel
    self.unreviewed = unreviewed
    self.disagreement = disagreement
    self.split = split
    self.confidenceBelow = confidenceBelow
    self.search = search
  }
}

/// Browser orderings. Ties are broken by case id in the same direction.
public enum CaseSort: String, Sendable, Equatable, Hashable, CaseIterable {
  case id
  /// The promoted model's confidence (cases without a visible prediction sort as SQL NULL:
  /// first ascending, last descending).
  case confidence
  /// Import time.
  case added
  /// The viewer's last edit of the case (unedited cases as NULL).
  case myLastEdit
  /// In a session: cases the viewer has not labelled first, then session order.
  case sessionQueue
}

/// A position in a browser listing (keyset pagination: no OFFSET, so the 2,000th page costs
/// the same as the first).
public struct CaseCursor: Sendable, Equatable, Hashable {
  public enum Key: Sendable, Equatable, Hashable {
    case null
    case number(Double)
    case text(String)
  }
  public var key: Key
  public var caseID: Int64
}

public struct CasePageRequest: Sendable, Equatable, Hashable {
  public var filter: CaseFilter
  public var sort: CaseSort
  public var ascending: Bool
  /// Start after this row (next page) or, with `backward`, end before it (previous page).
  public var cursor: CaseCursor?
  public var backward: Bool
  public var limit: Int

  public init(
    filter: CaseFilter = CaseFilter(), sort: CaseSort = .id, ascending: Bool = true,
    cursor: CaseCursor? = nil,
    backward: Bool = false, limit: Int = 50
  ) {
    self.filter = filter
    self.sort = sort
    self.ascending = ascending
    self.cursor = cursor
    self.backward = backward
    self.limit = limit
  }
}

/// One browser tile, as the viewer may see it.
public struct CaseRow: Sendable, Equatable {
  public var id: Int64
  public var path: String
  public var imagePath: String
  /// Where the TUI caches this case's thumbnail (`cache/thumbnails/<sha256>.png`).
  public var thumbnailPath: String
  public var sha256: String
  public var width: Int
  public var height: Int
  public var split: Split
  public var addedAt: Date
  /// The promoted model's prediction; nil when absent or hidden.
  public var predictedLabel: String?
  public var confidence: Double?
  public var modelVersion: Int64?
  /// The viewer's current label and whether their current annotation has a mask.
  public var myLabel: String?
  public var myMask: Bool
  public var myLastEdit: Date?
  /// Whether raters disagree; nil while the viewer is blinded for the case.
  public var disagreement: Bool?
  /// Raters with a current label; nil while blinded.
  public var labelCount: Int?
  public var blinded: Bool
  public var modelHidden: Bool
  public var cursor: CaseCursor
}

public struct CasePage: Sendable, Equatable {
  public var rows: [CaseRow]
  /// Cursors for the next and previous pages, nil at either end.
  public var next: CaseCursor?
  public var previous: CaseCursor?
}

extension CaseStore {
  /// One page of the browser (default 50 rows) under a filter and sort, for the viewer.
  ///
  /// Global view: every case, "my label" is the viewer's newest label. Session view
  /// (`viewer.session`): the session's cases, labels made in the session. Blinding applies
  /// in both (see `Blinding.swift`). Served from indexes on the derived `case_status`,
  /// `current_annotation` and `session_current` tables; `docs/benchmarks.md` shows the plans.
  public func casePage(_ request: CasePageRequest, viewer: Viewer) throws(StoreError) -> CasePage {
    let root = try imageRoot()
    let thumbs = workspace.thumbnailsDirectory
    let limit = max(1, min(request.limit, 1000))
    return try read { db in
      let q = try BrowserQuery(db, request: request, viewer: viewer, store: self)
      var rows = try Row.fetchAll(
        db, sql: q.pageSQL(limit: limit + 1), arguments: q.pageArguments(limit: limit + 1)
      )
      .map { q.caseRow($0, root: root, thumbs: thumbs) }
      let more = rows.count > limit
      if more { rows.removeLast() }
      if request.backward { rows.reverse() }
      let atStart = request.cursor == nil && !request.backward
      let next: CaseCursor? =
        request.backward
        ? (request.cursor == nil ? nil : rows.last?.cursor) : (more ? rows.last?.cursor : nil)
      let previous: CaseCursor? =
        request.backward ? (more ? rows.first?.cursor : nil) : (atStart ? nil : rows.first?.cursor)
      return CasePage(rows: rows, next: next, previous: previous)
    }
  }

  /// How many cases match the filter for the viewer (the header's counts).
  public func caseCount(_ filter: CaseFilter, viewer: Viewer) throws(StoreError) -> Int {
    try read { db in
      let q = try BrowserQuery(db, request: CasePageRequest(filter: filter), viewer: viewer, store: self)
      return try Int.fetchOne(db, sql: q.countSQL(), arguments: q.filterArguments) ?? 0
    }
  }

  /// The SQL and `EXPLAIN QUERY PLAN` of a browser request (for the benchmark report).
  public func explainCasePage(_ request: CasePageRequest, viewer: Viewer) throws(StoreError) -> (
    sql: String, plan: [String]
  ) {
    try read { db in
      let q = try BrowserQuery(db, request: request, viewer: viewer, store: self)
      let sql = q.pageSQL(limit: request.limit + 1)
      let plan = try Row.fetchAll(
        db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: q.pageArguments(limit: request.limit + 1)
      )
      .map { r -> String in
        let detail: String = r["detail"]
        return detail
      }
      return (sql, plan)
    }
  }
}

/// Builds the browser's SQL for one request and viewer.
private struct BrowserQuery {
  let request: CasePageRequest
  let sessionID: Int64?
  let viewerID: Int64?
  let hidesAnnotations: Bool
  let hidesModel: Bool
  var filterClauses: [String] = []
  var filterArguments = StatementArguments()

  init(_ db: Database, request: CasePageRequest, viewer: Viewer, store: CaseStore) throws {
    self.request = request
    viewerID = try CaseStore.viewerRaterID(db, viewer)
    sessionID = try CaseStore.viewerSessionID(db, viewer)
    let pending = try CaseStore.viewerHasPendingBlinding(db, viewerID: viewerID)
    hidesAnnotations = pending.annotations
    hidesModel = pending.model
    if request.sort == .sessionQueue && sessionID == nil {
      throw StoreError.invalidInput("the session queue order needs a session")
    }
    let f = request.filter
    if let l = f.predictedLabel {
      filterClauses.append("\(predLabelExpr) = ?")
      _ = filterArguments.append(contentsOf: [try store.canonicalLabel(l)])
    }
    if let l = f.myLabel {
      filterClauses.append("mine.label = ?")
      _ = filterArguments.append(contentsOf: [try store.canonicalLabel(l)])
    }
    if f.unreviewed { filterClauses.append("mine.label IS NULL") }
    if f.disagreement { filterClauses.append("\(disagreementExpr) = 1") }
    if let s = f.split {
      filterClauses.append("cs.split = ?")
      _ = filterArguments.append(contentsOf: [s.rawValue])
    }
    if let c = f.confidenceBelow {
      filterClauses.append("\(confidenceExpr) < ?")
      _ = filterArguments.append(contentsOf: [c])
    }
    if let raw = f.search?.trimmingCharacters(in: .whitespaces), !raw.isEmpty {
      let digits = raw.hasPrefix("#") ? String(raw.dropFirst()) : raw
      if digits.allSatisfy({ $0.isASCII && $0.isNumber }), let id = Int64(digits) {
        filterClauses.append("cs.case_id = ?")
        _ = filterArguments.append(contentsOf: [id])
      } else {
        let escaped = raw.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
          of: "%", with: "\\%"
        )
        .replacingOccurrences(of: "_", with: "\\_")
        let hex = raw.lowercased()
        if hex.count >= 6, hex.allSatisfy(\.isHexDigit) {
          filterClauses.append("(c.path LIKE ? ESCAPE '\\' OR (c.sha256 >= ? AND c.sha256 < ?))")
          _ = filterArguments.append(contentsOf: ["%" + escaped + "%", hex, hex + "g"])
        } else {
          filterClauses.append("c.path LIKE ? ESCAPE '\\'")
          _ = filterArguments.append(contentsOf: ["%" + escaped + "%"])
        }
      }
    }
  }

  var me: String { viewerID.map(String.init) ?? "NULL" }

  var hiddenAnnotations: String {
    hidesAnnotations ? CaseStore.hiddenAnnotationsSQL(viewer: me, caseExpr: "cs.case_id") : "0"
  }
  var hiddenModel: String { hidesModel ? CaseStore.hiddenModelSQL(viewer: me, caseExpr: "cs.case_id") : "0" }

  var predLabelExpr: String {
    hidesModel ? "(CASE WHEN \(hiddenModel) THEN NULL ELSE cs.pred_label END)" : "cs.pred_label"
  }
  var confidenceExpr: String {
    hidesModel ? "(CASE WHEN \(hiddenModel) THEN NULL ELSE cs.pred_confidence END)" : "cs.pred_confidence"
  }
  var rawDisagreement: String { sessionID == nil ? "cs.disagreement" : "sc.disagreement" }
  var rawLabelCount: String { sessionID == nil ? "cs.n_labels" : "sc.n_labels" }
  var disagreementExpr: String {
    hidesAnnotations ? "(CASE WHEN \(hiddenAnnotations) THEN 0 ELSE \(rawDisagreement) END)" : rawDisagreement
  }

  var fromSQL: String {
    if let sid = sessionID {
      return """
        session_case sc JOIN case_status cs ON cs.case_id = sc.case_id
        JOIN "case" c ON c.id = cs.case_id
        LEFT JOIN session_current mine ON mine.session_id = \(sid) AND mine.case_id = cs.case_id AND mine.rater_id = \(me)
        """
    }
    return """
      case_status cs JOIN "case" c ON c.id = cs.case_id
      LEFT JOIN current_annotation mine ON mine.case_id = cs.case_id AND mine.rater_id = \(me)
      """
  }

  var whereSQL: String {
    var clauses = filterClauses
    if let sid = sessionID { clauses.insert("sc.session_id = \(sid)", at: 0) }
    return clauses.isEmpty ? "1" : clauses.joined(separator: " AND ")
  }

  func countSQL() -> String { "SELECT count(*) FROM \(fromSQL) WHERE \(whereSQL)" }

  /// The sort key expression; nil for plain id order.
  var sortKey: String? {
    switch request.sort {
    case .id: return nil
    case .confidence: return confidenceExpr
    case .added: return "cs.added_at"
    case .myLastEdit: return "mine.created_at"
    case .sessionQueue: return "((mine.label IS NOT NULL) * 4294967296 + sc.position)"
    }
  }

  /// Direction of this query: reversed when paging backward.
  var queryAscending: Bool { request.backward ? !request.ascending : request.ascending }

  func pageSQL(limit: Int) -> String {
    let dir = queryAscending ? "ASC" : "DESC"
    var clauses = [whereSQL]
    if let c = request.cursor { clauses.append(keysetClause(c)) }
    let order = sortKey.map { "\($0) \(dir), cs.case_id \(dir)" } ?? "cs.case_id \(dir)"
    return """
      SELECT cs.case_id AS id, c.path, c.path_is_relative, c.sha256, c.width, c.height, cs.split, cs.added_at,
        \(predLabelExpr) AS pred_label, \(confidenceExpr) AS pred_confidence,
        CASE WHEN \(hiddenModel) THEN NULL ELSE cs.pred_model END AS pred_model,
        mine.label AS my_label, mine.mask_id IS NOT NULL AS my_mask, mine.created_at AS my_time,
        CASE WHEN \(hiddenAnnotations) THEN NULL ELSE \(rawDisagreement) END AS disagreement,
        CASE WHEN \(hiddenAnnotations) THEN NULL ELSE \(rawLabelCount) END AS n_labels,
        \(hiddenAnnotations) AS blinded, \(hiddenModel) AS model_hidden,
        \(sortKey ?? "NULL") AS sort_key
      FROM \(fromSQL)
      WHERE \(clauses.joined(separator: " AND "))
      ORDER BY \(order)
      LIMIT \(limit)
      """
  }

  func pageArguments(limit: Int) -> StatementArguments {
    var args = filterArguments
    if let c = request.cursor { _ = args.append(contentsOf: keysetArguments(c)) }
    return args
  }

  /// Rows strictly after the cursor in this query's direction. SQLite orders NULL first
  /// ascending and last descending; the clauses follow that.
  func keysetClause(_ c: CaseCursor) -> String {
    let asc = queryAscending
    let cmp = asc ? ">" : "<"
    guard let key = sortKey else { return "cs.case_id \(cmp) ?" }
    switch (c.key, asc) {
    case (.null, true): return "((\(key) IS NULL AND cs.case_id > ?) OR \(key) IS NOT NULL)"
    case (.null, false): return "(\(key) IS NULL AND cs.case_id < ?)"
    case (_, true): return "(\(key) > ? OR (\(key) = ? AND cs.case_id > ?))"
    case (_, false): return "(\(key) < ? OR (\(key) = ? AND cs.case_id < ?) OR \(key) IS NULL)"
    }
  }

  func keysetArguments(_ c: CaseCursor) -> StatementArguments {
    guard sortKey != nil else { return [c.caseID] }
    switch c.key {
    case .null: return [c.caseID]
    case .number(let v): return [v, v, c.caseID]
    case .text(let t): return [t, t, c.caseID]
    }
  }

  func caseRow(_ r: Row, root: String?, thumbs: String) -> CaseRow {
    let id: Int64 = r["id"]
    let path: String = r["path"]
    let sha: String = r["sha256"]
    let key: CaseCursor.Key
    let dbKey: DatabaseValue = r["sort_key"]
    switch dbKey.storage {
    case .null: key = .null
    case .int64(let i): key = .number(Double(i))
    case .double(let d): key = .number(d)
    case .string(let s): key = .text(s)
    case .blob: key = .null
    }
    let disagreement: Int? = r["disagreement"]
    return CaseRow(
      id: id, path: path, imagePath: CaseStore.resolvePath(path, relative: r["path_is_relative"], root: root),
      thumbnailPath: thumbs + "/" + sha + ".png", sha256: sha, width: r["width"], height: r["height"],
      split: Split(rawValue: r["split"]) ?? .train,
      addedAt: CaseStore.date(r["added_at"]) ?? Date(timeIntervalSince1970: 0),
      predictedLabel: r["pred_label"], confidence: r["pred_confidence"], modelVersion: r["pred_model"],
      myLabel: r["my_label"], myMask: r["my_mask"], myLastEdit: CaseStore.date(r["my_time"]),
      disagreement: disagreement.map { $0 != 0 }, labelCount: r["n_labels"], blinded: r["blinded"],
      modelHidden: r["model_hidden"], cursor: CaseCursor(key: key, caseID: id))
  }
}
