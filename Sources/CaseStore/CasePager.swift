import Foundation
import GRDB

// The store's keyset pager: pages of cases under a filter and a sort, as a viewer may see them
// (the review browser's grid and `blastview` listings read the store through it).

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
  /// Cases with a final label from an adjudicator (hidden cases never match while blinded).
  public var adjudicated: Bool = false
  /// The promoted model's confidence below this (cases without a visible prediction do not match).
  public var confidenceBelow: Double?
  /// The promoted model's P(malignant) at or above this: the screening operating point's
  /// "possibly malignant" (issue 17). Cases without a visible prediction, or whose prediction
  /// has no P(malignant) (a flat schema), do not match.
  public var pMalignantAtLeast: Double? = nil
  /// `42` or `#42`: that case id; otherwise a case-insensitive substring of the image path,
  /// or a SHA-256 prefix (6+ hex digits).
  public var search: String?

  public init(
    predictedLabel: String? = nil, myLabel: String? = nil, unreviewed: Bool = false,
    disagreement: Bool = false,
    split: Split? = nil, confidenceBelow: Double? = nil, search: String? = nil, adjudicated: Bool = false
  ) {
    self.adjudicated = adjudicated
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

  /// A cursor at a given sort key and case (a page from the middle of a listing).
  public init(key: Key, caseID: Int64) {
    self.key = key
    self.caseID = caseID
  }
}

public struct CasePageRequest: Sendable, Equatable, Hashable {
  public var filter: CaseFilter
  public var sort: CaseSort
  public var ascending: Bool
  /// Start after this row (next page) or, with `backward`, end before it (previous page).
  public var cursor: CaseCursor?
  public var backward: Bool
  public var limit: Int
  /// Tests set this to exercise both query strategies on small workspaces.
  var selectiveLimitOverride: Int? = nil

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
  /// Whether an adjudicator gave the case a final label; nil while the viewer is blinded for it.
  public var adjudicated: Bool? = nil
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
  /// in both (see `Blinding.swift`).
  ///
  /// How it stays fast on 100,000 cases (`docs/benchmarks.md` has the timings and plans):
  /// pages are keyset-paginated (no OFFSET); the ids of a page are found first, from an
  /// index, and only those 50 rows are then read in full; the driving index is chosen
  /// here, not left to SQLite's planner: when one filter is selective (at most
  /// `CasePageQuery.selectiveLimit` matches by its own index, counted with a capped
  /// index-only count) that index drives and the few matches are sorted; otherwise the
  /// sort order's index is walked and the other filters are checked row by row until the
  /// page is full. Sort keys that can be NULL (confidence, my last edit) are read as two
  /// index ranges, NULL part and value part, in SQLite's order (NULL first ascending).
  /// Session views and views with pending blinding on the sorted or filtered field use one
  /// general query (their cost grows with the session, not the workspace).
  public func casePage(_ request: CasePageRequest, viewer: Viewer) throws(StoreError) -> CasePage {
    let root = try imageRoot()
    let thumbs = workspace.thumbnailsDirectory
    let limit = max(1, min(request.limit, 1000))
    return try read { db in
      let q = try CasePageQuery(db, request: request, viewer: viewer, store: self)
      var rows = try q.fetchPage(db, limit: limit + 1, root: root, thumbs: thumbs)
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
      let q = try CasePageQuery(db, request: CasePageRequest(filter: filter), viewer: viewer, store: self)
      return try q.count(db)
    }
  }

  /// The statements a browser request runs and their `EXPLAIN QUERY PLAN` (benchmark report).
  public func explainCasePage(_ request: CasePageRequest, viewer: Viewer) throws(StoreError) -> (
    driver: String, statements: [(sql: String, plan: [String])]
  ) {
    try read { db in
      let q = try CasePageQuery(db, request: request, viewer: viewer, store: self)
      var out: [(String, [String])] = []
      let (driver, statements) = try q.keyStatements(db, limit: request.limit + 1)
      for (sql, args) in statements {
        let runnable = sql.replacingOccurrences(of: "__LIMIT__", with: String(request.limit + 1))
        let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + runnable, arguments: args).map {
          r -> String in
          let detail: String = r["detail"]
          return detail
        }
        out.append((runnable, plan))
      }
      return (driver, out)
    }
  }
}

/// Builds and runs the browser's SQL for one request and viewer.
private struct CasePageQuery {
  /// A filter whose own index finds at most this many cases drives the query.
  static let selectiveLimit = 3000

  let request: CasePageRequest
  let sessionID: Int64?
  let viewerID: Int64?
  let hidesAnnotations: Bool
  let hidesModel: Bool
  var terms: [Term] = []
  /// Whether the general single-query path is used (sessions, blinding on sorted/filtered fields).
  var general = false
  var needsCase = false
  var needsMine = false

  /// Which index a filter can drive from.
  enum Driver: String {
    case predictedLabel, myLabel, disagreement, split, confidence, caseID, search, adjudicated, pMalignant
  }

  /// One filter condition. `sql(true)` is the form that lets SQLite use the filter's index;
  /// `sql(false)` hides the column behind unary `+` so it is only checked row by row.
  struct Term {
    var sql: (Bool) -> String
    var arguments: [any DatabaseValueConvertible]
    var driver: Driver?
    /// A capped count of the cases this filter's index finds (for choosing the driver).
    var probe: (sql: String, arguments: [any DatabaseValueConvertible])?
  }

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
    let me = viewerID.map(String.init) ?? "NULL"
    if let l = f.predictedLabel {
      let label = try store.canonicalLabel(l)
      let expr = predLabelExpr
      terms.append(
        Term(
          sql: { $0 ? "\(expr) = ?" : "+\(expr) = ?" }, arguments: [label], driver: .predictedLabel,
          probe: ("SELECT 1 FROM case_status WHERE pred_label = ?", [label])))
    }
    if let l = f.myLabel {
      let label = try store.canonicalLabel(l)
      needsMine = true
      terms.append(
        Term(
          sql: { $0 ? "mine.label = ?" : "+mine.label = ?" }, arguments: [label], driver: .myLabel,
          probe: ("SELECT 1 FROM current_annotation WHERE rater_id = \(me) AND label = ?", [label])))
    }
    if f.unreviewed {
      needsMine = true
      terms.append(Term(sql: { _ in "mine.label IS NULL" }, arguments: [], driver: nil, probe: nil))
    }
    if f.adjudicated {
      // case_status.adjudicated (migration v4-browser-filters): its partial index drives when
      // few cases are adjudicated.
      let hidden = hiddenAnnotations
      terms.append(
        Term(
          sql: { $0 ? "cs.adjudicated AND NOT \(hidden)" : "+cs.adjudicated AND NOT \(hidden)" },
          arguments: [], driver: .adjudicated, probe: ("SELECT 1 FROM case_status WHERE adjudicated", [])))
    }
    if f.disagreement {
      let expr = disagreementExpr
      terms.append(
        Term(
          sql: { $0 ? expr : "+\(expr)" }, arguments: [], driver: .disagreement,
          probe: ("SELECT 1 FROM case_status WHERE disagreement", [])))
    }
    if let s = f.split {
      terms.append(
        Term(
          sql: { $0 ? "cs.split = ?" : "+cs.split = ?" }, arguments: [s.rawValue], driver: .split,
          probe: ("SELECT 1 FROM case_status WHERE split = ?", [s.rawValue])))
    }
    if let c = f.confidenceBelow {
      let expr = confidenceExpr
      terms.append(
        Term(
          sql: { $0 ? "\(expr) < ?" : "+\(expr) < ?" }, arguments: [c], driver: .confidence,
          probe: ("SELECT 1 FROM case_status WHERE pred_confidence < ?", [c])))
    }
    if let t = f.pMalignantAtLeast {
      // case_status.p_malignant: the promoted model's (migration v4-browser-filters).
      let hidden = hiddenModel
      terms.append(
        Term(
          sql: { $0 ? "cs.p_malignant >= ? AND NOT \(hidden)" : "+cs.p_malignant >= ? AND NOT \(hidden)" },
          arguments: [t], driver: .pMalignant,
          probe: ("SELECT 1 FROM case_status WHERE p_malignant >= ?", [t])))
    }
    if let raw = f.search?.trimmingCharacters(in: .whitespaces), !raw.isEmpty {
      let digits = raw.hasPrefix("#") ? String(raw.dropFirst()) : raw
      if digits.allSatisfy({ $0.isASCII && $0.isNumber }), let id = Int64(digits) {
        terms.append(
          Term(
            sql: { _ in "cs.case_id = ?" }, arguments: [id], driver: .caseID, probe: ("SELECT 1 WHERE 1", []))
        )
      } else {
        needsCase = true
        let hex = raw.lowercased()
        let isHex = hex.count >= 6 && hex.allSatisfy(\.isHexDigit)
        // The trigram index narrows (LIKE has wildcards, so `_` and `%` over-match); the
        // exact, case-insensitive substring test on the path decides.
        // A blinded case's path is not searchable: it carries the class (issue 15, item 10).
        let exact = "(instr(lower(c.path), lower(?)) > 0 AND NOT \(hiddenAnnotations))"
        let sha = "(c.sha256 >= ? AND c.sha256 < ?)"
        let like = "%" + raw + "%"
        if raw.count >= 3 {
          let candidates =
            "cs.case_id IN (SELECT rowid FROM case_path_search WHERE path LIKE ?"
            + (isHex ? #" UNION ALL SELECT id FROM "case" WHERE sha256 >= ? AND sha256 < ?)"# : ")")
          let candidateArgs: [any DatabaseValueConvertible] = isHex ? [like, hex, hex + "g"] : [like]
          let check = isHex ? "(\(exact) OR \(sha))" : exact
          let checkArgs: [any DatabaseValueConvertible] = isHex ? [raw, hex, hex + "g"] : [raw]
          terms.append(
            Term(
              sql: { $0 ? "\(candidates) AND \(check)" : check },
              arguments: [], driver: .search,
              probe: (
                "SELECT 1 FROM case_path_search WHERE path LIKE ?"
                  + (isHex ? #" UNION ALL SELECT 1 FROM "case" WHERE sha256 >= ? AND sha256 < ?"# : ""),
                candidateArgs
              )))
          // Arguments differ between the two forms; keep both lists on the term.
          searchArguments = (candidateArgs + checkArgs, checkArgs)
        } else {
          terms.append(Term(sql: { _ in exact }, arguments: [raw], driver: nil, probe: nil))
        }
      }
    }
    general =
      sessionID != nil
      || (hidesModel && (request.sort == .confidence || f.predictedLabel != nil || f.confidenceBelow != nil))
      || (hidesAnnotations && f.disagreement)
  }

  /// Arguments of the search term: (indexed form, row-by-row form).
  var searchArguments: ([any DatabaseValueConvertible], [any DatabaseValueConvertible])? = nil

  func arguments(of term: Term, indexed: Bool) -> [any DatabaseValueConvertible] {
    if term.driver == .search, let s = searchArguments { return indexed ? s.0 : s.1 }
    return term.arguments
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

  var mineJoin: String {
    if let sid = sessionID {
      return
        "LEFT JOIN session_current mine ON mine.session_id = \(sid) AND mine.case_id = cs.case_id AND mine.rater_id = \(me)"
    }
    return "LEFT JOIN current_annotation mine ON mine.case_id = cs.case_id AND mine.rater_id = \(me)"
  }

  var fullFromSQL: String {
    if let sid = sessionID {
      return """
        session_case sc CROSS JOIN case_status cs ON cs.case_id = sc.case_id AND sc.session_id = \(sid)
        JOIN "case" c ON c.id = cs.case_id \(mineJoin)
        """
    }
    return """
      case_status cs JOIN "case" c ON c.id = cs.case_id \(mineJoin)
      """
  }

  /// The sort key; nil for plain id order.
  var sortKey: String? {
    switch request.sort {
    case .id: return nil
    case .confidence: return general ? confidenceExpr : "cs.pred_confidence"
    case .added: return "cs.added_at"
    case .myLastEdit: return "mine.created_at"
    case .sessionQueue: return "((mine.label IS NOT NULL) * 4294967296 + sc.position)"
    }
  }

  /// Direction of this query: reversed when paging backward.
  var queryAscending: Bool { request.backward ? !request.ascending : request.ascending }
  var dir: String { queryAscending ? "ASC" : "DESC" }

  // MARK: Counting

  func count(_ db: Database) throws -> Int {
    let f = request.filter
    if f.unreviewed && f.myLabel == nil && sessionID == nil, let viewerID {
      // Unreviewed = all matching cases minus those I labelled: two index-driven counts
      // instead of probing my row for every case.
      var clauses: [String] = []
      var args: [any DatabaseValueConvertible] = []
      for t in terms where t.driver != nil || t.probe != nil || !t.sql(true).hasPrefix("mine.") {
        clauses.append(t.sql(true))
        args += arguments(of: t, indexed: true)
      }
      let caseJoin = needsCase ? #" JOIN "case" c ON c.id = cs.case_id"# : ""
      let rest = clauses.isEmpty ? "" : " AND " + clauses.joined(separator: " AND ")
      let all =
        try Int.fetchOne(
          db, sql: "SELECT count(*) FROM case_status cs\(caseJoin) WHERE 1\(rest)",
          arguments: StatementArguments(args))
        ?? 0
      let labelled =
        try Int.fetchOne(
          db,
          sql: """
            SELECT count(*) FROM current_annotation mine CROSS JOIN case_status cs ON cs.case_id = mine.case_id\(caseJoin)
            WHERE mine.rater_id = \(viewerID) AND mine.label IS NOT NULL\(rest)
            """, arguments: StatementArguments(args)) ?? 0
      return all - labelled
    }
    var from = "case_status cs"
    if let sid = sessionID {
      from = "session_case sc CROSS JOIN case_status cs ON cs.case_id = sc.case_id AND sc.session_id = \(sid)"
    }
    if needsCase { from += #" JOIN "case" c ON c.id = cs.case_id"# }
    if needsMine { from += " " + mineJoin }
    var args: [any DatabaseValueConvertible] = []
    var clauses: [String] = []
    for t in terms {
      clauses.append(t.sql(true))
      args += arguments(of: t, indexed: true)
    }
    let sql =
      "SELECT count(*) FROM \(from) WHERE \(clauses.isEmpty ? "1" : clauses.joined(separator: " AND "))"
    return try Int.fetchOne(db, sql: sql, arguments: StatementArguments(args)) ?? 0
  }

  // MARK: Finding a page's ids

  typealias Statement = (sql: String, arguments: StatementArguments)

  /// The page's (id, sort key) in query order.
  func fetchKeys(_ db: Database, limit: Int) throws -> [(Int64, DatabaseValue)] {
    var out: [(Int64, DatabaseValue)] = []
    for (sql, args) in try keyStatements(db, limit: limit).statements {
      guard out.count < limit else { break }
      let rows = try Row.fetchAll(
        db, sql: sql.replacingOccurrences(of: "__LIMIT__", with: String(limit - out.count)), arguments: args)
      out += rows.map { ($0["id"], $0["k"]) }
    }
    return out
  }

  /// The statements that find a page's ids, in order (several for two-part sort keys), and
  /// the name of the driving index.
  func keyStatements(_ db: Database, limit: Int) throws -> (driver: String, statements: [Statement]) {
    if general { return ("general", [generalStatement()]) }
    // The most selective filter index, if any is selective enough.
    var best: (Term, Int)? = nil
    for t in terms {
      guard let probe = t.probe else { continue }
      let n =
        t.driver == .caseID
        ? 1
        : try Int.fetchOne(
          db,
          sql:
            "SELECT count(*) FROM (\(probe.sql) LIMIT \((request.selectiveLimitOverride ?? Self.selectiveLimit) + 1))",
          arguments: StatementArguments(probe.arguments)) ?? 0
      let threshold = request.selectiveLimitOverride ?? Self.selectiveLimit
      if n <= threshold && (best == nil || n < best!.1) { best = (t, n) }
    }
    if let (driver, _) = best { return (driver.driver!.rawValue, [filterDrivenStatement(driver)]) }
    return ("sort order", sortDrivenStatements())
  }

  /// Other terms as row-by-row checks, plus the driver (if any) in indexed form.
  func whereClauses(driver: Term?) -> ([String], [any DatabaseValueConvertible]) {
    whereClauses(indexed: driver?.driver.map { [$0] } ?? [])
  }

  /// Terms whose driver is in `indexed` in indexed form, the rest as row-by-row checks.
  func whereClauses(indexed: Set<Driver>) -> ([String], [any DatabaseValueConvertible]) {
    var clauses: [String] = []
    var args: [any DatabaseValueConvertible] = []
    for t in terms {
      let indexed = t.driver.map { indexed.contains($0) } ?? false
      clauses.append(t.sql(indexed))
      args += arguments(of: t, indexed: indexed)
    }
    return (clauses, args)
  }

  /// The single general query: sessions, and blinding on the sorted or filtered fields.
  func generalStatement() -> Statement {
    let (clauses, args) = whereClauses(driver: nil)
    var all = clauses
    var allArgs = args
    if let c = request.cursor {
      all.append(keysetClause(c, key: sortKey))
      allArgs += keysetArguments(c, key: sortKey)
    }
    let order = sortKey.map { "\($0) \(dir), cs.case_id \(dir)" } ?? "cs.case_id \(dir)"
    let sql = """
      SELECT cs.case_id AS id, \(sortKey ?? "NULL") AS k FROM \(fullFromSQL)
      WHERE \(all.isEmpty ? "1" : all.joined(separator: " AND ")) ORDER BY \(order) LIMIT __LIMIT__
      """
    return (sql, StatementArguments(allArgs))
  }

  /// A selective filter's index drives; its few matches are sorted.
  func filterDrivenStatement(_ driver: Term) -> Statement {
    var from: String
    var (clauses, args) = whereClauses(driver: driver)
    if driver.driver == .myLabel {
      from = "current_annotation mine CROSS JOIN case_status cs ON cs.case_id = mine.case_id"
      clauses.insert("mine.rater_id = \(me)", at: 0)
    } else {
      from = "case_status cs " + (needsMine || request.sort == .myLastEdit ? mineJoin : "")
    }
    if needsCase { from += #" JOIN "case" c ON c.id = cs.case_id"# }
    if request.sort == .myLastEdit && driver.driver == .myLabel { /* mine already joined */  }
    if let c = request.cursor {
      clauses.append(keysetClause(c, key: sortKey))
      args += keysetArguments(c, key: sortKey)
    }
    // Unary + keeps SQLite from walking a sort index instead of the driver's.
    let order = sortKey.map { "+\($0) \(dir), +cs.case_id \(dir)" } ?? "+cs.case_id \(dir)"
    let sql = """
      SELECT cs.case_id AS id, \(sortKey ?? "NULL") AS k FROM \(from)
      WHERE \(clauses.joined(separator: " AND ")) ORDER BY \(order) LIMIT __LIMIT__
      """
    return (sql, StatementArguments(args))
  }

  /// The sort order's index drives; filters are checked row by row until the page is full.
  /// Terms on the sort column itself (confidence below x, my label with my-last-edit order)
  /// stay in indexed form so they bound the index range instead of being scanned past.
  func sortDrivenStatements() -> [Statement] {
    let myLabelTerm = terms.first { $0.driver == .myLabel }
    let confidenceTerm = terms.first { $0.driver == .confidence }
    // A filter on my label needs my row: join it as an inner join in fixed order (CROSS
    // JOIN), so SQLite keeps walking the sort index rather than my labels.
    let mineJoinHere =
      myLabelTerm != nil ? mineJoin.replacingOccurrences(of: "LEFT JOIN", with: "CROSS JOIN") : mineJoin
    var baseFrom = "case_status cs " + (needsMine || request.sort == .myLastEdit ? mineJoinHere : "")
    if needsCase { baseFrom += #" JOIN "case" c ON c.id = cs.case_id"# }
    let cmp = queryAscending ? ">" : "<"
    // Equality filters that have an index ordered like the sort (see Schema: filter + sort
    // pairs) stay indexed, so SQLite walks e.g. (split, confidence, id) and checks less.
    let prefixable: Set<Driver>
    switch request.sort {
    case .id, .sessionQueue: prefixable = [.split, .predictedLabel, .disagreement]
    case .confidence, .added: prefixable = [.split, .predictedLabel]
    case .myLastEdit: prefixable = [.split, .predictedLabel, .disagreement]  // for the NULL part, in id order
    }
    func statement(
      from: String, extra: [String], extraArgs: [any DatabaseValueConvertible], key: String?, order: String,
      indexed: Term? = nil, prefix: Bool = true
    ) -> Statement {
      var set = prefix ? prefixable : []
      if let d = indexed?.driver { set.insert(d) }
      let (clauses, args) = whereClauses(indexed: set)
      let all = extra + clauses
      return (
        """
        SELECT cs.case_id AS id, \(key ?? "NULL") AS k FROM \(from)
        WHERE \(all.isEmpty ? "1" : all.joined(separator: " AND ")) ORDER BY \(order) LIMIT __LIMIT__
        """,
        StatementArguments(extraArgs + args)
      )
    }
    let c = request.cursor
    switch request.sort {
    case .id, .sessionQueue:
      var extra: [String] = []
      var extraArgs: [any DatabaseValueConvertible] = []
      if let c {
        extra.append("cs.case_id \(cmp) ?")
        extraArgs.append(c.caseID)
      }
      return [
        statement(from: baseFrom, extra: extra, extraArgs: extraArgs, key: nil, order: "cs.case_id \(dir)")
      ]
    case .added:
      var extra: [String] = []
      var extraArgs: [any DatabaseValueConvertible] = []
      if let c {
        extra.append("(cs.added_at, cs.case_id) \(cmp) (?, ?)")
        extraArgs += [c.key.databaseValue, c.caseID]
      }
      return [
        statement(
          from: baseFrom, extra: extra, extraArgs: extraArgs, key: "cs.added_at",
          order: "cs.added_at \(dir), cs.case_id \(dir)")
      ]
    case .confidence, .myLastEdit:
      // NULL part (ordered by id) and value part (ordered by key, id): NULL first ascending.
      let keyExpr = request.sort == .confidence ? "cs.pred_confidence" : "mine.created_at"
      let nullFirst = queryAscending
      let cursorInNull = c.map { $0.key == .null } ?? false
      var nullPart: Statement? = nil
      // The NULL part is empty when a filter needs a value (confidence below x; my label).
      let nullPartEmpty =
        (request.sort == .confidence && confidenceTerm != nil)
        || (request.sort == .myLastEdit && myLabelTerm != nil)
      // Ascending with the cursor already in the value part: the NULL part is behind.
      if !nullPartEmpty && !(nullFirst && c != nil && !cursorInNull) {
        var extra = [request.sort == .confidence ? "cs.pred_confidence IS NULL" : "mine.case_id IS NULL"]
        var extraArgs: [any DatabaseValueConvertible] = []
        if let c, cursorInNull {
          extra.append("cs.case_id \(cmp) ?")
          extraArgs.append(c.caseID)
        }
        nullPart = statement(
          from: baseFrom, extra: extra, extraArgs: extraArgs, key: "NULL", order: "cs.case_id \(dir)")
      }
      // Descending with the cursor in the NULL part: the value part is behind.
      if let c, !nullFirst, c.key == .null { return nullPart.map { [$0] } ?? [] }
      var extra = ["\(keyExpr) IS NOT NULL"]
      var extraArgs: [any DatabaseValueConvertible] = []
      if let c, !cursorInNull {
        extra.append(
          "(\(keyExpr), \(request.sort == .confidence ? "cs.case_id" : "mine.case_id")) \(cmp) (?, ?)")
        extraArgs += [c.key.databaseValue, c.caseID]
      }
      let valuePart: Statement
      if request.sort == .myLastEdit {
        // Walk the viewer's own edits by time: index current_annotation_rater_label
        // (rater, label, time) when filtering on my label or on unreviewed, else
        // current_annotation_rater_time (rater, time).
        var from = "current_annotation mine CROSS JOIN case_status cs ON cs.case_id = mine.case_id"
        if needsCase { from += #" JOIN "case" c ON c.id = cs.case_id"# }
        extra.insert("mine.rater_id = \(me)", at: 0)
        valuePart = statement(
          from: from, extra: extra, extraArgs: extraArgs, key: keyExpr,
          order: "mine.created_at \(dir), mine.case_id \(dir)", indexed: myLabelTerm, prefix: false)
      } else {
        valuePart = statement(
          from: baseFrom, extra: extra, extraArgs: extraArgs, key: keyExpr,
          order: "cs.pred_confidence \(dir), cs.case_id \(dir)", indexed: confidenceTerm)
      }
      let parts = nullFirst ? [nullPart, valuePart] : [valuePart, nullPart]
      return parts.compactMap { $0 }
    }
  }

  /// Rows strictly after the cursor in this query's direction (general and filter-driven
  /// queries). SQLite orders NULL first ascending and last descending.
  func keysetClause(_ c: CaseCursor, key: String?) -> String {
    let asc = queryAscending
    let cmp = asc ? ">" : "<"
    guard let key else { return "cs.case_id \(cmp) ?" }
    switch (c.key, asc) {
    case (.null, true): return "((\(key) IS NULL AND cs.case_id > ?) OR \(key) IS NOT NULL)"
    case (.null, false): return "(\(key) IS NULL AND cs.case_id < ?)"
    case (_, true): return "(\(key) > ? OR (\(key) = ? AND cs.case_id > ?))"
    case (_, false): return "(\(key) < ? OR (\(key) = ? AND cs.case_id < ?) OR \(key) IS NULL)"
    }
  }

  func keysetArguments(_ c: CaseCursor, key: String?) -> [any DatabaseValueConvertible] {
    guard key != nil else { return [c.caseID] }
    switch c.key {
    case .null: return [c.caseID]
    case .number(let v): return [v, v, c.caseID]
    case .text(let t): return [t, t, c.caseID]
    }
  }

  // MARK: Reading the page's rows

  func fetchPage(_ db: Database, limit: Int, root: String?, thumbs: String) throws -> [CaseRow] {
    let keys = try fetchKeys(db, limit: limit)
    guard !keys.isEmpty else { return [] }
    let ids = keys.map { String($0.0) }.joined(separator: ",")
    let sql = """
      SELECT cs.case_id AS id, c.path, c.path_is_relative, c.sha256, c.width, c.height, cs.split, cs.added_at,
        \(predLabelExpr) AS pred_label, \(confidenceExpr) AS pred_confidence,
        CASE WHEN \(hiddenModel) THEN NULL ELSE cs.pred_model END AS pred_model,
        mine.label AS my_label, mine.mask_id IS NOT NULL AS my_mask, mine.created_at AS my_time,
        CASE WHEN \(hiddenAnnotations) THEN NULL ELSE \(rawDisagreement) END AS disagreement,
        CASE WHEN \(hiddenAnnotations) THEN NULL ELSE \(rawLabelCount) END AS n_labels,
        \(hiddenAnnotations) AS blinded, \(hiddenModel) AS model_hidden,
        CASE WHEN \(hiddenAnnotations) THEN NULL
          ELSE EXISTS (SELECT 1 FROM adjudication j WHERE j.case_id = cs.case_id) END AS adjudicated
      FROM \(fullFromSQL)
      WHERE cs.case_id IN (\(ids))
      """
    var byID: [Int64: Row] = [:]
    for r in try Row.fetchAll(db, sql: sql) { byID[r["id"]] = r }
    return keys.compactMap { id, key in byID[id].map { caseRow($0, key: key, root: root, thumbs: thumbs) } }
  }

  func caseRow(_ r: Row, key dbKey: DatabaseValue, root: String?, thumbs: String) -> CaseRow {
    let id: Int64 = r["id"]
    let path: String = r["path"]
    let sha: String = r["sha256"]
    let key: CaseCursor.Key
    switch dbKey.storage {
    case .null: key = .null
    case .int64(let i): key = .number(Double(i))
    case .double(let d): key = .number(d)
    case .string(let s): key = .text(s)
    case .blob: key = .null
    }
    let disagreement: Int? = r["disagreement"]
    let adjudicated: Int? = r["adjudicated"]
    let blinded: Bool = r["blinded"]
    return CaseRow(
      id: id, path: blinded ? CaseStore.opaqueName(id) : path,
      imagePath: CaseStore.resolvePath(path, relative: r["path_is_relative"], root: root),
      thumbnailPath: thumbs + "/" + sha + ".png", sha256: sha, width: r["width"], height: r["height"],
      split: Split(rawValue: r["split"]) ?? .train,
      addedAt: CaseStore.date(r["added_at"]) ?? Date(timeIntervalSince1970: 0),
      predictedLabel: r["pred_label"], confidence: r["pred_confidence"], modelVersion: r["pred_model"],
      myLabel: r["my_label"], myMask: r["my_mask"], myLastEdit: CaseStore.date(r["my_time"]),
      disagreement: disagreement.map { $0 != 0 }, labelCount: r["n_labels"], blinded: r["blinded"],
      modelHidden: r["model_hidden"], cursor: CaseCursor(key: key, caseID: id),
      adjudicated: adjudicated.map { $0 != 0 })
  }
}

extension CaseCursor.Key {
  var databaseValue: DatabaseValue {
    switch self {
    case .null: return .null
    case .number(let d): return d.databaseValue
    case .text(let t): return t.databaseValue
    }
  }
}
