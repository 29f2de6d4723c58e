import Foundation

/// A rater's request for a retraining on a shared workspace (`pg-v9-retrain-requests`), and
/// what became of it.
public struct RetrainRequestStatus: Equatable, Sendable {
  public var id: Int64
  /// The service trainer has dealt with it: queued `jobID`, or said in `outcome` why not.
  public var handled: Bool
  public var jobID: Int64?
  public var outcome: String?

  public init(id: Int64, handled: Bool, jobID: Int64?, outcome: String?) {
    self.id = id
    self.handled = handled
    self.jobID = jobID
    self.outcome = outcome
  }
}

/// A pending request, as the service trainer reads it.
public struct PendingRetrainRequest: Equatable, Sendable {
  public var id: Int64
  public var requestedBy: String
  public var reason: String
}

extension PostgresStore {
  /// Records the connected rater's request (`T` in the review app). `created` is false when the
  /// rater already had one pending (it is returned instead).
  public func requestRetraining(reason: String) throws(StoreError) -> (id: Int64, created: Bool) {
    guard
      let r = try connection.query(
        "SELECT id, created FROM blastview.retrain_request_add($1)", [.text(reason)]
      )
      .first, let id = r.int("id")
    else { throw .database("recording the retraining request returned nothing") }
    return (id, r.bool("created") ?? false)
  }

  /// The connected rater's newest request, if any.
  public func myRetrainRequest() throws(StoreError) -> RetrainRequestStatus? {
    try connection.query("SELECT id, handled, job_id, outcome FROM blastview.retrain_request_mine()").first
      .map {
        RetrainRequestStatus(
          id: $0.int("id") ?? 0, handled: $0.bool("handled") ?? false, jobID: $0.int("job_id"),
          outcome: $0["outcome"])
      }
  }

  /// The active job and the newest finished one, as any rater may see them (no server pid,
  /// the trigger's reason and requester only).
  public func visibleTrainingJobs() throws(StoreError) -> (active: TrainingJob?, lastFinished: TrainingJob?) {
    let jobs = try connection.query("SELECT * FROM blastview.training_jobs_visible()").map(PostgresStore.job)
    return (jobs.first { $0.status.isActive }, jobs.first { !$0.status.isActive })
  }

  /// The requests the trainer has not dealt with yet, oldest first (service role only).
  public func pendingRetrainRequests() throws(StoreError) -> [PendingRetrainRequest] {
    try requireService("reads retraining requests")
    return try connection.query(
      "SELECT id, requested_by, reason FROM blastview.retrain_request WHERE handled_at IS NULL ORDER BY id"
    ).map {
      PendingRetrainRequest(
        id: $0.int("id") ?? 0, requestedBy: $0["requested_by"] ?? "", reason: $0["reason"] ?? "")
    }
  }

  /// Marks requests dealt with: by `job`, or with `outcome` saying why no job was queued.
  public func settleRetrainRequests(_ ids: [Int64], job: Int64?, outcome: String) throws(StoreError) {
    try requireService("settles retraining requests")
    try connection.query(
      """
      UPDATE blastview.retrain_request SET handled_at = clock_timestamp(), job_id = $2, outcome = $3
      WHERE id = ANY($1::bigint[]) AND handled_at IS NULL
      """,
      [.text("{" + ids.map(String.init).joined(separator: ",") + "}"), .optional(job), .text(outcome)])
  }
}
