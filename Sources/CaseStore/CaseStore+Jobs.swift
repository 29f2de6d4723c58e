import Foundation
import GRDB

public enum JobStatus: String, Sendable, Codable, Equatable {
  case queued, running, succeeded, failed, cancelled
  public var isActive: Bool { self == .queued || self == .running }
}

/// A background training job. The trainer process (`blastview train --job ID`) updates it;
/// the TUI polls it (`trainingJob(id:)`, `activeTrainingJob()`).
public struct TrainingJob: Sendable, Equatable, Codable {
  public var id: Int64
  public var status: JobStatus
  public var tasks: [String]
  /// Why it was started (for example `{"label_corrections": 12, "through_annotation": 345}`).
  public var trigger: JSONValue
  public var parentModel: Int64?
  public var resultModel: Int64?
  /// 0...1 over the whole job.
  public var progress: Double
  public var epoch: Int?
  public var totalEpochs: Int?
  public var batch: Int?
  public var totalBatches: Int?
  public var loss: Double?
  public var etaSeconds: Double?
  public var message: String?
  public var pid: Int32?
  public var createdAt: Date
  public var startedAt: Date?
  public var heartbeatAt: Date?
  public var finishedAt: Date?
  public var error: String?
}

/// A progress report from the trainer.
public struct TrainingProgress: Sendable, Equatable {
  public var progress: Double
  public var epoch: Int?
  public var totalEpochs: Int?
  public var batch: Int?
  public var totalBatches: Int?
  public var loss: Double?
  public var etaSeconds: Double?
  public var message: String?
  public init(
    progress: Double, epoch: Int? = nil, totalEpochs: Int? = nil, batch: Int? = nil, totalBatches: Int? = nil,
    loss: Double? = nil, etaSeconds: Double? = nil, message: String? = nil
  ) {
    self.progress = progress
    self.epoch = epoch
    self.totalEpochs = totalEpochs
    self.batch = batch
    self.totalBatches = totalBatches
    self.loss = loss
    self.etaSeconds = etaSeconds
    self.message = message
  }
}

/// One point of a training curve (one per epoch), or a log message.
public struct TrainingLogEntry: Sendable, Equatable, Codable {
  public var id: Int64
  public var jobID: Int64
  public var epoch: Int?
  public var trainLoss: Double?
  public var valLoss: Double?
  public var valMetric: Double?
  public var message: String?
  public var at: Date
}

extension CaseStore {
  /// Queues a training job unless one is already queued or running in this workspace (one
  /// trainer per workspace, enforced by a unique index, so two processes racing here get
  /// one job). Returns the job and whether it is new; when not new, it is the active one.
  public func enqueueTrainingJob(tasks: [String], trigger: JSONValue, parentModel: Int64?) throws(StoreError)
    -> (job: TrainingJob, created: Bool)
  {
    try reapDeadTrainingJobs()
    let now = CaseStore.timestamp(Date())
    let (id, created): (Int64, Bool) = try write { db in
      if let active = try Int64.fetchOne(
        db, sql: "SELECT id FROM training_job WHERE status IN ('queued', 'running')")
      {
        return (active, false)
      }
      try db.execute(
        sql:
          "INSERT INTO training_job (status, tasks, trigger, parent_model, created_at) VALUES ('queued', ?, ?, ?, ?)",
        arguments: [CaseStore.jsonString(tasks), CaseStore.jsonString(trigger), parentModel, now])
      return (db.lastInsertedRowID, true)
    }
    return (try trainingJob(id: id), created)
  }

  /// Marks a queued job running in process `pid` (the trainer calls this first). Refuses a
  /// job that is not queued, so two trainers cannot both run it.
  @discardableResult
  public func startTrainingJob(id: Int64, pid: Int32 = getpid()) throws(StoreError) -> TrainingJob {
    let now = CaseStore.timestamp(Date())
    try write { db in
      try db.execute(
        sql: """
          UPDATE training_job SET status = 'running', pid = ?, started_at = ?, heartbeat_at = ?
          WHERE id = ? AND status = 'queued'
          """, arguments: [pid, now, now, id])
      if db.changesCount == 0 {
        guard
          try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM training_job WHERE id = ?)", arguments: [id]) == true
        else { throw StoreError.unknownJob(id) }
        throw StoreError.invalidInput(
          "training job \(id) is not queued; another trainer has it or it has finished")
      }
    }
    return try trainingJob(id: id)
  }

  /// Records progress and refreshes the heartbeat.
  public func updateTrainingProgress(id: Int64, _ p: TrainingProgress) throws(StoreError) {
    let now = CaseStore.timestamp(Date())
    try write { db in
      try db.execute(
        sql: """
          UPDATE training_job SET progress = ?, epoch = ?, total_epochs = ?, batch = ?, total_batches = ?, loss = ?,
            eta_seconds = ?, message = ?, heartbeat_at = ?
          WHERE id = ? AND status = 'running'
          """,
        arguments: [
          min(max(p.progress, 0), 1), p.epoch, p.totalEpochs, p.batch, p.totalBatches, p.loss, p.etaSeconds,
          p.message,
          now, id,
        ])
      if db.changesCount == 0 { throw StoreError.invalidInput("training job \(id) is not running") }
    }
  }

  /// Appends a point of the training curve or a message.
  public func appendTrainingLog(
    id: Int64, epoch: Int? = nil, trainLoss: Double? = nil, valLoss: Double? = nil, valMetric: Double? = nil,
    message: String? = nil
  ) throws(StoreError) {
    let now = CaseStore.timestamp(Date())
    try write { db in
      try db.execute(
        sql: """
          INSERT INTO training_log (job_id, epoch, train_loss, val_loss, val_metric, message, at)
          VALUES (?, ?, ?, ?, ?, ?, ?)
          """, arguments: [id, epoch, trainLoss, valLoss, valMetric, message, now])
    }
  }

  /// Ends a job: `succeeded` (with the model it made, if any), `failed` (with the error) or
  /// `cancelled`.
  public func finishTrainingJob(id: Int64, status: JobStatus, resultModel: Int64? = nil, error: String? = nil)
    throws(StoreError)
  {
    guard !status.isActive else {
      throw .invalidInput("a finished job's status cannot be \(status.rawValue)")
    }
    let now = CaseStore.timestamp(Date())
    try write { db in
      try db.execute(
        sql: """
          UPDATE training_job SET status = ?, result_model = ?, error = ?, finished_at = ?,
            progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END
          WHERE id = ? AND status IN ('queued', 'running')
          """, arguments: [status.rawValue, resultModel, error, now, status.rawValue, id])
      if db.changesCount == 0 { throw StoreError.invalidInput("training job \(id) is not active") }
    }
  }

  public func trainingJob(id: Int64) throws(StoreError) -> TrainingJob {
    let job = try read { db in
      try Row.fetchOne(db, sql: "SELECT * FROM training_job WHERE id = ?", arguments: [id]).map(CaseStore.job)
    }
    guard let job else { throw .unknownJob(id) }
    return job
  }

  /// The queued or running job, if any.
  public func activeTrainingJob() throws(StoreError) -> TrainingJob? {
    try read { db in
      try Row.fetchOne(db, sql: "SELECT * FROM training_job WHERE status IN ('queued', 'running')").map(
        CaseStore.job)
    }
  }

  /// Recent jobs, newest first.
  public func trainingJobs(limit: Int = 50) throws(StoreError) -> [TrainingJob] {
    try read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM training_job ORDER BY id DESC LIMIT ?", arguments: [limit])
        .map(CaseStore.job)
    }
  }

  public func trainingLog(id: Int64) throws(StoreError) -> [TrainingLogEntry] {
    try read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM training_log WHERE job_id = ? ORDER BY id", arguments: [id])
        .map { r in
          TrainingLogEntry(
            id: r["id"], jobID: r["job_id"], epoch: r["epoch"], trainLoss: r["train_loss"],
            valLoss: r["val_loss"],
            valMetric: r["val_metric"], message: r["message"],
            at: CaseStore.date(r["at"]) ?? Date(timeIntervalSince1970: 0))
        }
    }
  }

  /// Fails a running job whose trainer is gone: its process no longer exists on this
  /// machine, or it has not reported for `staleAfter` seconds. Keeps a killed trainer from
  /// holding the one-trainer lock for ever. Returns the ids it failed.
  @discardableResult
  public func reapDeadTrainingJobs(staleAfter: TimeInterval = 600) throws(StoreError) -> [Int64] {
    let running = try read { db in
      try Row.fetchAll(db, sql: "SELECT id, pid, heartbeat_at FROM training_job WHERE status = 'running'")
    }
    var reaped: [Int64] = []
    for r in running {
      let id: Int64 = r["id"]
      let pid: Int32? = r["pid"]
      let beat = CaseStore.date(r["heartbeat_at"]) ?? .distantPast
      let gone = pid.map { kill($0, 0) != 0 && errno == ESRCH } ?? false
      if gone || Date().timeIntervalSince(beat) > staleAfter {
        let reason =
          gone ? "the trainer process \(pid!) is gone" : "no progress report for \(Int(staleAfter)) s"
        let now = CaseStore.timestamp(Date())
        try write { db in
          try db.execute(
            sql:
              "UPDATE training_job SET status = 'failed', error = ?, finished_at = ? WHERE id = ? AND status = 'running'",
            arguments: [reason, now, id])
        }
        reaped.append(id)
      }
    }
    return reaped
  }

  static func job(_ r: Row) -> TrainingJob {
    TrainingJob(
      id: r["id"], status: JobStatus(rawValue: r["status"]) ?? .failed,
      tasks: decodeJSON([String].self, r["tasks"]) ?? [],
      trigger: decodeJSON(JSONValue.self, r["trigger"]) ?? .null, parentModel: r["parent_model"],
      resultModel: r["result_model"], progress: r["progress"], epoch: r["epoch"],
      totalEpochs: r["total_epochs"],
      batch: r["batch"], totalBatches: r["total_batches"], loss: r["loss"], etaSeconds: r["eta_seconds"],
      message: r["message"], pid: r["pid"],
      createdAt: date(r["created_at"]) ?? Date(timeIntervalSince1970: 0),
      startedAt: date(r["started_at"]), heartbeatAt: date(r["heartbeat_at"]),
      finishedAt: date(r["finished_at"]),
      error: r["error"])
  }
}
