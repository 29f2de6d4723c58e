@_spi(Testing) import CaseStore
import Foundation
import Testing

/// The audit chain of a shared workspace, computed by PostgreSQL itself (`PGAuditChainV2`):
/// the same encoding and hashes as `AuditChain.swift`, every event sealed whoever writes it,
/// tampering by the superuser named by `verify`, raters unable to write the chain, and
/// parallel writers unable to fork it.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct PGAuditChainTests {
  static let genesis = String(repeating: "0", count: 64)

  /// `audit_encode` and `audit_hash` in the database give the documented example's bytes and
  /// hashes (docs/casestore.md; computed independently with Python's hashlib).
  @Test func theDatabaseEncodesAndHashesTheDocumentedExample() throws {
    let pg = try PGTestCluster.require()
    let db = try pg.createDatabase()
    _ = try PostgresStore.create(pg.url(db, as: "blastview"), schema: .all4)
    let c = try PGConnection(pg.url(db, as: "blastview"))
    let fields: [AuditChain.Field] = [
      ("format", "blastview-audit-v1"), ("source", "annotation"), ("id", "1"), ("case_id", "7"),
      ("case_sha256", String(repeating: "ab", count: 32)), ("rater", "Zoë"), ("session", nil),
      ("label", "Pre-B"), ("mask_sha256", nil), ("changed", "1"), ("supersedes", nil), ("note", "a=b\n2:x"),
      ("created_at", "2025-01-31T12:34:56.789Z"),
    ]
    let payload = try Self.encodeInDatabase(c, fields)
    #expect(payload == AuditChain.encode(fields))
    let first = try c.query("SELECT blastview.audit_hash($1, $2)", [.text(Self.genesis), .text(payload)])
      .first?[0]
    #expect(first == "94cf0d25742237cf8dfe28f0239834d5c76edc2b4b3a6a53c0b6633f5fe50538")
    let second = try c.query("SELECT blastview.audit_hash($1, $2)", [.text(first ?? ""), .text(payload)])
      .first?[0]
    #expect(second == "f56745610fb7c00bbc4e0ee710bce2dec7cb5fd9067e899203bdc89063f521df")
    // The timestamp format of the embedded store, in UTC whatever the session's time zone.
    try c.query("SET TIME ZONE 'America/New_York'")
    let t = try c.query("SELECT blastview.audit_time('2025-01-31T12:34:56.789123Z'::timestamptz)").first?[0]
    #expect(t == "2025-01-31T12:34:56.789Z")
  }

  /// Arbitrary field values (separators, line feeds, NULL against empty, multi-byte text)
  /// encode to the same bytes in the database as in Swift.
  @Test func arbitraryFieldsEncodeAlikeInBothPlaces() throws {
    let pg = try PGTestCluster.require()
    let db = try pg.createDatabase()
    _ = try PostgresStore.create(pg.url(db, as: "blastview"), schema: .all4)
    let c = try PGConnection(pg.url(db, as: "blastview"))
    var rng = SystemRandomNumberGenerator()
    let alphabet: [Character] = ["a", "=", ":", "\n", "~", "1", "é", "ж", "😀", " ", "Z"]
    for _ in 0..<200 {
      let fields: [AuditChain.Field] = (0..<Int.random(in: 1...6, using: &rng)).map { i in
        let value: String? =
          Int.random(in: 0..<5, using: &rng) == 0
          ? nil
          : String((0..<Int.random(in: 0...8, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
        return ("f\(i)", value)
      }
      #expect(try Self.encodeInDatabase(c, fields) == AuditChain.encode(fields), "\(fields)")
    }
  }

  /// Every kind of event is sealed at commit by the database, whoever writes it (the raters
  /// through the functions, the service role straight into a table); the stored hashes follow
  /// from the stored payloads by Swift's own `AuditChain.hash`; every rater gets the same head.
  @Test func everyEventIsSealedAndTheHashesAreSwiftsOwn() throws {
    let f = try AuditFixture()
    let service = try PGConnection(f.pg.url(f.db, as: "blastview"))
    let links = try service.query(
      "SELECT seq, source, source_id, payload, hash FROM blastview.audit_chain ORDER BY seq")
    var previous = Self.genesis
    var sources: [String: Int] = [:]
    for l in links {
      let payload = l["payload"] ?? ""
      #expect(AuditChain.hash(previous: previous, payload: payload) == l["hash"])
      let decoded = try #require(AuditChain.decode(payload))
      #expect(decoded.first?.value == "blastview-audit-v1" && decoded[1].value == l["source"])
      previous = l["hash"] ?? ""
      sources[l["source"] ?? "", default: 0] += 1
    }
    // role_change (lead at init, ben made adjudicator), session_create + 2 session_rater +
    // session_close, the annotations, the adjudication and the promotion.
    #expect(sources["audit_event"] == 6, "\(sources)")
    #expect(sources["annotation"] == f.annotationIDs.count)
    #expect(sources["adjudication"] == 1 && sources["model_promotion"] == 1, "\(sources)")
    let kinds = try service.query("SELECT kind, detail FROM blastview.audit_event ORDER BY id").map {
      "\($0["kind"] ?? "")\($0["detail"].map { ":" + $0 } ?? "")"
    }
    #expect(
      kinds == [
        "role_change:lead", "role_change:adjudicator", "session_create", "session_rater", "session_rater",
        "session_close",
      ])
    // The annotation's link carries what the rater recorded, and its time as the embedded store writes it.
    let sealed = try #require(
      links.first { $0["source"] == "annotation" && $0.int("source_id") == f.annotationIDs[0] }?["payload"])
    let fields = Dictionary(
      (AuditChain.decode(sealed) ?? []).map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    #expect(fields["rater"] == "bvana" && fields["label"] == "Pre-B" && fields["session"] == "s1")
    #expect(
      (fields["created_at"] ?? nil)?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil,
      "\(fields)")
    for who in ["blastview", "bvlead", "bvana", "bvben"] {
      let v = try PostgresStore.open(f.pg.url(f.db, as: who)).verifyAuditChain()
      #expect(v.ok && v.links == links.count && v.head == previous, "\(who): \(v)")
    }
  }

  /// The superuser rewrites an annotation with the triggers disabled: `verify` (the binary)
  /// names the row and, for the service role, the field; a rater is told the row, not the
  /// sealed label; `doctor --workspace` reports it too.
  @Test func aRowRewrittenByTheSuperuserIsNamed() throws {
    let f = try AuditFixture()
    let u = try f.users()
    let id = f.annotationIDs[0]
    try f.superuser(u, "UPDATE blastview.annotation SET label = 'Pro-B' WHERE id = \(id)")
    let ws = try f.serviceWorkspace(u)
    let v = try u.blastview(nil, ["verify", "--workspace", ws])
    #expect(v.status == 1, "\(v)")
    #expect(
      v.out.contains("BROKEN at annotation \(id): label is \"Pro-B\" now, \"Pre-B\" when sealed"), "\(v.out)")
    let asRater = try PostgresStore.open(f.pg.url(f.db, as: "bvben")).verifyAuditChain()
    let b = try #require(asRater.firstBreak)
    #expect(
      b.table == "annotation" && b.id == id && b.problem == "the row differs from its sealed record", "\(b)")
    let doctor = try u.blastview(nil, ["doctor", "--workspace", ws, "--json"])
    #expect(doctor.out.contains("broken at annotation \(id)"), "\(doctor)")
  }

  @Test func aRowDeletedByTheSuperuserIsNamed() throws {
    let f = try AuditFixture()
    let u = try f.users()
    let id = f.annotationIDs[1]
    try f.superuser(u, "DELETE FROM blastview.annotation WHERE id = \(id)")
    let v = try u.blastview(nil, ["verify", "--workspace", try f.serviceWorkspace(u), "--json"])
    #expect(v.status == 1)
    let out = try JSONDecoder().decode(AuditChain.Verification.self, from: Data(v.out.utf8))
    let b = try #require(out.firstBreak)
    #expect(
      b.table == "annotation" && b.id == id && b.problem == "the row was removed after it was sealed", "\(b)")
  }

  @Test func aRowInsertedByTheSuperuserIsNamed() throws {
    let f = try AuditFixture()
    let u = try f.users()
    try f.superuser(
      u,
      "INSERT INTO blastview.annotation (case_id, rater_id, label, changed) SELECT \(f.cases[3]), id, 'Benign', 1 "
        + "FROM blastview.rater WHERE name = 'bvana'")
    let service = try PGConnection(f.pg.url(f.db, as: "blastview"))
    let inserted = try #require(
      try service.query("SELECT max(id) FROM blastview.annotation").first?[0].flatMap { Int64($0) })
    let v = try u.blastview(nil, ["verify", "--workspace", try f.serviceWorkspace(u)])
    #expect(v.status == 1)
    #expect(v.out.contains("BROKEN at annotation \(inserted): the row is not in the audit chain"), "\(v.out)")
  }

  /// A link's recorded event rewritten (its hash left): the link no longer follows.
  @Test func aLinkRewrittenByTheSuperuserIsNamed() throws {
    let f = try AuditFixture()
    let u = try f.users()
    let service = try PGConnection(f.pg.url(f.db, as: "blastview"))
    let seq = try #require(
      try service.query("SELECT seq FROM blastview.audit_chain ORDER BY seq OFFSET 2 LIMIT 1").first?.int(
        "seq"))
    try f.superuser(
      u, "UPDATE blastview.audit_chain SET payload = payload || 'x=~' || E'\\n' WHERE seq = \(seq)")
    let v = try PostgresStore.open(f.pg.url(f.db, as: "bvana")).verifyAuditChain()
    let b = try #require(v.firstBreak)
    #expect(
      b.table == "audit_chain" && b.id == seq && b.problem.hasPrefix("the link's hash does not follow"),
      "\(b)")
  }

  /// A rater (psql with his own role) can neither read nor write the chain's tables, nor
  /// call the sealing function; he can call `audit_verify`.
  @Test func aRaterCannotWriteTheChain() throws {
    let f = try AuditFixture()
    let u = try f.users()
    for sql in [
      "INSERT INTO blastview.audit_chain (source, source_id, payload, hash) VALUES ('annotation', 999, 'x', repeat('0', 64))",
      "DELETE FROM blastview.audit_chain", "UPDATE blastview.audit_event SET detail = 'lead'",
      "SELECT payload FROM blastview.audit_chain",
      "INSERT INTO blastview.audit_pending VALUES ('annotation', 1, now())",
      "SELECT blastview.audit_seal()", "SELECT blastview.rater_grant('bvben', 'lead')",
    ] {
      let r = try u.psql("bvben", f.db, sql)
      #expect(r.status != 0 && r.err.contains("permission denied"), "\(sql): \(r)")
    }
    let ok = try u.psql("bvben", f.db, "SELECT break_table IS NULL FROM blastview.audit_verify()")
    #expect(ok.status == 0 && ok.out.trimmingCharacters(in: .whitespacesAndNewlines) == "t", "\(ok)")
  }

  /// Many `blastview annotate` processes at once, as three raters: the chain stays one line
  /// (every link follows from the one before), every annotation is sealed exactly once.
  @Test func parallelWritersNeverForkTheChain() throws {
    let f = try AuditFixture()
    let base = NSTemporaryDirectory() + "bv-fork-\(UUID().uuidString)"
    for r in ["bvlead", "bvana", "bvben"] {
      let p = try OSUsers.shell(
        OSUsers.builtBinary, ["init", "--workspace", base + "/" + r, "--database", f.pg.url(f.db, as: r)])
      #expect(p.status == 0, "\(p.err)")
    }
    var running: [Process] = []
    for i in 0..<24 {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: OSUsers.builtBinary)
      p.arguments = [
        "annotate", String(f.cases[i % f.cases.count]), "--label", ["Benign", "Pre-B", "Pro-B"][i % 3],
        "--workspace", base + "/" + ["bvlead", "bvana", "bvben"][i % 3],
      ]
      p.standardOutput = FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      try p.run()
      running.append(p)
    }
    for p in running { p.waitUntilExit() }
    #expect(running.allSatisfy { $0.terminationStatus == 0 })
    let service = try PGConnection(f.pg.url(f.db, as: "blastview"))
    let counts = try #require(
      try service.query(
        """
        SELECT (SELECT count(*) FROM blastview.annotation) + (SELECT count(*) FROM blastview.adjudication)
          + (SELECT count(*) FROM blastview.model_promotion) + (SELECT count(*) FROM blastview.audit_event) AS events,
          (SELECT count(*) FROM blastview.audit_chain) AS links
        """
      ).first)
    #expect(counts["events"] == counts["links"], "\(counts)")
    let v = try PostgresStore.open(f.pg.url(f.db, as: "bvana")).verifyAuditChain()
    #expect(v.ok && String(v.links) == counts["links"], "\(v)")
  }

  /// `audit_encode` over `fields`, each value a query parameter.
  static func encodeInDatabase(_ c: PGConnection, _ fields: [AuditChain.Field]) throws -> String {
    let names = fields.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
    let values = fields.indices.map { "$\($0 + 1 + fields.count)::text" }.joined(separator: ", ")
    let params: [PGValue] = fields.map { .text($0.name) } + fields.map { .optional($0.value) }
    return try c.query(
      "SELECT blastview.audit_encode(ARRAY[\(names)]::text[], ARRAY[\(values)]::text[])", params
    )
    .first?[0] ?? ""
  }
}

/// A shared workspace with every kind of audited event: the lead (a role event at init), ben
/// made adjudicator (a role event), a blinded session of ana and ben (created, two raters,
/// closed), their labels, an adjudication and a model promotion written by the service role
/// straight into the tables (the triggers seal whatever is inserted).
struct AuditFixture {
  let pg: PGTestCluster
  let db: String
  let cases: [Int64]
  var annotationIDs: [Int64] = []

  init() throws {
    let f = try ContractFixture(.postgres)
    pg = try PGTestCluster.require()
    db = f.databaseName
    cases = f.cases
    try f.store(f.lead).addRater(f.ben, role: .adjudicator)
    try f.store(f.lead).createSession(
      name: "s1", raters: [f.ana, f.ben], cases: .ids(Array(cases.prefix(2))), blinded: true,
      hideModel: false,
      createdBy: f.lead)
    for (rater, label) in [(f.ana, "Pre-B"), (f.ben, "Pro-B")] {
      for c in cases.prefix(2) {
        let a = try f.store(rater).annotate(
          case: c, rater: rater, label: label, mask: nil, session: "s1", clear: [], note: nil)
        annotationIDs.append(a.id)
      }
    }
    try f.store(f.lead).closeSession("s1", by: f.lead)
    let service = try PGConnection(pg.url(db, as: "blastview"))
    let model = Array("not a real checkpoint".utf8)
    try service.transaction { () throws(StoreError) in
      try service.query(
        "SELECT blastview.model_register(NULL, encode(sha256($1), 'hex'), $1, 'cls', 'cls', '', NULL, NULL)",
        [.bytes(model)])
      try service.query(
        "INSERT INTO blastview.model_promotion (model_version, promoted_by, reason) "
          + "SELECT max(version), 'bvlead', 'first model' FROM blastview.model")
      try service.query(
        "INSERT INTO blastview.adjudication (case_id, label, adjudicator_id, session_id, reason) "
          + "SELECT $1, 'Pre-B', r.id, s.id, 'morphology' FROM blastview.rater r, blastview.session s "
          + "WHERE r.name = 'bvben' AND s.name = 's1'", [.int(cases[0])])
    }
  }

  /// The OS users' runner (the binary copied where they can run it).
  func users() throws -> OSUsers { try OSUsers(socket: pg.socket) }

  /// `sql` as the superuser (the postgres OS user through psql), with every trigger off: the
  /// append-only rules and the sealing are bypassed, as an attacker with the server would.
  func superuser(_ u: OSUsers, _ sql: String) throws {
    let r = try u.psql("postgres", db, "SET session_replication_role = replica; " + sql)
    #expect(r.status == 0, "\(sql): \(r.err)")
  }

  /// A workspace directory of the service role (root connects as it through pg_ident).
  func serviceWorkspace(_ u: OSUsers) throws -> String {
    let dir = u.work + "/ws-service-\(UUID().uuidString.prefix(8))"
    let r = try u.blastview(nil, ["init", "--workspace", dir, "--database", pg.url(db, as: "blastview")])
    #expect(r.status == 0, "\(r.err)")
    return dir
  }
}

/// A shared workspace made before the audit chain (only `pg-v1-shared-workspace`, as the
/// previous build left it) keeps its whole history when `init` by the service role applies
/// the later migrations: its sessions and roles become events, every row is sealed, and
/// `verify` passes; new writes continue the chain.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct PGAuditChainUpgradeTests {
  @Test func aWorkspaceFromBeforeTheChainIsSealedOnUpgrade() throws {
    let pg = try PGTestCluster.require()
    let db = try pg.createDatabase()
    let url = pg.url(db, as: "blastview")
    _ = try PostgresStore.create(url, schema: .all4, leads: ["bvlead"], through: "pg-v1-shared-workspace")
    let lead = try PostgresStore.open(pg.url(db, as: "bvlead"))
    try lead.addRater("bvana", role: .rater)
    try lead.addRater("bvben", role: .adjudicator)
    let images = NSTemporaryDirectory() + "bv-upgrade-\(UUID().uuidString)/Pre-B"
    try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
    let source = ContractFixture.repo.appendingPathComponent("SampleData/wbc-seg/images/lymphocyte").path
    for n in try FileManager.default.contentsOfDirectory(atPath: source).sorted().prefix(2) {
      try FileManager.default.copyItem(atPath: source + "/" + n, toPath: images + "/" + n)
    }
    let cases = try lead.importImages(
      ImportOptions(paths: [images], labelsFromFolders: true), progress: { _ in }
    )
    .caseIDs
    try lead.createSession(
      name: "old", raters: ["bvana"], cases: .ids(cases), blinded: true, hideModel: false, createdBy: "bvlead"
    )
    let ana = try PostgresStore.open(pg.url(db, as: "bvana"))
    for c in cases {
      try ana.annotate(
        case: c, rater: "bvana", label: "Pre-B", mask: nil, session: "old", clear: [], note: nil)
    }
    try lead.closeSession("old", by: "bvlead")
    let before = try PGConnection(url).query("SELECT count(*) FROM blastview.schema_migration").first?[0]
    #expect(before == "1")

    _ = try PostgresStore.create(url, schema: .all4)
    let service = try PGConnection(url)
    let kinds = try service.query("SELECT kind, detail FROM blastview.audit_event ORDER BY id").map {
      "\($0["kind"] ?? "")\($0["detail"].map { ":" + $0 } ?? "")"
    }
    #expect(
      Set(kinds) == [
        "role_change:lead", "role_change:adjudicator", "session_create", "session_rater", "session_close",
      ]
        && kinds.count == 5, "\(kinds)")
    let v = try PostgresStore.open(pg.url(db, as: "bvana")).verifyAuditChain()
    #expect(v.ok && v.links == 5 + cases.count, "\(v)")
    try ana.annotate(
      case: cases[0], rater: "bvana", label: "Pro-B", mask: nil, session: nil, clear: [], note: nil)
    let after = try PostgresStore.open(pg.url(db, as: "bvben")).verifyAuditChain()
    #expect(after.ok && after.links == v.links + 1, "\(after)")
  }
}
