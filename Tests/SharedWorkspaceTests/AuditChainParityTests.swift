import CaseStore
import Foundation
import GRDB
import Testing

/// The same actions on an embedded and a shared workspace give the same audit events, field
/// for field: the PostgreSQL functions write the session and role events the SQLite triggers
/// write, and the database encodes each event as `AuditChain` does. Only the times differ
/// (each backend stamps its own clock), so they are compared with the time fields left out;
/// with the times copied too, `MigrateFromSQLiteTests` shows the heads are equal.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct AuditChainParityTests {
  @Test func theSameActionsGiveTheSameEventsOnBothBackends() throws {
    let pg = try PGTestCluster.require()
    let base = NSTemporaryDirectory() + "bv-parity-\(UUID().uuidString)"
    let images = base + "/images/Pre-B"
    try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
    let source = ContractFixture.repo.appendingPathComponent("SampleData/wbc-seg/images/lymphocyte").path
    for n in try FileManager.default.contentsOfDirectory(atPath: source).sorted().prefix(3) {
      try FileManager.default.copyItem(atPath: source + "/" + n, toPath: images + "/" + n)
    }
    let sqlite = try Workspace.create(at: base + "/ws", schema: .all4)
    let db = try pg.createDatabase()
    let service = try PostgresStore.create(pg.url(db, as: "blastview"), schema: .all4)
    var stores: [String: any WorkspaceStore] = [:]
    func store(_ backend: Backend, _ rater: String) throws -> any WorkspaceStore {
      if backend == .sqlite { return sqlite }
      if let s = stores[rater] { return s }
      let s = try PostgresStore.open(pg.url(db, as: rater))
      stores[rater] = s
      return s
    }
    for backend in [Backend.sqlite, .postgres] {
      let admin: any WorkspaceStore = backend == .sqlite ? sqlite : service
      try admin.addRater("bvlead", role: .adjudicator)
      try admin.addRater("bvana", role: .rater)
      try admin.addRater("bvben", role: .rater)
      let cases = try admin.importImages(
        ImportOptions(paths: [images], labelsFromFolders: true), progress: { _ in }
      ).caseIDs
      try store(backend, "bvlead").createSession(
        name: "s1", raters: ["bvben", "bvana"], cases: .ids([cases[1], cases[0]]), blinded: true,
        hideModel: false, createdBy: "bvlead")
      try store(backend, "bvana").annotate(
        case: cases[0], rater: "bvana", label: "Pre-B", mask: nil, session: "s1", clear: [], note: "a=b\n2:x")
      try store(backend, "bvben").annotate(
        case: cases[0], rater: "bvben", label: "Pro-B", mask: nil, session: "s1", clear: [], note: nil)
      try store(backend, "bvana").annotate(
        case: cases[0], rater: "bvana", label: "Pro-B", mask: nil, session: "s1", clear: [], note: "revised")
      try store(backend, "bvlead").closeSession("s1", by: "bvlead")
      try admin.addRater("bvben", role: .adjudicator)
    }
    let q = try DatabaseQueue(path: base + "/ws/" + Workspace.databaseFileName)
    let embedded = try q.read { db in
      try String.fetchAll(db, sql: "SELECT payload FROM audit_chain ORDER BY seq")
    }
    let shared = try PGConnection(pg.url(db, as: "blastview")).query(
      "SELECT payload FROM blastview.audit_chain ORDER BY seq"
    ).compactMap { $0["payload"] }
    func timeless(_ payload: String) -> [String] {
      (AuditChain.decode(payload) ?? []).filter { !["created_at", "at"].contains($0.name) }.map {
        "\($0.name)=\($0.value ?? "NULL")"
      }
    }
    #expect(
      embedded.count == 9, "1 role + session, 2 raters, close + 3 annotations + 1 role: \(embedded.count)")
    #expect(shared.count == embedded.count)
    for (e, s) in zip(embedded, shared) {
      #expect(timeless(s) == timeless(e), "\nPostgreSQL \(s)\nSQLite \(e)")
    }
    // Both stamp times the same way.
    for payload in embedded + shared {
      let t = (AuditChain.decode(payload) ?? []).first { $0.name == "created_at" || $0.name == "at" }?.value
      #expect(t?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(payload)")
    }
  }
}
