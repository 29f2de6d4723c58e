import Foundation
import Testing

@testable @_spi(Testing) import CaseStore

/// Migration `pg-v6-perf-browser` makes the browser's page query use indexes (`case_status`,
/// keyset queries built per request) without changing a single page. On a seeded shared
/// workspace (360 cases, ties in confidence and edit time, cases without a prediction, three
/// raters, adjudications, a blinded session hiding labels and the model from bvana), every
/// filter × sort × direction is paged through to the end and back, as bvana, as bvana in the
/// session, as bvlead (no blinding) and as the service role:
/// 1. before the migration (v5's functions) and after it (the rows filled by the migration):
///    every row of every page identical;
/// 2. after more writes (labels, adjudications, a new case, new predictions and a promotion, each
///    kept in step by the new triggers): the pages' ids and keys equal v5's listing
///    (`case_filtered`, unchanged) sorted in the documented order, and the P(malignant) filter
///    equals the predictions it names;
/// 3. the service role reading as bvana (`case_page_as`) sees exactly what bvana sees.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct BrowserPageIndexesTests {
  /// A v5 request: `case_page`'s arguments after the session, without the cursor and limit.
  struct Request: CustomStringConvertible {
    var name: String
    var pred: String? = nil
    var mine: String? = nil
    var unreviewed = false
    var disagreement = false
    var split: String? = nil
    var adjudicated = false
    var confBelow: Double? = nil
    var search: String? = nil
    var sort = "id"
    var asc = true
    var description: String { "\(name), \(sort) \(asc ? "asc" : "desc")" }

    var filterValues: [PGValue] {
      [
        .optional(pred), .optional(mine), .bool(unreviewed), .bool(disagreement), .optional(split),
        .bool(adjudicated), confBelow.map { PGValue.double($0) } ?? .null, .optional(search),
      ]
    }
  }

  static func requests(shaPrefix: String) -> [Request] {
    let filters = [
      Request(name: "none"), Request(name: "predicted Pre-B", pred: "Pre-B"),
      Request(name: "my label Benign", mine: "Benign"), Request(name: "unreviewed", unreviewed: true),
      Request(name: "disagreement", disagreement: true), Request(name: "adjudicated", adjudicated: true),
      Request(name: "split val", split: "val"), Request(name: "confidence < 0.45", confBelow: 0.45),
      Request(name: "search img_01", search: "img_01"),
      Request(name: "search IMG_0_ (literal _)", search: "IMG_0_"),
      Request(name: "search 1% (literal %)", search: "1%"), Request(name: "search #17", search: "#17"),
      Request(name: "search sha prefix", search: shaPrefix),
      Request(
        name: "unreviewed + split train + conf < 0.6", unreviewed: true, split: "train", confBelow: 0.6),
      Request(name: "predicted Benign + disagreement", pred: "Benign", disagreement: true),
    ]
    var out: [Request] = []
    for f in filters {
      for sort in ["id", "confidence", "added", "myLastEdit"] {
        for asc in [true, false] {
          var r = f
          r.sort = sort
          r.asc = asc
          out.append(r)
        }
      }
    }
    return out
  }

  /// Every row of the listing, paged through v5's 16-argument `case_page` (forward to the
  /// end, then backward from there to the start: both must give the same rows).
  static func listing(_ c: PGConnection, session: String?, _ r: Request, pageSize: Int = 40) throws
    -> [[String?]]
  {
    func page(asc: Bool, after: [String?]?, names: [String]) throws -> [PGRow] {
      let k = after.flatMap { $0[names.firstIndex(of: "k")!] }
      let id = after.flatMap { $0[names.firstIndex(of: "id")!] }
      return try c.query(
        "SELECT * FROM blastview.case_page(" + (1...16).map { "$\($0)" }.joined(separator: ", ") + ")",
        [.optional(session)] + r.filterValues + [
          .text(r.sort), .bool(asc), .bool(after != nil), .bool(after != nil && k == nil),
          k.flatMap { Double($0) }.map { PGValue.double($0) } ?? .null,
          id.flatMap { Int64($0) }.map { PGValue.int($0) } ?? .null, .int(Int64(pageSize)),
        ])
    }
    var names: [String] = []
    var forward: [[String?]] = []
    while true {
      let rows = try page(asc: r.asc, after: forward.last, names: names)
      if let first = rows.first { names = first.names }
      forward += rows.map(\.values)
      if rows.count < pageSize { break }
    }
    guard !forward.isEmpty else { return [] }
    var backward: [[String?]] = [forward.last!]
    while true {
      let rows = try page(asc: !r.asc, after: backward.last, names: names)
      backward += rows.map(\.values)
      if rows.count < pageSize { break }
    }
    #expect(Array(backward.reversed()) == forward, "paging back differs: \(r)")
    return forward
  }

  /// A workspace stopped after v5, seeded through the service role and the raters' own calls.
  final class Seeded {
    let pg: PGTestCluster
    let database: String
    let service: PGConnection
    var shaOf17 = ""

    init() throws {
      pg = try PGTestCluster.require()
      database = try pg.createDatabase()
      _ = try PostgresStore.create(
        pg.url(database, as: "blastview"), schema: .all4, leads: ["bvlead"], through: "pg-v5-review")
      service = try PGConnection(pg.url(database, as: "blastview"))
      let lead = try PostgresStore.open(pg.url(database, as: "bvlead"))
      for r in ["bvana", "bvben"] { try lead.addRater(r, role: .rater) }
      try addCases(1...360)
      shaOf17 = try service.query("SELECT sha256 FROM blastview.\"case\" WHERE id = 17").first?[0] ?? ""
      // A model with coarse probabilities (ties) for 85 % of the cases, promoted.
      let m1 = try model("m1")
      try predict(model: m1, cases: 1...360, seed: 3)
      try service.query(
        "INSERT INTO blastview.model_promotion (model_version, promoted_by) VALUES ($1, 'test')", [.int(m1)])
      // A third rater known to the workspace only, and bvana: labels at one time (ties).
      for (name, seed) in [("rater3", 11), ("bvana", 12)] {
        try service.query(
          "INSERT INTO blastview.rater (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", [.text(name)])
        try service.query(
          """
          INSERT INTO blastview.annotation (case_id, rater_id, label, changed, created_at)
          SELECT c.id, (SELECT id FROM blastview.rater WHERE name = $1),
            (ARRAY['Benign', 'Early-B', 'Pre-B', 'Pro-B'])[1 + (c.id * $2) % 4], 1, '2026-12-01T10:00:00Z'
          FROM blastview."case" c WHERE (c.id * $2) % 5 < 2 AND c.id % 3 <> 0
          """, [.text(name), .int(Int64(seed))])
      }
      // bvana and bvben label through their own connections (distinct times; relabels).
      let ana = try PostgresStore.open(pg.url(database, as: "bvana"))
      let ben = try PostgresStore.open(pg.url(database, as: "bvben"))
      let classes = ["Benign", "Early-B", "Pre-B", "Pro-B"]
      for id in stride(from: Int64(3), through: 360, by: 6) {
        try ana.annotate(
          case: id, rater: "bvana", label: classes[Int(id % 4)], mask: nil, session: nil, clear: [], note: nil
        )
      }
      for id in stride(from: Int64(1), through: 360, by: 2) {
        try ben.annotate(
          case: id, rater: "bvben", label: classes[Int((id / 2) % 4)], mask: nil, session: nil, clear: [],
          note: nil)
      }
      for id in stride(from: Int64(9), through: 360, by: 36) {
        try ana.annotate(
          case: id, rater: "bvana", label: "Pro-B", mask: nil, session: nil, clear: [], note: nil)
      }
      // bvlead reviews as a rater outside the session: no blinding, so every fast path runs.
      let lead2 = try PostgresStore.open(pg.url(database, as: "bvlead"))
      for id in stride(from: Int64(4), through: 360, by: 4) {
        try lead2.annotate(
          case: id, rater: "bvlead", label: classes[Int((id / 4) % 4)], mask: nil, session: nil, clear: [],
          note: nil)
      }
      try adjudicate(stride(from: Int64(5), through: 360, by: 40).map { $0 })
      // A blinded session hiding other labels and the model from bvana and bvben on 40 cases;
      // bvana labels some of them in the session (lifting her blinding there).
      try lead.createSession(
        name: "blind", raters: ["bvana", "bvben"], cases: .ids((100...139).map { Int64($0) }), blinded: true,
        hideModel: true, createdBy: "bvlead")
      for id in stride(from: Int64(100), through: 139, by: 4) {
        try ana.annotate(
          case: id, rater: "bvana", label: "Early-B", mask: nil, session: "blind", clear: [], note: nil)
      }
      try service.query("ANALYZE")
    }

    func addCases(_ ids: ClosedRange<Int>) throws {
      try service.query(
        """
        INSERT INTO blastview.image (sha256, bytes)
        SELECT encode(sha256(convert_to('page-test-' || i, 'UTF8')), 'hex'), convert_to('page-test-' || i, 'UTF8')
        FROM generate_series($1::integer, $2::integer) i
        """, [.int(Int64(ids.lowerBound)), .int(Int64(ids.upperBound))])
      try service.query(
        """
        INSERT INTO blastview."case" (path, sha256, format, width, height, reference_label, split, added_at)
        SELECT 'images/' || (ARRAY['Benign', 'Early-B', 'Pre-B', 'Pro-B'])[1 + i % 4] || '/img_' || lpad(i::text, 4, '0')
            || CASE WHEN i % 50 = 0 THEN '_1%.png' ELSE '.png' END,
          encode(sha256(convert_to('page-test-' || i, 'UTF8')), 'hex'), 'png', 8, 8,
          (ARRAY['Benign', 'Early-B', 'Pre-B', 'Pro-B'])[1 + i % 4], (ARRAY['train', 'train', 'val', 'test'])[1 + i % 4],
          '2026-11-30T08:00:00Z'::timestamptz + ((i / 3) * interval '1 second')
        FROM generate_series($1::integer, $2::integer) i ORDER BY i
        """, [.int(Int64(ids.lowerBound)), .int(Int64(ids.upperBound))])
    }

    func model(_ name: String) throws -> Int64 {
      try service.query(
        """
        WITH f AS (INSERT INTO blastview.model_file (sha256, bytes)
                   VALUES (encode(sha256(convert_to($1, 'UTF8')), 'hex'), convert_to($1, 'UTF8')) RETURNING sha256)
        INSERT INTO blastview.model (sha256, tasks, trained_tasks, frozen_tasks)
        SELECT f.sha256, '["classification"]', '[]', '[]' FROM f RETURNING version
        """, [.text(name)]
      ).first?.int("version") ?? 0
    }

    /// Confidence in steps of 0.05 (ties), label by case, P(malignant) 1 - confidence for
    /// a Benign call; no prediction for every seventh case.
    func predict(model: Int64, cases: ClosedRange<Int>, seed: Int) throws {
      try service.query(
        """
        INSERT INTO blastview.prediction (case_id, model_version, label, confidence, probabilities, p_malignant)
        SELECT c.id, $1, (ARRAY['Benign', 'Early-B', 'Pre-B', 'Pro-B'])[1 + (c.id * $2) % 4],
          0.25 + 0.05 * ((c.id * $2) % 15), '[]',
          CASE WHEN (c.id * $2) % 4 = 0 THEN 0.75 - 0.05 * ((c.id * $2) % 15) ELSE 0.25 + 0.05 * ((c.id * $2) % 15) END
        FROM blastview."case" c WHERE c.id BETWEEN $3 AND $4 AND c.id % 7 <> 0
        ON CONFLICT (case_id, model_version) DO UPDATE SET label = EXCLUDED.label, confidence = EXCLUDED.confidence,
          p_malignant = EXCLUDED.p_malignant
        """, [.int(model), .int(Int64(seed)), .int(Int64(cases.lowerBound)), .int(Int64(cases.upperBound))])
    }

    func adjudicate(_ ids: [Int64]) throws {
      try service.query(
        "INSERT INTO blastview.rater (name) VALUES ('bvjudge') ON CONFLICT (name) DO NOTHING")
      for id in ids {
        try service.query(
          """
          INSERT INTO blastview.adjudication (case_id, label, adjudicator_id, reason, supersedes)
          SELECT $1, 'Pre-B', (SELECT id FROM blastview.rater WHERE name = 'bvjudge'), 'test',
            (SELECT max(id) FROM blastview.adjudication WHERE case_id = $1)
          """, [.int(id)])
      }
    }

    /// Every viewer's listing of every request.
    func listings() throws -> [String: [[String?]]] {
      var out: [String: [[String?]]] = [:]
      let ana = try PGConnection(pg.url(database, as: "bvana"))
      let lead = try PGConnection(pg.url(database, as: "bvlead"))
      for r in BrowserPageIndexesTests.requests(shaPrefix: String(shaOf17.prefix(7))) {
        out["bvana: \(r)"] = try listing(ana, session: nil, r)
        out["bvlead: \(r)"] = try listing(lead, session: nil, r)
        out["service: \(r)"] = try listing(service, session: nil, r)
        if r.sort == "id" || r.sort == "myLastEdit" {
          out["bvana in session: \(r)"] = try listing(ana, session: "blind", r)
        }
      }
      for asc in [true, false] {
        let r = Request(name: "session queue", sort: "sessionQueue", asc: asc)
        out["bvana in session: \(r)"] = try listing(ana, session: "blind", r)
      }
      return out
    }
  }

  @Test func pagesAreIdenticalBeforeAndAfterTheMigrationAndFollowLaterWrites() throws {
    let s = try Seeded()
    let before = try s.listings()
    #expect(try s.service.query("SELECT to_regclass('blastview.case_status') IS NULL").first?[0] == "t")

    // The service role's `init` applies pg-v6-perf-browser (filling case_status).
    let upgraded = try PostgresStore.create(s.pg.url(s.database, as: "blastview"), schema: .all4)
    #expect(
      try upgraded.connection.query("SELECT * FROM blastview.schema_version()").compactMap { $0[0] }.contains(
        PGBrowserIndexesV6.id))
    let after = try s.listings()
    #expect(before.keys.sorted() == after.keys.sorted())
    var nonEmpty = 0
    for (key, rows) in before.sorted(by: { $0.key < $1.key }) {
      #expect(after[key] == rows, "\(key): \(rows.count) rows before, \(after[key]?.count ?? -1) after")
      if !rows.isEmpty { nonEmpty += 1 }
    }
    // The requests are not vacuous: most listings have rows, blinding hides some from bvana.
    #expect(nonEmpty > before.count * 3 / 4, "\(nonEmpty) of \(before.count) listings have rows")
    #expect(before["bvana: none, id asc"]?.count == 360)
    #expect(
      (before["bvana: disagreement, id asc"]?.count ?? 0)
        < (before["service: disagreement, id asc"]?.count ?? 0))

    // Writes after the migration, through every trigger of case_status.
    let ana = try PostgresStore.open(s.pg.url(s.database, as: "bvana"))
    for id in stride(from: Int64(2), through: 360, by: 10) {
      try ana.annotate(
        case: id, rater: "bvana", label: "Benign", mask: nil, session: nil, clear: [], note: nil)
    }
    try s.adjudicate([6, 5, 77])
    try s.addCases(361...372)
    let m2 = try s.model("m2")
    try s.predict(model: m2, cases: 1...372, seed: 7)
    try s.service.query(
      "INSERT INTO blastview.model_promotion (model_version, promoted_by) VALUES ($1, 'test')", [.int(m2)])
    try s.predict(model: m2, cases: 361...372, seed: 5)  // updates of the promoted model's predictions
    // Many edits at one time (as a labels import in one transaction could leave them): a "my
    // last edit" page's cursor then sits among equal times, where only the case id orders.
    try s.service.query(
      """
      UPDATE blastview.current_annotation SET created_at = (SELECT min(created_at) FROM blastview.current_annotation)
      WHERE rater_id = (SELECT id FROM blastview.rater WHERE name = 'bvlead') AND case_id % 3 <> 0
      """)
    try s.service.query("ANALYZE")

    let later = try s.listings()
    let viewerOf = [
      "bvana: ": "(SELECT id FROM blastview.rater WHERE name = 'bvana')",
      "bvlead: ": "(SELECT id FROM blastview.rater WHERE name = 'bvlead')", "service: ": "NULL::bigint",
    ]
    for (key, rows) in later where !key.hasPrefix("bvana in session") {
      let prefix = viewerOf.keys.first { key.hasPrefix($0) }!
      let r = Self.requests(shaPrefix: String(s.shaOf17.prefix(7))).first { prefix + $0.description == key }!
      // v5's listing of the same request (unchanged by the migration), sorted as documented.
      let reference = try s.service.query(
        "SELECT id, k FROM blastview.case_filtered(\(viewerOf[prefix]!), NULL, $1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [.text(r.sort)] + r.filterValues
      ).map { (id: $0.int("id")!, k: $0.double("k")) }.sorted { a, b in
        if a.k != b.k {
          guard let ak = a.k else { return r.asc }
          guard let bk = b.k else { return !r.asc }
          return r.asc ? ak < bk : ak > bk
        }
        return r.asc ? a.id < b.id : a.id > b.id
      }
      let got = rows.map { (id: Int64($0[0]!)!, k: $0[$0.count - 1].flatMap { Double($0) }) }
      #expect(got.map(\.id) == reference.map(\.id), "\(key)")
      #expect(got.map(\.k) == reference.map(\.k), "\(key)")
    }
    #expect(later["service: none, id asc"]?.count == 372)

    // The store's own page (17 arguments, with P(malignant)) and the service reading as bvana.
    let service = try PostgresStore.open(s.pg.url(s.database, as: "blastview"))
    var malignant = CaseFilter()
    malignant.pMalignantAtLeast = 0.6
    let expected = try s.service.query(
      """
      SELECT p.case_id FROM blastview.prediction p
      WHERE p.model_version = \(m2) AND p.p_malignant >= 0.6
        AND NOT EXISTS (SELECT 1 FROM blastview.blind_pending bp JOIN blastview.rater r ON r.id = bp.rater_id
                        WHERE r.name = 'bvana' AND bp.case_id = p.case_id AND bp.hide_model)
      ORDER BY p.case_id
      """
    ).compactMap { $0.int("case_id") }
    #expect(expected.count > 20)
    for sort in [CaseSort.id, .confidence, .added, .myLastEdit] {
      for filter in [malignant, CaseFilter(unreviewed: true), CaseFilter(disagreement: true)] {
        var own: [CaseRow] = []
        var asService: [CaseRow] = []
        var request = CasePageRequest(filter: filter, sort: sort, limit: 11)
        while true {
          let a = try ana.casePage(request, viewer: .rater("bvana"))
          let b = try service.casePage(request, viewer: .rater("bvana"))
          // Equal to the row, but for where each user's thumbnails are cached.
          func rows(_ p: CasePage) -> [CaseRow] {
            p.rows.map {
              var r = $0
              r.thumbnailPath = (r.thumbnailPath as NSString).lastPathComponent
              return r
            }
          }
          #expect(rows(a) == rows(b) && a.next == b.next && a.previous == b.previous, "\(sort) \(filter)")
          own += a.rows
          asService += b.rows
          guard let next = a.next else { break }
          request.cursor = next
        }
        #expect(own.map(\.id) == asService.map(\.id))
        #expect(try ana.caseCount(filter, viewer: .rater("bvana")) == own.count)
        #expect(try service.caseCount(filter, viewer: .rater("bvana")) == own.count)
        if filter == malignant {
          #expect(own.map(\.id).sorted() == expected, "\(sort)")
        }
      }
    }
    // Nobody but the service role reads as another rater.
    #expect(throws: StoreError.self) { try ana.casePage(CasePageRequest(), viewer: .rater("bvben")) }
    #expect(throws: (any Error).self) {
      try ana.connection.query(
        "SELECT * FROM blastview.case_page_as('bvben', NULL, NULL, NULL, false, false, NULL, false, NULL, NULL, NULL, "
          + "'id', true, false, false, NULL, NULL, 10)")
    }
  }
}
