import CaseStore
import Dispatch
import Foundation

/// The browser's page query on both backends (`bench store --database URL`, issue 16: on
/// 100,000 cases under 10 ms and within 2x of SQLite): the same workspace built in SQLite and
/// in the scratch PostgreSQL database (the same cases, ids, splits, promoted predictions, three
/// raters' labels and a few adjudications), then every filter the browser offers under every
/// sort, both directions, first page and a page from the middle (a keyset cursor at the middle
/// case), each timed as median and 95th percentile on both backends, alternating backends per
/// repetition so both see the same load. The PostgreSQL page is read as rater1 would see it,
/// through the service role's `case_page_as` (the same server function a rater's `case_page`
/// runs). Each pair of pages is compared: the ids must be the same on both backends.
public enum SharedBrowseBenchmark {
  public struct Options: Sendable {
    public var cases = 100_000
    public var raters = 3
    public var pageSize = 50
    public var repetitions = 25
    public init() {}
  }

  public struct QueryTiming: Sendable, Codable {
    public var filter: String
    public var sort: String
    public var ascending: Bool
    public var page: String
    public var rows: Int
    public var medianMilliseconds: SharedStoreBenchmark.Side
    public var p95Milliseconds: SharedStoreBenchmark.Side
    /// Whether both backends returned the same case ids in the same order.
    public var samePage: Bool
  }

  public struct Report: Sendable, Codable {
    public var cases = 0
    public var annotations = 0
    public var adjudications = 0
    public var buildSeconds: SharedStoreBenchmark.Side?
    public var queries: [QueryTiming] = []
    /// The slowest median of each backend over every query.
    public var maxMedianMilliseconds: SharedStoreBenchmark.Side?
    public var maxP95Milliseconds: SharedStoreBenchmark.Side?
    /// The largest PostgreSQL / SQLite ratio of medians over every query.
    public var maxMedianRatio: Double?
    public var differingPages = 0
  }

  /// The browser's filters (`f`, `m`, `u`, `d`, `s`, `l`, `*`, `j`, `/`), alone and combined.
  static let filters: [(String, CaseFilter)] = {
    var malignant = CaseFilter()
    malignant.pMalignantAtLeast = 0.9
    return [
      ("none", CaseFilter()),
      ("predicted Pre-B", CaseFilter(predictedLabel: "Pre-B")),
      ("my label Benign", CaseFilter(myLabel: "Benign")),
      ("unreviewed", CaseFilter(unreviewed: true)),
      ("disagreement", CaseFilter(disagreement: true)),
      ("adjudicated", CaseFilter(adjudicated: true)),
      ("split test", CaseFilter(split: .test)),
      ("confidence < 0.4", CaseFilter(confidenceBelow: 0.4)),
      ("P(malignant) >= 0.9", malignant),
      ("search file name", CaseFilter(search: "img_004217")),
      ("search id", CaseFilter(search: "#77777")),
      (
        "unreviewed + split val + conf < 0.6", CaseFilter(unreviewed: true, split: .val, confidenceBelow: 0.6)
      ),
    ]
  }()

  /// Builds the workspace in both stores (`postgres` connected as the service role to the
  /// scratch database) and times every page query.
  static func run(
    _ o: Options, sqlite: CaseStore, postgres: PostgresStore, log: (String) -> Void
  ) throws -> Report {
    var report = Report()
    let data = Fixture(cases: o.cases, raters: o.raters, schema: sqlite.labelSchema)
    var t = Date()
    log("building \(o.cases) cases × \(o.raters) raters with predictions in SQLite...")
    try data.load(into: sqlite, modelFile: sqlite.workspace.directory + "/bench-model.bin")
    let sqliteSeconds = Date().timeIntervalSince(t)
    t = Date()
    log("... and in PostgreSQL...")
    try data.load(into: postgres)
    let pgSeconds = Date().timeIntervalSince(t)
    report.buildSeconds = .init(sqlite: sqliteSeconds, postgres: pgSeconds)
    report.cases = o.cases
    report.annotations = data.labels.reduce(0) { $0 + $1.count }
    report.adjudications = data.adjudicated.count
    log(
      String(
        format: "built in %.1f s (SQLite) and %.1f s (PostgreSQL): %d annotations, %d adjudications",
        sqliteSeconds, pgSeconds, report.annotations, report.adjudications))

    let viewer = Viewer.rater("rater1")
    let stores: [any ReviewStore] = [sqlite, postgres]
    let middle = Int64(o.cases / 2)
    for (name, filter) in filters {
      for sort in [CaseSort.id, .confidence, .added, .myLastEdit] {
        for ascending in [true, false] {
          var request = CasePageRequest(filter: filter, sort: sort, ascending: ascending, limit: o.pageSize)
          for page in ["first", "middle"] {
            var perStore: [CasePageRequest] = []
            for store in stores {
              var r = request
              if page == "middle" {
                // The middle case's own position under this sort, on each backend.
                let at = try store.casePage(
                  CasePageRequest(filter: CaseFilter(search: "#\(middle)"), sort: sort, limit: 1),
                  viewer: viewer)
                r.cursor = at.rows.first?.cursor
              }
              perStore.append(r)
            }
            var samples: [[Double]] = [[], []]
            var pages: [CasePage?] = [nil, nil]
            for _ in 0..<o.repetitions {
              for (i, store) in stores.enumerated() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                pages[i] = try store.casePage(perStore[i], viewer: viewer)
                samples[i].append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
              }
            }
            let same = pages[0]!.rows.map(\.id) == pages[1]!.rows.map(\.id)
            if !same { report.differingPages += 1 }
            report.queries.append(
              QueryTiming(
                filter: name, sort: sort.rawValue, ascending: ascending, page: page,
                rows: pages[0]!.rows.count,
                medianMilliseconds: .init(
                  sqlite: SharedStoreBenchmark.percentile(samples[0], 0.5),
                  postgres: SharedStoreBenchmark.percentile(samples[1], 0.5)),
                p95Milliseconds: .init(
                  sqlite: SharedStoreBenchmark.percentile(samples[0], 0.95),
                  postgres: SharedStoreBenchmark.percentile(samples[1], 0.95)),
                samePage: same))
          }
          request.cursor = nil
        }
      }
      let mine = report.queries.filter { $0.filter == name }
      let worst = mine.max { $0.medianMilliseconds.postgres < $1.medianMilliseconds.postgres }!
      log(
        String(
          format:
            "%-38@ slowest PostgreSQL page %.2f ms median (SQLite %.2f ms; %@ %@, %@ page), p95 %.2f ms; "
            + "largest ratio %.2f", name as NSString, worst.medianMilliseconds.postgres,
          worst.medianMilliseconds.sqlite, worst.sort as NSString, worst.ascending ? "asc" : "desc",
          worst.page as NSString, mine.map(\.p95Milliseconds.postgres).max()!,
          mine.map(\.medianMilliseconds.ratio).max()!))
    }
    let q = report.queries
    report.maxMedianMilliseconds = .init(
      sqlite: q.map(\.medianMilliseconds.sqlite).max() ?? 0,
      postgres: q.map(\.medianMilliseconds.postgres).max() ?? 0)
    report.maxP95Milliseconds = .init(
      sqlite: q.map(\.p95Milliseconds.sqlite).max() ?? 0,
      postgres: q.map(\.p95Milliseconds.postgres).max() ?? 0)
    report.maxMedianRatio = q.map(\.medianMilliseconds.ratio).max()
    if report.differingPages > 0 {
      log("\(report.differingPages) pages differ between the backends")
    }
    return report
  }

  /// The browsing workspace, generated once (seeded) and loaded into each backend: cases
  /// 1...N in four class folders, one promoted model's prediction per case, each rater labelling
  /// about 60 % of the cases (85 % agreeing with the reference), and an adjudication of every
  /// 500th case.
  struct Fixture {
    var cases: [(path: String, sha: String, label: String, split: Split)] = []
    var predictions: [NewPrediction] = []
    /// Per rater (rater1...): (case, label) in case order.
    var labels: [[(caseID: Int64, label: String)]] = []
    var adjudicated: [(caseID: Int64, label: String)] = []
    let schema: LabelSchema
    /// The one time every label and the import carry (SQLite's bench does the same).
    let now = CaseStore.timestamp(Date())

    init(cases n: Int, raters: Int, schema: LabelSchema) {
      self.schema = schema
      var rng = SplitMix(state: 1616)
      let classes = schema.classNames
      for i in 0..<n {
        let sha = Digest.sha256Hex(Array("blastview-bench-case-\(i)".utf8))
        cases.append(
          (
            "aria/\(classes[i % classes.count])/img_\(String(format: "%06d", i)).jpg", sha,
            classes[i % classes.count],
            Split.of(sha256Hex: sha)
          ))
      }
      for id in 1...Int64(n) {
        var p = (0..<classes.count).map { _ in Double(rng.next() % 1000 + 1) }
        let s = p.reduce(0, +)
        p = p.map { $0 / s }
        predictions.append(NewPrediction(caseID: id, probabilities: p))
      }
      for _ in 0..<raters {
        var batch: [(caseID: Int64, label: String)] = []
        for id in 1...Int64(n) where rng.next() % 10 < 6 {
          let ref = classes[Int((id - 1) % Int64(classes.count))]
          batch.append((id, rng.next() % 100 < 85 ? ref : classes[Int(rng.next() % UInt64(classes.count))]))
        }
        labels.append(batch)
      }
      for id in stride(from: Int64(500), through: Int64(n), by: 500) {
        adjudicated.append((id, classes[Int((id - 1) % Int64(classes.count))]))
      }
    }

    func load(into store: CaseStore, modelFile: String) throws {
      let rows = cases.map {
        CaseStore.NewCase(
          path: $0.path, relative: false, sha256: $0.sha, format: "jpeg", width: 224, height: 224,
          referenceLabel: $0.label, split: $0.split)
      }
      for s in stride(from: 0, to: rows.count, by: 10_000) {
        _ = try store.insertCases(Array(rows[s..<min(s + 10_000, rows.count)]))
      }
      try ScratchFolder.write(Array("benchmark model".utf8), to: modelFile)
      let model = try store.registerModel(
        file: modelFile, parent: nil, tasks: ["classification"], trainedTasks: [], frozenTasks: [])
      try store.promote(version: model.version)
      for s in stride(from: 0, to: predictions.count, by: 10_000) {
        try store.savePredictions(
          Array(predictions[s..<min(s + 10_000, predictions.count)]), model: model.version)
      }
      for (r, batch) in labels.enumerated() {
        for s in stride(from: 0, to: batch.count, by: 20_000) {
          try store.appendLabels(
            Array(batch[s..<min(s + 20_000, batch.count)]), rater: "rater\(r + 1)", now: now)
        }
      }
      _ = try store.addRater("judge", role: .adjudicator)
      for (id, label) in adjudicated {
        _ = try store.adjudicate(case: id, adjudicator: "judge", label: label, reason: "benchmark")
      }
      try store.optimize()
    }

    /// The same rows through SQL as the service role (the scratch database is the
    /// benchmark's own): images (a few bytes each, content-addressed like any), cases with
    /// their SQLite ids, the promoted model's predictions with the same label, confidence and
    /// P(malignant) rule as `savePredictions`, the labels with the same time, adjudications.
    func load(into store: PostgresStore) throws {
      let c = store.connection
      func json(_ rows: [[String: Any]]) throws -> PGValue {
        .text(String(decoding: try JSONSerialization.data(withJSONObject: rows), as: UTF8.self))
      }
      try c.query(
        """
        INSERT INTO blastview.image (sha256, bytes)
        SELECT encode(sha256(b), 'hex'), b
        FROM (SELECT convert_to('blastview-bench-case-' || i, 'UTF8') AS b FROM generate_series(0, $1::integer - 1) i) s
        """, [.int(Int64(cases.count))])
      for s in stride(from: 0, to: cases.count, by: 10_000) {
        let chunk = (s..<min(s + 10_000, cases.count)).map { i -> [String: Any] in
          [
            "id": i + 1, "path": cases[i].path, "sha256": cases[i].sha, "label": cases[i].label,
            "split": cases[i].split.rawValue,
          ]
        }
        try c.query(
          """
          INSERT INTO blastview."case" (id, path, sha256, format, width, height, reference_label, split, added_at)
          SELECT x.id, x.path, x.sha256, 'jpeg', 224, 224, x.label, x.split, $2::timestamptz
          FROM json_to_recordset($1::json) AS x(id bigint, path text, sha256 text, label text, split text)
          """, [try json(chunk), .text(now)])
      }
      try c.query(
        "SELECT setval(pg_get_serial_sequence('blastview.\"case\"', 'id'), (SELECT max(id) FROM blastview.\"case\"))"
      )
      let version = try c.query(
        """
        WITH f AS (
          INSERT INTO blastview.model_file (sha256, bytes)
          VALUES (encode(sha256('benchmark model'::bytea), 'hex'), 'benchmark model'::bytea) RETURNING sha256)
        INSERT INTO blastview.model (sha256, tasks, trained_tasks, frozen_tasks)
        SELECT f.sha256, '["classification"]', '[]', '[]' FROM f RETURNING version
        """
      ).first?.int("version")
      guard let version else { throw StoreError.database("the benchmark model was not registered") }
      try c.query(
        "INSERT INTO blastview.model_promotion (model_version, promoted_by, reason) VALUES ($1, 'bench', 'benchmark')",
        [.int(version)])
      let firstGroup = schema.groups.first
      for s in stride(from: 0, to: predictions.count, by: 10_000) {
        let chunk = predictions[s..<min(s + 10_000, predictions.count)].map { p -> [String: Any] in
          let best = p.probabilities.indices.max { p.probabilities[$0] < p.probabilities[$1] }!
          var row: [String: Any] = [
            "case_id": p.caseID, "label": schema.classes[best].name, "confidence": p.probabilities[best],
            "probabilities": String(decoding: try! JSONEncoder().encode(p.probabilities), as: UTF8.self),
          ]
          if firstGroup != nil {
            row["p_malignant"] = zip(schema.classes, p.probabilities).filter { $0.0.group != firstGroup }.map(
              \.1
            )
            .reduce(0, +)
          }
          return row
        }
        try c.query(
          """
          INSERT INTO blastview.prediction (case_id, model_version, label, confidence, probabilities, p_malignant)
          SELECT x.case_id, $2, x.label, x.confidence, x.probabilities, x.p_malignant
          FROM json_to_recordset($1::json)
            AS x(case_id bigint, label text, confidence double precision, probabilities text, p_malignant double precision)
          """, [try json(chunk), .int(version)])
      }
      for (r, batch) in labels.enumerated() {
        let rater = try c.query(
          "INSERT INTO blastview.rater (name) VALUES ($1) RETURNING id", [.text("rater\(r + 1)")]
        ).first?.int("id")
        // Small transactions: the audit chain is sealed at commit by a deferred trigger per
        // noted row, each of which checks the pending table, so a transaction's cost grows with
        // the square of its rows.
        for s in stride(from: 0, to: batch.count, by: 1_000) {
          let chunk = batch[s..<min(s + 1_000, batch.count)].map {
            ["case_id": $0.caseID, "label": $0.label]
          }
          try c.query(
            """
            INSERT INTO blastview.annotation (case_id, rater_id, label, changed, created_at)
            SELECT x.case_id, $2, x.label, 1, $3::timestamptz FROM json_to_recordset($1::json) AS x(case_id bigint, label text)
            """, [try json(chunk), .int(rater ?? 0), .text(now)])
        }
      }
      let judge = try c.query("INSERT INTO blastview.rater (name) VALUES ('judge') RETURNING id").first?.int(
        "id")
      try c.query(
        """
        INSERT INTO blastview.adjudication (case_id, label, adjudicator_id, reason)
        SELECT x.case_id, x.label, $2, 'benchmark' FROM json_to_recordset($1::json) AS x(case_id bigint, label text)
        """, [try json(adjudicated.map { ["case_id": $0.caseID, "label": $0.label] }), .int(judge ?? 0)])
      try c.query(
        "ANALYZE blastview.\"case\", blastview.case_status, blastview.current_annotation, blastview.prediction, "
          + "blastview.adjudication, blastview.blind_pending, blastview.rater")
    }
  }
}
