@_spi(Testing) import CaseStore
import Foundation
import TestSupport
import Testing

/// A rater with `psql` must not be able to stop other people's work. PostgreSQL's advisory
/// locks are open to every role (`pg_advisory_lock` is executable by PUBLIC, and `pg_locks`
/// shows every key held), so a workspace that serialises its writers on advisory keys can be
/// stalled by any rater who takes the same keys and keeps them: the audit chain's key stops
/// every write in the department, the trainer's key stops retraining, the migration key stops
/// upgrades. The workspace now serialises on rows of tables no group role has a right on.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct LockDenialOfServiceTests {
  /// The advisory keys the workspace used before `pg-v7-lock-rows`, in the form a rater reads
  /// them from the source: the chain, the trainer, migrations, and the per-case keys of
  /// annotations (every rater id a rater could guess) and adjudications.
  static func oldKeys(cases: [Int64]) -> [String] {
    var keys = ["'blastview-audit-chain'", "'blastview-trainer'", "'blastview-migrate'"]
    for c in cases {
      keys.append("'bv-adjudication:\(c)'")
      for rater in 1...12 { keys.append("'bv-annotation:\(c):\(rater)'") }
    }
    return keys
  }

  /// The URL of `role` with a lock timeout: a write that would wait on the attacker fails
  /// after 5 s instead of hanging the test.
  static func impatient(_ pg: PGTestCluster, _ db: String, as role: String) -> String {
    pg.url(db, as: role) + "&options=-c%20lock_timeout%3D5000"
  }

  @Test func aRaterHoldingEveryOldLockKeyStallsNobody() throws {
    let f = try ContractFixture(.postgres)
    let pg = try PGTestCluster.require()
    let db = f.databaseName
    try f.store(f.lead).addRater(f.judge, role: .adjudicator)

    // bvben opens psql with his own role and takes every key, for as long as he likes.
    let ben = try PGConnection(pg.url(db, as: f.ben))
    for key in Self.oldKeys(cases: f.cases) {
      #expect(
        try ben.query("SELECT pg_try_advisory_lock(hashtextextended(\(key), 0)) AS ok").first?.bool("ok")
          == true)
    }

    // ana labels and paints, the adjudicator decides, the trainer starts, the service role
    // migrates: none of them waits on him.
    let ana = try PostgresStore.open(Self.impatient(pg, db, as: f.ana))
    ana.localWorkspace = Workspace(directory: f.workspaceDir + "-ana")
    let a = try ana.annotate(
      case: f.cases[0], rater: f.ana, label: "Pre-B", mask: nil, session: nil, clear: [], note: nil)
    #expect(a.label == "Pre-B")
    let judge = try PostgresStore.open(Self.impatient(pg, db, as: f.judge))
    let j = try judge.adjudicate(
      case: f.cases[1], adjudicator: f.judge, label: "Pro-B", mask: nil, reason: "morphology", session: nil)
    #expect(j.label == "Pro-B")
    let trainer = try PostgresStore.open(Self.impatient(pg, db, as: "blastview"))
    _ = try trainer.acquireTrainerLock(purpose: "test", staleAfter: 600)
    try trainer.releaseTrainerLock()
    _ = try PostgresStore.create(Self.impatient(pg, db, as: "blastview"), schema: .all4)

    // The chain took both writes.
    let verify = try PGConnection(pg.url(db, as: "blastview")).query(
      "SELECT problem FROM blastview.audit_verify()")
    #expect(verify.first?["problem"] == nil)
  }

  /// What a rater can still do, and what it costs the others: the chain is sealed at commit,
  /// but `SET CONSTRAINTS ALL IMMEDIATE` seals at once, and a transaction left open after that
  /// holds the chain's lock. Another writer then waits 15 s at most and gets an error that
  /// says what happened and that nothing of the change was saved; once the transaction ends
  /// the same write goes through, and the chain verifies.
  @Test func aTransactionHeldOpenAfterAnEarlySealCostsOthersAnErrorNotAHang() throws {
    let f = try ContractFixture(.postgres)
    let pg = try PGTestCluster.require()
    let db = f.databaseName
    let ben = try PGConnection(pg.url(db, as: f.ben))
    try ben.query("BEGIN")
    try ben.query("SET CONSTRAINTS ALL IMMEDIATE")
    try ben.query(
      "SELECT * FROM blastview.annotate($1, 'Pro-B', NULL, NULL, NULL, NULL, NULL, 0, NULL)",
      [.int(f.cases[2])])

    let ana = try PostgresStore.open(pg.url(db, as: f.ana))
    ana.localWorkspace = Workspace(directory: f.workspaceDir + "-ana")
    do {
      _ = try ana.annotate(
        case: f.cases[0], rater: f.ana, label: "Pre-B", mask: nil, session: nil, clear: [], note: nil)
      Issue.record("the write went through while the chain was held")
    } catch {
      #expect("\(error)".contains("audit chain stayed locked"), "\(error)")
      #expect("\(error)".contains("nothing of this change was saved"), "\(error)")
    }
    #expect(try ana.history(case: f.cases[0], viewer: .rater(f.ana)).isEmpty)

    try ben.query("ROLLBACK")
    let a = try ana.annotate(
      case: f.cases[0], rater: f.ana, label: "Pre-B", mask: nil, session: nil, clear: [], note: nil)
    #expect(a.label == "Pre-B")
    let verify = try PGConnection(pg.url(db, as: "blastview")).query(
      "SELECT problem FROM blastview.audit_verify()")
    #expect(verify.first?["problem"] == nil)
  }

  /// The locks that replaced them are out of his reach: he has no right on their tables, nor
  /// on the migration table, nor on the functions that take them.
  @Test func theNewLocksAreOutOfARatersReach() throws {
    let f = try ContractFixture(.postgres)
    let pg = try PGTestCluster.require()
    let ben = try PGConnection(pg.url(f.databaseName, as: f.ben))
    for sql in [
      "SELECT * FROM blastview.lock_row FOR UPDATE",
      "SELECT * FROM blastview.lease FOR UPDATE",
      "LOCK TABLE blastview.schema_migration IN ACCESS SHARE MODE",
      "LOCK TABLE blastview.lock_row IN ACCESS SHARE MODE",
      "SELECT blastview.lock_key('audit-chain')",
      "SELECT * FROM blastview.lease_take('trainer', 'x', 'y')",
    ] {
      #expect(throws: StoreError.self, "\(sql)") {
        try ben.transaction { () throws(StoreError) in try ben.query(sql) }
      }
    }
  }

  /// A second trainer is refused while the first holds the lease, and is told who holds it;
  /// when the first's connection ends, however it ends, the lease is free again.
  @Test func theTrainerLeaseDiesWithItsConnection() throws {
    let f = try ContractFixture(.postgres)
    let pg = try PGTestCluster.require()
    let url = pg.url(f.databaseName, as: "blastview")
    var first: PostgresStore? = try PostgresStore.open(url)
    _ = try first!.acquireTrainerLock(purpose: "watch", staleAfter: 600)
    let second = try PostgresStore.open(url)
    do {
      _ = try second.acquireTrainerLock(purpose: "job", staleAfter: 600)
      Issue.record("a second trainer took the lease")
    } catch {
      guard case .trainerBusy(let why) = error else { throw error }
      #expect(why.contains("server process"), "\(why)")
    }
    first = nil  // the connection closes with the store
    _ = first
    // The server notices the closed connection at once for a Unix socket; give it a moment.
    var took = false
    for _ in 0..<50 where !took {
      do {
        _ = try second.acquireTrainerLock(purpose: "job", staleAfter: 600)
        took = true
      } catch { usleep(100_000) }
    }
    #expect(took)
  }

  /// The predictor's lock on a shared workspace is the database's lease `predict-vN`, not a
  /// file a reader could `flock`: while one service connection holds it, `predict --all-cases`
  /// leaves the work to it; when it is given back, the same command predicts.
  @Test func thePredictorsLockIsALeaseInTheDatabase() throws {
    let f = try ServiceWorkspaceFixture("predict-lease", schema: "wbc5")
    let ws = f.service
    let images = try f.sampleImages(["lymphocyte"], perClass: 2, classFolders: false)
    let imported = try f.asLead(["import", images])
    try #require(imported.status == 0, "\(imported.err)")

    let holder = try PostgresStore.open(f.url(as: "blastview"))
    let version = try #require(try holder.promotedModel()).version
    #expect(try holder.takeLease("predict-v\(version)", purpose: "test") == nil)
    let busy = try Synthetic.run(["predict", "--workspace", ws, "--all-cases"])
    #expect(busy.status == 0, "\(busy.err)")
    #expect(busy.out.contains("another process is already predicting"), "\(busy.out)")
    #expect(try holder.predictionCoverage(model: version) == (predicted: 0, total: 2))
    try holder.releaseLease("predict-v\(version)")
    let done = try Synthetic.run(["predict", "--workspace", ws, "--all-cases"])
    #expect(done.status == 0, "\(done.err)")
    #expect(try holder.predictionCoverage(model: version) == (predicted: 2, total: 2))
  }

  /// No function of the workspace takes an advisory lock any more (a new one would reopen
  /// the attack).
  @Test func noFunctionTakesAnAdvisoryLock() throws {
    let f = try ContractFixture(.postgres)
    let pg = try PGTestCluster.require()
    let service = try PGConnection(pg.url(f.databaseName, as: "blastview"))
    let offenders = try service.query(
      """
      SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'blastview' AND p.prosrc ~ 'pg_(try_)?advisory' ORDER BY 1
      """
    ).compactMap { $0[0] }
    #expect(offenders == [])
  }
}
