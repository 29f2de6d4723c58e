import Foundation
import GRDB

/// Who holds a workspace's trainer lock (issue 8: one trainer per workspace).
public struct TrainerLockHolder: Sendable, Equatable, Codable {
  public var pid: Int32
  public var host: String
  /// The holder's start time in clock ticks since boot (`/proc/PID/stat` field 22): tells the
  /// holder from a later process that happens to get the same pid.
  public var processStart: UInt64?
  /// What it does: `watch` (the headless loop) or `job N`.
  public var purpose: String
  public var since: Date
  public var heartbeat: Date

  enum CodingKeys: String, CodingKey {
    case pid, host, purpose, since, heartbeat
    case processStart = "process_start"
  }

  public var summary: String {
    "pid \(pid)" + (host == ProcessIdentity.hostName ? "" : " on \(host)") + " (\(purpose))"
  }
}

/// The facts about a process that the trainer lock records and checks.
public enum ProcessIdentity {
  public static var hostName: String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// Start time (clock ticks since boot) of a live process, nil when there is no such process,
  /// it is a zombie (exited, not yet reaped), or /proc is not available.
  public static func startTime(of pid: Int32) -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    // After "pid (comm)": state is field 3, starttime field 22.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
    return UInt64(fields[19])
  }

  /// Whether `pid` is alive on this machine and, when `start` is known, is still the process
  /// that started then.
  public static func isAlive(pid: Int32, start: UInt64?) -> Bool {
    if FileManager.default.fileExists(atPath: "/proc/self/stat") {
      guard let now = startTime(of: pid) else { return false }
      return start == nil || start == now
    }
    return kill(pid, 0) == 0 || errno == EPERM
  }
}

/// Corrections made since a model was trained: what a retraining learns from.
public struct CorrectionSummary: Sendable, Equatable, Codable {
  /// Cases whose label an annotation set or changed, or an adjudication decided.
  public var labels: Int
  /// Cases with an annotation or adjudication that set a mask.
  public var masks: Int
  /// The newest annotation and adjudication ids counted.
  public var throughAnnotation: Int64
  public var throughAdjudication: Int64
  /// The model version they are counted against (nil: no model yet).
  public var since: Int64?

  public var total: Int { labels + masks }

  /// Which tasks a retraining trains, in the paper's order: classification (`cls`) on label
  /// corrections, segmentation (`seg`) on mask corrections. The names are MTACNN's `ModelTask`
  /// raw values, the one spelling of a task in the registry, jobs and checkpoints.
  public var tasks: [String] {
    (labels > 0 ? ["cls"] : []) + (masks > 0 ? ["seg"] : [])
  }

  enum CodingKeys: String, CodingKey {
    case labels, masks, since
    case throughAnnotation = "through_annotation"
    case throughAdjudication = "through_adjudication"
  }
}

/// One promotion (or roll back) of a model version.
public struct ModelPromotion: Sendable, Equatable, Codable {
  public var id: Int64
  public var version: Int64
  public var by: String?
  public var reason: String?
  public var at: Date
}

extension CaseStore {
  /// The settings key of the trainer lock.
  static let trainerLockKey = "trainer_lock"
  /// After how many new corrections the review app and `train --watch` queue a retraining by
  /// themselves (absent or 0: only on request).
  public static let autoRetrainSetting = "auto_retrain_after"
  /// The validation gate's tolerance: a retrained version is promoted only if its macro-F1 (and
  /// Dice, where validation cases have masks) is at most this much below the promoted model's.
  /// One point: below the noise of a validation split of a few hundred cases, above the drift
  /// of a retraining that changed nothing. The trainer applies it, the review app states it.
  public static let retrainGateTolerance = 0.01
  /// And its validation loss (the training loss of every task, the criterion its checkpoint
  /// was chosen by) at most this fraction above the promoted model's: a version whose labels
  /// still come out right but whose probabilities got much worse (a model pushed towards
  /// wrong labels shows it first) is not promoted.
  public static let retrainGateLossTolerance = 0.05

  // MARK: Trainer lock

  /// Takes the workspace's trainer lock for this process, or throws `trainerBusy` naming the
  /// live holder. A holder that is gone (its process no longer exists on this host, or, on
  /// another host, it has not refreshed the lock for `staleAfter` seconds) is taken over.
  /// Taking it again from the holding process refreshes it.
  @discardableResult
  public func acquireTrainerLock(purpose: String, staleAfter: TimeInterval = 600) throws(StoreError)
    -> TrainerLockHolder
  {
    let me = TrainerLockHolder(
      pid: getpid(), host: ProcessIdentity.hostName, processStart: ProcessIdentity.startTime(of: getpid()),
      purpose: purpose, since: Date(), heartbeat: Date())
    let key = CaseStore.trainerLockKey
    return try write { db in
      if let text = try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key]),
        let holder = CaseStore.decodeJSON(TrainerLockHolder.self, text),
        !(holder.pid == me.pid && holder.host == me.host),
        CaseStore.isLive(holder, staleAfter: staleAfter)
      {
        throw StoreError.trainerBusy(holder.summary)
      }
      try db.execute(
        sql:
          "INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        arguments: [key, CaseStore.jsonString(me)])
      return me
    }
  }

  /// Refreshes the lock's heartbeat (a long job calls this now and then, so trainers on other
  /// hosts do not take it over).
  public func refreshTrainerLock() throws(StoreError) {
    let key = CaseStore.trainerLockKey
    try write { db in
      guard
        let text = try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key]),
        var holder = CaseStore.decodeJSON(TrainerLockHolder.self, text),
        holder.pid == getpid(), holder.host == ProcessIdentity.hostName
      else { return }
      holder.heartbeat = Date()
      try db.execute(
        sql: "UPDATE setting SET value = ? WHERE key = ?", arguments: [CaseStore.jsonString(holder), key])
    }
  }

  /// Refreshes a running job's heartbeat without touching its progress: a trainer busy with
  /// something that reports nothing (loading a large workspace, a long validation pass) is not
  /// taken for dead (`reapDeadTrainingJobs`).
  public func heartbeatTrainingJob(id: Int64) throws(StoreError) {
    let now = CaseStore.timestamp(Date())
    try write { db in
      try db.execute(
        sql: "UPDATE training_job SET heartbeat_at = ? WHERE id = ? AND status = 'running'",
        arguments: [now, id])
    }
  }

  /// Releases the lock if this process holds it.
  public func releaseTrainerLock() throws(StoreError) {
    let key = CaseStore.trainerLockKey
    try write { db in
      guard
        let text = try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key]),
        let holder = CaseStore.decodeJSON(TrainerLockHolder.self, text),
        holder.pid == getpid(), holder.host == ProcessIdentity.hostName
      else { return }
      try db.execute(sql: "DELETE FROM setting WHERE key = ?", arguments: [key])
    }
  }

  /// The live holder of the trainer lock, nil when nobody (alive) holds it.
  public func trainerLockHolder(staleAfter: TimeInterval = 600) throws(StoreError) -> TrainerLockHolder? {
    guard let text = try setting(CaseStore.trainerLockKey),
      let holder = CaseStore.decodeJSON(TrainerLockHolder.self, text)
    else { return nil }
    return CaseStore.isLive(holder, staleAfter: staleAfter) ? holder : nil
  }

  static func isLive(_ h: TrainerLockHolder, staleAfter: TimeInterval) -> Bool {
    if h.host == ProcessIdentity.hostName {
      return ProcessIdentity.isAlive(pid: h.pid, start: h.processStart)
    }
    return Date().timeIntervalSince(h.heartbeat) < staleAfter
  }

  // MARK: Corrections

  /// Label and mask corrections (annotations and adjudications) made after `model` was trained:
  /// after the annotation and adjudication ids it records (a model registered without them,
  /// such as a shipped one, counts every correction in the workspace).
  public func corrections(since model: ModelVersion?) throws(StoreError) -> CorrectionSummary {
    try corrections(
      afterAnnotation: model?.trainedThroughAnnotation ?? 0,
      afterAdjudication: model.flatMap { CaseStore.throughAdjudication($0) } ?? 0, since: model?.version)
  }

  /// The corrections the automatic trigger counts: those made since the promoted model was
  /// trained and since the newest retraining job was queued, so that a version the gate
  /// refused is not retrained again and again on the same corrections.
  public func correctionsSinceLastRetraining() throws(StoreError) -> CorrectionSummary? {
    guard let promoted = try promotedModel() else { return nil }
    var annotation = promoted.trainedThroughAnnotation ?? 0
    var adjudication = CaseStore.throughAdjudication(promoted) ?? 0
    if let last = try trainingJobs(limit: 1).first {
      annotation = max(annotation, last.trigger["through_annotation"]?.doubleValue.map { Int64($0) } ?? 0)
      adjudication = max(
        adjudication, last.trigger["through_adjudication"]?.doubleValue.map { Int64($0) } ?? 0)
    }
    return try corrections(
      afterAnnotation: annotation, afterAdjudication: adjudication, since: promoted.version)
  }

  func corrections(afterAnnotation: Int64, afterAdjudication: Int64, since: Int64?) throws(StoreError)
    -> CorrectionSummary
  {
    try read { db in
      // Per case (issue 18, item 5): ten strokes, an undo and a redo on one case's mask are one
      // corrected mask, as two raters' labels of one case are one corrected label.
      let counts = try Row.fetchOne(
        db,
        sql: """
          SELECT
            (SELECT count(*) FROM (
              SELECT case_id FROM annotation WHERE id > ? AND changed & 1 != 0
              UNION SELECT case_id FROM adjudication WHERE id > ?)) AS l,
            (SELECT count(*) FROM (
              SELECT case_id FROM annotation WHERE id > ? AND changed & 2 != 0
              UNION SELECT case_id FROM adjudication WHERE id > ? AND mask_id IS NOT NULL)) AS m,
            (SELECT coalesce(max(id), ?) FROM annotation WHERE id > ?) AS a_last,
            (SELECT coalesce(max(id), ?) FROM adjudication WHERE id > ?) AS j_last
          """,
        arguments: [
          afterAnnotation, afterAdjudication, afterAnnotation, afterAdjudication, afterAnnotation,
          afterAnnotation, afterAdjudication, afterAdjudication,
        ])!
      return CorrectionSummary(
        labels: counts["l"], masks: counts["m"], throughAnnotation: counts["a_last"],
        throughAdjudication: counts["j_last"], since: since)
    }
  }

  /// The newest adjudication id (0 when none).
  public func latestAdjudicationID() throws(StoreError) -> Int64 {
    try read { db in try Int64.fetchOne(db, sql: "SELECT max(id) FROM adjudication") ?? 0 }
  }

  /// The adjudication id a retrained model's data went through (kept in its metrics as
  /// `training_data.through_adjudication`).
  static func throughAdjudication(_ m: ModelVersion) -> Int64? {
    guard case .object(let o) = m.metrics, case .object(let d)? = o["training_data"],
      let v = d["through_adjudication"]?.doubleValue
    else { return nil }
    return Int64(v)
  }

  /// The workspace's automatic retraining threshold (nil: off).
  public func autoRetrainAfter() throws(StoreError) -> Int? {
    guard let text = try setting(CaseStore.autoRetrainSetting), let n = Int(text), n > 0 else { return nil }
    return n
  }

  // MARK: Promotions

  /// Every promotion and roll back, newest first.
  public func modelPromotions() throws(StoreError) -> [ModelPromotion] {
    try read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM model_promotion ORDER BY id DESC").map { r in
        ModelPromotion(
          id: r["id"], version: r["model_version"], by: r["promoted_by"], reason: r["reason"],
          at: CaseStore.date(r["promoted_at"]) ?? Date(timeIntervalSince1970: 0))
      }
    }
  }

  /// The version a roll back returns to: the promoted version's parent when the registry has
  /// it (stepping back along the retraining chain), else the version promoted before it; nil
  /// when there is none.
  public func rollbackTarget() throws(StoreError) -> Int64? {
    guard let current = try promotedModel() else { return nil }
    if let parent = current.parent { return parent }
    return try modelPromotions().first { $0.version != current.version }?.version
  }

  // MARK: Queueing a retraining

  /// Queues a retraining of the promoted model on the corrections made since it was trained
  /// (the `T` key, `train --queue`, and the automatic trigger all come here). `tasks` overrides
  /// the choice the corrections make; `options` (epochs, lr, ...) go into the job's trigger.
  /// Nothing is queued when a job is already active, when there is no promoted model, or when
  /// there is nothing to learn from.
  public func queueRetraining(
    reason: String, by: String?, tasks: [String]? = nil, options: [String: JSONValue] = [:]
  ) throws(StoreError) -> RetrainRequest {
    _ = try reapDeadTrainingJobs()
    if let active = try activeTrainingJob() { return .alreadyActive(active) }
    guard let parent = try promotedModel() else { return .noModel }
    let c = try corrections(since: parent)
    let chosen = tasks ?? c.tasks
    guard !chosen.isEmpty else { return .nothingToLearn(c) }
    var trigger: [String: JSONValue] = [
      "reason": .string(reason),
      "labels": .number(Double(c.labels)), "masks": .number(Double(c.masks)),
      "through_annotation": .number(Double(c.throughAnnotation)),
      "through_adjudication": .number(Double(c.throughAdjudication)),
    ]
    if let by { trigger["by"] = .string(by) }
    if !options.isEmpty { trigger["options"] = .object(options) }
    let (job, created) = try enqueueTrainingJob(
      tasks: chosen, trigger: .object(trigger), parentModel: parent.version)
    return created ? .queued(job, c) : .alreadyActive(job)
  }
}

/// What `queueRetraining` did.
public enum RetrainRequest: Sendable, Equatable {
  case queued(TrainingJob, CorrectionSummary)
  /// A job was already queued or running (one trainer per workspace).
  case alreadyActive(TrainingJob)
  /// No model is promoted: there is nothing to retrain from.
  case noModel
  /// No label or mask correction since the promoted model was trained.
  case nothingToLearn(CorrectionSummary)
}

/// A case corrected since a model was trained, and the label the correction gave it (the newest
/// adjudication's, else the newest label annotation's; nil when only its mask changed).
public struct CorrectedCase: Sendable, Equatable, Codable {
  public var caseID: Int64
  public var label: String?
}

extension CaseStore {
  /// The cases corrected since `model` was trained (as `corrections(since:)` counts them), by
  /// case id, at most `limit`.
  public func correctedCases(since model: ModelVersion?, limit: Int = 200) throws(StoreError)
    -> [CorrectedCase]
  {
    let afterAnnotation = model?.trainedThroughAnnotation ?? 0
    let afterAdjudication = model.flatMap { CaseStore.throughAdjudication($0) } ?? 0
    return try read { db in
      try Row.fetchAll(
        db,
        sql: """
          SELECT c.case_id,
            coalesce(
              (SELECT label FROM adjudication WHERE case_id = c.case_id AND id > ? ORDER BY id DESC LIMIT 1),
              (SELECT label FROM annotation WHERE case_id = c.case_id AND id > ? AND changed & 1 != 0
                ORDER BY id DESC LIMIT 1)) AS label
          FROM (SELECT case_id FROM annotation WHERE id > ? AND changed & 3 != 0
                UNION SELECT case_id FROM adjudication WHERE id > ?) c
          ORDER BY c.case_id LIMIT ?
          """,
        arguments: [afterAdjudication, afterAnnotation, afterAnnotation, afterAdjudication, limit]
      ).map { CorrectedCase(caseID: $0["case_id"], label: $0["label"]) }
    }
  }

  /// How `to`'s predicted classes differ from `from`'s on the cases both predicted: how many
  /// were compared, and per (from, to) class pair how many changed, largest first.
  public func predictionFlips(from: Int64, to: Int64) throws(StoreError) -> (
    compared: Int, flips: [(from: String, to: String, cases: Int)]
  ) {
    try read { db in
      let compared =
        try Int.fetchOne(
          db,
          sql: """
            SELECT count(*) FROM prediction a JOIN prediction b ON b.case_id = a.case_id
            WHERE a.model_version = ? AND b.model_version = ?
            """, arguments: [from, to]) ?? 0
      let flips = try Row.fetchAll(
        db,
        sql: """
          SELECT a.label AS f, b.label AS t, count(*) AS n FROM prediction a
          JOIN prediction b ON b.case_id = a.case_id
          WHERE a.model_version = ? AND b.model_version = ? AND a.label != b.label
          GROUP BY a.label, b.label ORDER BY n DESC, a.label, b.label
          """, arguments: [from, to]
      ).map { (from: $0["f"] as String, to: $0["t"] as String, cases: $0["n"] as Int) }
      return (compared, flips)
    }
  }
}
