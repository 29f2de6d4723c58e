import Foundation
import GRDB
import Testing

@testable import CaseStore

/// The tamper-evident audit chain (issue 16): every event sealed, tampering through raw
/// SQLite found and named, old workspaces back-filled without loss.
@Suite struct AuditChainTests {
  /// A workspace with every kind of event: annotations (one with a mask), a blinded session
  /// (created, labelled, closed), a role change, an adjudication and a promotion.
  func busyStore(_ dir: TempDir) throws -> CaseStore {
    let store = try makeStore(dir, cases: 4)
    try store.annotate(case: 1, rater: "ana", label: "Benign")
    try store.annotate(case: 1, rater: "ana", mask: squareMask(8, 8, x: 1, y: 1, size: 3), note: "nuclei")
    try store.createSession(
      name: "s1", raters: ["ana", "ben"], cases: .ids([2, 3]), blinded: true, hideModel: true,
      createdBy: "lead")
    try store.annotate(case: 2, rater: "ana", label: "Pre-B", session: "s1")
    try store.annotate(case: 2, rater: "ben", label: "Pro-B", session: "s1")
    try store.setRole(.adjudicator, for: "carla")
    try store.adjudicate(case: 2, adjudicator: "carla", label: "Pre-B", reason: "blasts")
    let src = dir.sub("m.safetensors")
    try Data("weights".utf8).write(to: URL(fileURLWithPath: src))
    let v = try store.registerModel(
      file: src, parent: nil, tasks: ["classification"], trainedTasks: ["classification"], frozenTasks: [])
    try store.promote(version: v.version, by: "lead", reason: "first")
    try store.closeSession("s1", by: "lead")
    return store
  }

  /// Raw SQLite on the workspace file, as someone with write access to it would use it.
  func raw(_ store: CaseStore, _ sql: String) throws {
    let q = try DatabaseQueue(path: store.workspace.databasePath)
    try q.writeWithoutTransaction { db in try db.execute(sql: sql) }
    try q.close()
  }

  @Test func theEncodingMatchesTheDocumentedExample() {
    // The example of docs/casestore.md; the hashes were computed independently with Python's
    // hashlib over the bytes the documentation describes.
    let fields: [AuditChain.Field] = [
      ("format", "blastview-audit-v1"), ("source", "annotation"), ("id", "1"), ("case_id", "7"),
      ("case_sha256", String(repeating: "ab", count: 32)), ("rater", "Zoë"), ("session", nil),
      ("label", "Pre-B"), ("mask_sha256", nil), ("changed", "1"), ("supersedes", nil), ("note", "a=b\n2:x"),
      ("created_at", "2025-01-31T12:34:56.789Z"),
    ]
    let payload = AuditChain.encode(fields)
    #expect(payload.hasPrefix("format=18:blastview-audit-v1\nsource=10:annotation\nid=1:1\n"))
    #expect(payload.contains("rater=4:Zoë\nsession=~\n"))
    let first = AuditChain.hash(previous: AuditChain.genesis, payload: payload)
    #expect(first == "94cf0d25742237cf8dfe28f0239834d5c76edc2b4b3a6a53c0b6633f5fe50538")
    #expect(
      AuditChain.hash(previous: first, payload: payload)
        == "f56745610fb7c00bbc4e0ee710bce2dec7cb5fd9067e899203bdc89063f521df")
    let back = AuditChain.decode(payload)
    #expect(back?.map(\.name) == fields.map(\.name) && back?.map(\.value) == fields.map(\.value))
  }

  /// The encoding is unambiguous: any field values (separators, line feeds, NULL versus
  /// empty, multi-byte text) decode back to themselves, so two different events never share
  /// a payload.
  @Test func theEncodingRoundTripsArbitraryFields() {
    var rng = SeededRandom(seed: 16)
    let alphabet: [Character] = ["a", "=", ":", "\n", "~", "1", "é", "ж", "😀", " ", "\u{0}"]
    var seen: [String: [String?]] = [:]
    for _ in 0..<2000 {
      let fields: [AuditChain.Field] = (0..<Int.random(in: 1...5, using: &rng)).map { i in
        let value: String? =
          Int.random(in: 0..<5, using: &rng) == 0
          ? nil
          : String((0..<Int.random(in: 0...6, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
        return ("f\(i)", value)
      }
      let payload = AuditChain.encode(fields)
      let back = AuditChain.decode(payload)
      #expect(back?.map(\.name) == fields.map(\.name) && back?.map(\.value) == fields.map(\.value))
      if let other = seen[payload] { #expect(other == fields.map(\.value)) }
      seen[payload] = fields.map(\.value)
    }
  }

  @Test func everyKindOfEventIsSealedAndTheChainVerifies() throws {
    let dir = TempDir()
    let store = try busyStore(dir)
    let v = try store.verifyAuditChain()
    #expect(v.ok)
    let sources = try store.read { db in
      try Row.fetchAll(db, sql: "SELECT source, payload FROM audit_chain ORDER BY seq").map {
        ($0["source"] as String, $0["payload"] as String)
      }
    }
    // 4 annotations, 1 adjudication, 1 promotion; events: session created, 2 raters, role, close.
    #expect(sources.filter { $0.0 == "annotation" }.count == 4)
    #expect(sources.filter { $0.0 == "adjudication" }.count == 1)
    #expect(sources.filter { $0.0 == "model_promotion" }.count == 1)
    let kinds = sources.filter { $0.0 == "audit_event" }.compactMap {
      AuditChain.decode($0.1)?.first { $0.name == "kind" }?.value
    }
    #expect(kinds == ["session_create", "session_rater", "session_rater", "role_change", "session_close"])
    #expect(v.links == sources.count && v.head.count == 64)
  }

  @Test func aLabelRewrittenWithRawSQLiteIsNamedByVerify() throws {
    let dir = TempDir()
    let store = try busyStore(dir)
    // The attack of issue 16: drop the append-only trigger and rewrite a blind label.
    try raw(store, "DROP TRIGGER annotation_no_update; UPDATE annotation SET label = 'Pre-B' WHERE id = 4")
    let v = try store.verifyAuditChain()
    let b = try #require(v.firstBreak)
    #expect(b.table == "annotation" && b.id == 4)
    #expect(b.problem.contains("label is \"Pre-B\" now, \"Pro-B\" when sealed"))
  }

  @Test func aRemovedRowAnInsertedRowAndARewrittenLinkAreEachFound() throws {
    do {
      let dir = TempDir()
      let store = try busyStore(dir)
      try raw(store, "DROP TRIGGER adjudication_no_delete; DELETE FROM adjudication WHERE id = 1")
      let b = try #require(try store.verifyAuditChain().firstBreak)
      #expect(b.table == "adjudication" && b.id == 1 && b.problem.contains("removed"))
    }
    do {
      let dir = TempDir()
      let store = try busyStore(dir)
      try raw(
        store,
        """
        INSERT INTO annotation (case_id, rater_id, label, changed, supersedes, created_at)
        VALUES (4, 1, 'Benign', 1, NULL, '2020-01-01T00:00:00.000Z')
        """)
      let b = try #require(try store.verifyAuditChain().firstBreak)
      #expect(b.table == "annotation" && b.id == 5 && b.problem.contains("not in the audit chain"))
    }
    do {
      // Rewriting the sealed record along with the row breaks the link's hash.
      let dir = TempDir()
      let store = try busyStore(dir)
      let seq = try store.read { db in
        try Int64.fetchOne(db, sql: "SELECT seq FROM audit_chain WHERE source = 'model_promotion'")!
      }
      try raw(
        store,
        """
        DROP TRIGGER audit_chain_no_update; DROP TRIGGER model_promotion_no_update;
        UPDATE model_promotion SET reason = 'forged';
        UPDATE audit_chain SET payload = replace(payload, 'reason=5:first', 'reason=6:forged') WHERE seq = \(seq)
        """)
      let b = try #require(try store.verifyAuditChain().firstBreak)
      #expect(b.table == "audit_chain" && b.id == seq && b.problem.contains("does not follow"))
    }
    do {
      // A session's blinding switched off after the fact.
      let dir = TempDir()
      let store = try busyStore(dir)
      try raw(store, "UPDATE session SET blinded = 0")
      let b = try #require(try store.verifyAuditChain().firstBreak)
      #expect(b.table == "audit_event" && b.problem.contains("blinded is \"0\" now, \"1\" when sealed"))
    }
  }

  @Test func aWorkspaceWrittenBeforeTheChainIsBackFilledWithNothingLost() throws {
    // Written by main at 11fffef (Fixtures/make-pre-audit-workspace.sh).
    let fixture = try #require(
      Bundle.module.url(forResource: "pre-audit-workspace", withExtension: "db", subdirectory: "Fixtures"))
    let dir = TempDir()
    let ws = dir.sub("ws")
    try FileManager.default.createDirectory(atPath: ws, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: fixture.path, toPath: ws + "/" + Workspace.databaseFileName)
    func snapshot(_ db: Database) throws -> [String] {
      try [
        "SELECT id, case_id, rater_id, session_id, label, mask_id, changed, supersedes, note, created_at FROM annotation",
        "SELECT * FROM adjudication", "SELECT * FROM session", "SELECT * FROM session_rater",
        "SELECT * FROM rater", "SELECT id, sha256, path FROM \"case\"", "SELECT id, sha256 FROM mask",
        "SELECT * FROM session_current", "SELECT * FROM current_annotation",
      ].map { sql in
        try Row.fetchAll(db, sql: sql + " ORDER BY 1, 2").map(\.description).joined(separator: "\n")
      }
    }
    let before = try DatabaseQueue(path: ws + "/" + Workspace.databaseFileName)
    let old = try before.read(snapshot)
    #expect(try before.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM annotation") } == 7)
    try before.close()
    let store = try Workspace.open(path: ws)
    #expect(try store.read(snapshot) == old)
    let v = try store.verifyAuditChain()
    #expect(v.ok)
    // 7 annotations, 1 adjudication; session created, 2 raters, closed; carla's role.
    #expect(v.links == 7 + 1 + 4 + 1)
    // New writes continue the same chain.
    try store.annotate(case: 2, rater: "ana", label: "monocyte")
    let after = try store.verifyAuditChain()
    #expect(after.ok && after.links == v.links + 1)
  }
}

/// `blastview verify` and `doctor --workspace` through the real binary, after a raw rewrite.
@Suite(.serialized) struct VerifyCommandTests {
  @Test func verifyAndDoctorNameTheRewrittenAnnotation() throws {
    let dir = TempDir()
    let ws = dir.sub("ws")
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
    let images = repo + "/SampleData/wbc-seg/images/lymphocyte"
    #expect(try CLITests.run(["init", "--workspace", ws, "--schema", "wbc5", "--no-model"]).status == 0)
    #expect(try CLITests.run(["import", "--workspace", ws, images]).status == 0)
    for (rater, label) in [("ana", "lymphocyte"), ("ben", "monocyte"), ("ana", "basophil")] {
      let r = try CLITests.run(["annotate", "--workspace", ws, "--rater", rater, "1", "--label", label])
      #expect(r.status == 0, "\(r.err)")
    }
    #expect(try CLITests.run(["rater", "set-role", "--workspace", ws, "carla", "adjudicator"]).status == 0)
    let ok = try CLITests.run(["verify", "--workspace", ws])
    #expect(ok.status == 0 && ok.out.contains("audit chain intact: 4 link(s)"), "\(ok.all)")
    let q = try DatabaseQueue(path: ws + "/" + Workspace.databaseFileName)
    try q.writeWithoutTransaction { db in
      try db.execute(
        sql: "DROP TRIGGER annotation_no_update; UPDATE annotation SET label = 'neutrophil' WHERE id = 2")
    }
    try q.close()
    let broken = try CLITests.run(["verify", "--workspace", ws])
    #expect(broken.status == 1)
    #expect(
      broken.out.contains(
        "audit chain BROKEN at annotation 2: label is \"neutrophil\" now, \"monocyte\" when sealed"),
      "\(broken.all)")
    let json = try CLITests.run(["verify", "--workspace", ws, "--json"])
    let j = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
    #expect((j["firstBreak"] as? [String: Any])?["table"] as? String == "annotation")
    let doctor = try CLITests.run(["doctor", "--workspace", ws, "--json"])
    #expect(doctor.status != 0)
    #expect(doctor.out.contains("audit chain") && doctor.out.contains("label is"), "\(doctor.all)")
  }
}
