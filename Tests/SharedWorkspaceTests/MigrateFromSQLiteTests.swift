import CaseStore
import Foundation
import GRDB
import Imaging
import Testing

/// `blastview migrate --from-sqlite`: an embedded workspace built from SampleData (the shipped
/// model registered and promoted by `init`, raters and an adjudicator, a closed and an open
/// blinded session, labels, a revision, a mask and an adjudication) moves into PostgreSQL with
/// every id, rater and time; the database recomputes the same audit chain from the copied rows
/// (the same events give the same head hash on both backends), and a broken source chain is
/// refused before anything is created.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct MigrateFromSQLiteTests {
  @Test func anEmbeddedWorkspaceMovesWithTheSameAuditChainHead() throws {
    let pg = try PGTestCluster.require()
    let base = NSTemporaryDirectory() + "bv-migrate-\(UUID().uuidString)"
    let ws = base + "/embedded"
    let made = try OSUsers.shell(OSUsers.builtBinary, ["init", "--workspace", ws, "--schema", "all4"])
    try #require(made.status == 0, "\(made.err)")
    let store = try Workspace.open(path: ws)
    try store.addRater("bvana", role: .rater)
    try store.addRater("bvben", role: .rater)
    try store.addRater("bvlead", role: .adjudicator)
    let images = base + "/images/Pre-B"
    try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
    let source = ContractFixture.repo.appendingPathComponent("SampleData/wbc-seg/images/lymphocyte").path
    for n in try FileManager.default.contentsOfDirectory(atPath: source).sorted().prefix(4) {
      try FileManager.default.copyItem(atPath: source + "/" + n, toPath: images + "/" + n)
    }
    let cases = try store.importImages(
      ImportOptions(paths: [images], labelsFromFolders: true), progress: { _ in }
    )
    .caseIDs
    try store.createSession(
      name: "closed", raters: ["bvana", "bvben"], cases: .ids(Array(cases.prefix(2))), blinded: true,
      hideModel: false, createdBy: "bvlead")
    let record = try store.caseRecord(id: cases[0], viewer: .system)
    var mask = Mask(width: record.width, height: record.height)
    for i in 0..<(record.width * 10) { mask.values[i] = 1 }
    try store.annotate(case: cases[0], rater: "bvana", label: "Pre-B", mask: mask, session: "closed")
    try store.annotate(case: cases[0], rater: "bvben", label: "Pro-B", session: "closed")
    try store.annotate(case: cases[1], rater: "bvana", label: "Pre-B", session: "closed")
    try store.annotate(case: cases[1], rater: "bvben", label: "Pre-B", session: "closed")
    try store.annotate(
      case: cases[0], rater: "bvben", label: "Pre-B", session: "closed", note: "after peeking")
    try store.closeSession("closed", by: "bvlead")
    try store.adjudicate(case: cases[0], adjudicator: "bvlead", label: "Pre-B", reason: "nuclear chromatin")
    try store.createSession(
      name: "open", raters: ["bvana", "bvben"], cases: .ids([cases[2], cases[3]]), blinded: true,
      hideModel: false, createdBy: "bvlead")
    try store.annotate(case: cases[2], rater: "bvana", label: "Benign", session: "open")
    let embedded = try store.verifyAuditChain()
    try #require(embedded.ok)
    let embeddedHistory = try store.history(case: cases[0], viewer: .system)
    try store.close()

    let db = try pg.createDatabase()
    let run = try OSUsers.shell(
      OSUsers.builtBinary,
      [
        "migrate", "--from-sqlite", ws, "--workspace", base + "/shared", "--database",
        pg.url(db, as: "blastview"), "--json",
      ])
    try #require(run.status == 0, "\(run.err)")
    let summary = try JSONDecoder().decode(EmbeddedMigrationSummary.self, from: Data(run.out.utf8))
    #expect(summary.head == embedded.head && summary.links == embedded.links, "\(summary) vs \(embedded)")
    #expect(summary.cases == 4 && summary.annotations == 6 && summary.adjudications == 1, "\(summary)")
    #expect(summary.models >= 1 && summary.promotions >= 1, "the shipped model and its promotion: \(summary)")

    // Recomputed by the server, as a rater, through the binary.
    let verify = try OSUsers.shell(OSUsers.builtBinary, ["verify", "--workspace", base + "/shared"])
    #expect(verify.status == 0 && verify.out.contains("head \(embedded.head)"), "\(verify)")
    let asAna = try PostgresStore.open(pg.url(db, as: "bvana"))
    #expect(try asAna.verifyAuditChain().head == embedded.head)

    // The same history (ids, raters, labels, times to the millisecond), the images from the
    // database, and the blinding of the open session still in force.
    let service = try PostgresStore.open(pg.url(db, as: "blastview"))
    let shared = try service.history(case: cases[0], viewer: .system)
    #expect(shared.map(\.id) == embeddedHistory.map(\.id))
    #expect(
      shared.map(\.rater) == embeddedHistory.map(\.rater)
        && shared.map(\.label) == embeddedHistory.map(\.label))
    #expect(
      zip(shared, embeddedHistory).allSatisfy { abs($0.createdAt.timeIntervalSince($1.createdAt)) < 0.001 })
    let sourceImage = try Data(contentsOf: URL(fileURLWithPath: record.imagePath))
    #expect(try service.imageBytes(case: cases[0]) == Array(sourceImage))
    let asBen = try PostgresStore.open(pg.url(db, as: "bvben"))
    #expect(
      try asBen.history(case: cases[2], viewer: .rater("bvben")).isEmpty, "ben sees ana's blinded label")
    #expect(try asAna.history(case: cases[2], viewer: .rater("bvana")).map(\.label) == ["Benign"])
    // New writes continue the chain after the copied ids.
    let next = try asBen.annotate(
      case: cases[2], rater: "bvben", label: "Benign", mask: nil, session: "open", clear: [], note: nil)
    #expect(next.id > embeddedHistory.map(\.id).max()!)
    #expect(try asBen.verifyAuditChain().ok)
  }

  @Test func aBrokenEmbeddedChainIsRefusedNamingTheLink() throws {
    let pg = try PGTestCluster.require()
    let base = NSTemporaryDirectory() + "bv-migrate-\(UUID().uuidString)"
    let ws = base + "/embedded"
    let store = try Workspace.create(at: ws, schema: .all4)
    try store.addRater("bvana", role: .rater)
    let images = base + "/images/Pre-B"
    try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
    let source = ContractFixture.repo.appendingPathComponent("SampleData/wbc-seg/images/lymphocyte").path
    for n in try FileManager.default.contentsOfDirectory(atPath: source).sorted().prefix(2) {
      try FileManager.default.copyItem(atPath: source + "/" + n, toPath: images + "/" + n)
    }
    let cases = try store.importImages(
      ImportOptions(paths: [images], labelsFromFolders: true), progress: { _ in }
    )
    .caseIDs
    let a = try store.annotate(case: cases[0], rater: "bvana", label: "Pre-B")
    try store.annotate(case: cases[1], rater: "bvana", label: "Pro-B")
    try store.close()
    // The attack of issue 16 on the embedded file: drop the append-only trigger, rewrite a label.
    let q = try DatabaseQueue(path: ws + "/" + Workspace.databaseFileName)
    try q.writeWithoutTransaction { db in
      try db.execute(
        sql: "DROP TRIGGER annotation_no_update; UPDATE annotation SET label = 'Benign' WHERE id = \(a.id)")
    }
    try q.close()

    let db = try pg.createDatabase()
    let run = try OSUsers.shell(
      OSUsers.builtBinary,
      [
        "migrate", "--from-sqlite", ws, "--workspace", base + "/shared", "--database",
        pg.url(db, as: "blastview"),
      ])
    #expect(run.status != 0)
    #expect(
      run.err.contains("broken at annotation \(a.id): label is \"Benign\" now, \"Pre-B\" when sealed"),
      "\(run.err)")
    let c = try PGConnection(pg.url(db, as: "blastview"))
    #expect(
      try c.query("SELECT to_regnamespace('blastview') IS NULL").first?[0] == "t", "a schema was created")
    #expect(!FileManager.default.fileExists(atPath: base + "/shared"))
  }
}
