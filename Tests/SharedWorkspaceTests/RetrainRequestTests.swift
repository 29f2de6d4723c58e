import CaseStore
import Foundation
import TestSupport
import Testing

/// The retraining requests of `pg-v9-retrain-requests`: a rater's `T` is one pending request
/// (pressing again adds none), a rater sees jobs without their server pid or correction
/// counts and cannot touch the tables, and the service trainer settles a request it cannot
/// act on with its reason.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct RetrainRequestTests {
  @Test func oneRequestPerRaterSettledByTheTrainerWithItsReason() throws {
    let f = try ServiceWorkspaceFixture("retrain-requests", schema: "all4")
    let service = f.service
    let add = try f.asLead(["rater", "add", "bvana", "--role", "rater"])
    try #require(add.status == 0, "\(add.err)")

    let ana = try PostgresStore.open(f.url(as: "bvana"))
    let first = try ana.requestRetraining(reason: "T pressed by bvana")
    let second = try ana.requestRetraining(reason: "T pressed by bvana")
    #expect(first.created && !second.created && second.id == first.id)
    #expect(
      try ana.myRetrainRequest()
        == RetrainRequestStatus(id: first.id, handled: false, jobID: nil, outcome: nil))
    // The tables are the service role's.
    for sql in [
      "SELECT * FROM blastview.retrain_request", "UPDATE blastview.retrain_request SET handled_at = now()",
      "SELECT * FROM blastview.training_job",
    ] {
      #expect(throws: StoreError.self, "\(sql)") { try ana.connection.query(sql) }
    }

    // No correction since the shipped model: the trainer settles the request with its reason.
    let watch = try Synthetic.run([
      "train", "--watch", "--until-idle", "--workspace", service, "--threads", "2",
    ])
    #expect(watch.status == 0, "\(watch.out)\n\(watch.err)")
    let settled = try #require(try ana.myRetrainRequest())
    #expect(settled.handled && settled.jobID == nil)
    #expect(settled.outcome?.contains("nothing to retrain on") == true, "\(settled)")
    #expect(try ana.visibleTrainingJobs().active == nil)

    // A new request after that is a new one; the job it becomes is visible without pid or counts.
    let third = try ana.requestRetraining(reason: "T pressed by bvana")
    #expect(third.created && third.id != first.id)
    let trainer = try PostgresStore.open(f.url(as: "blastview"))
    try trainer.connection.query(
      """
      INSERT INTO blastview.training_job (status, tasks, trigger, parent_model, pid)
      VALUES ('running', '["cls"]', '{"reason":"T pressed by bvana","by":"bvana","labels":3,"masks":1}', 1, 4242)
      """)
    let visible = try #require(try ana.visibleTrainingJobs().active)
    #expect(visible.pid == nil && visible.status == .running)
    #expect(visible.trigger == .object(["reason": .string("T pressed by bvana"), "by": .string("bvana")]))
  }
}
