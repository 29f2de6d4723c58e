import FileSafety
import Foundation
import Imaging

/// The background retrainer on a shared workspace (`RetrainingStore`): `train --job`/`--watch`
/// run as the service role, the schema's owner, which reads every current label and mask (no
/// blinding applies to the trainer), writes the job tables and registers models. Every method
/// refuses any other role before it touches the database, and the database refuses them too:
/// they have no right on a table, and `model_register_full` checks the role itself.
///
/// The one-trainer lock is a lease row (`pg-v7-lock-rows`) naming the trainer connection's
/// server process: it dies with that connection, however the trainer died, on whichever host
/// it ran, and only the service role can take it (an advisory lock, used before, could be
/// taken and kept by any rater with psql).
extension PostgresStore: RetrainingStore {
  /// Refuses a role other than the service role, naming both.
  func requireService(_ what: String) throws(StoreError) {
    guard isService else {
      throw .invalidInput(
        "only the workspace's service role (the schema's owner, as which the trainer runs) \(what); "
          + "you are connected to \(connection.displayTarget) as \(connectedRater ?? "?")")
    }
  }

  // MARK: Registering

  @discardableResult
  public func registerModel(
    file source: String, parent: Int64?, tasks: [String], trainedTasks: [String], frozenTasks: [String],
    frozenVerified: Bool?, metrics: JSONValue, config: JSONValue, trainingJob: Int64?,
    trainedThroughAnnotation: Int64?, notes: String?
  ) throws(StoreError) -> ModelVersion {
    try requireService("registers models")
    // Read once, hashed and stored from the same bytes; the table's CHECK recomputes the hash.
    let bytes: [UInt8]
    do { bytes = try SafeFile.read(source, maxBytes: 1 << 30) } catch {
      throw .io(path: source, reason: error.why)
    }
    let sha = Digest.sha256Hex(bytes)
    let version = try connection.transaction { () throws(StoreError) -> Int64? in
      try connection.query(
        "SELECT blastview.model_register_full($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) AS v",
        [
          .optional(parent), .text(sha), .bytes(bytes), .text(CaseStore.jsonString(tasks)),
          .text(CaseStore.jsonString(trainedTasks)), .text(CaseStore.jsonString(frozenTasks)),
          frozenVerified.map { PGValue.bool($0) } ?? .null, .text(CaseStore.jsonString(metrics)),
          .text(CaseStore.jsonString(config)), .optional(trainingJob), .optional(trainedThroughAnnotation),
          .optional(notes),
        ]
      ).first?.int("v")
    }
    guard let version else { throw .database("registering the model returned no version") }
    return try model(version: version)
  }

  // MARK: Jobs

  static let jobColumns = """
    id, status, tasks, trigger, parent_model, result_model, progress, epoch, total_epochs, batch, total_batches,
    loss, eta_seconds, message, pid, extract(epoch FROM created_at)::float8 AS created_at,
    extract(epoch FROM started_at)::float8 AS started_at, extract(epoch FROM heartbeat_at)::float8 AS heartbeat_at,
    extract(epoch FROM finished_at)::float8 AS finished_at, error
    """

  static func job(_ r: PGRow) -> TrainingJob {
    TrainingJob(
      id: r.int("id") ?? 0, status: JobStatus(rawValue: r["status"] ?? "") ?? .failed,
      tasks: CaseStore.decodeJSON([String].self, r["tasks"]) ?? [],
      trigger: CaseStore.decodeJSON(JSONValue.self, r["trigger"]) ?? .null,
      parentModel: r.int("parent_model"),
      resultModel: r.int("result_model"), progress: r.double("progress") ?? 0,
      epoch: r.int("epoch").map { Int($0) }, totalEpochs: r.int("total_epochs").map { Int($0) },
      batch: r.int("batch").map { Int($0) }, totalBatches: r.int("total_batches").map { Int($0) },
      loss: r.double("loss"), etaSeconds: r.double("eta_seconds"), message: r["message"],
      pid: r.int("pid").map { Int32(truncatingIfNeeded: $0) },
      createdAt: r.date("created_at") ?? Date(timeIntervalSince1970: 0), startedAt: r.date("started_at"),
      heartbeatAt: r.date("heartbeat_at"), finishedAt: r.date("finished_at"), error: r["error"])
  }

  public func queueRetraining(reason: String, by: String?, tasks: [String]?, options: [String: JSONValue])
    throws(StoreError) -> RetrainRequest
  {
    try requireService("queues retraining jobs")
    _ = try reapDeadTrainingJobs(staleAfter: 600)
    if let active = try activeTrainingJob() { return .alreadyActive(active) }
    guard let parent = try promotedModel() else { return .noModel }
    let c = try corrections(
      afterAnnotation: parent.trainedThroughAnnotation ?? 0,
      afterAdjudication: CaseStore.throughAdjudication(parent) ?? 0, since: parent.version)
    let chosen = tasks ?? c.tasks
    guard !chosen.isEmpty else { return .nothingToLearn(c) }
    var trigger: [String: JSONValue] = [
      "reason": .string(reason), "labels": .number(Double(c.labels)), "masks": .number(Double(c.masks)),
      "through_annotation": .number(Double(c.throughAnnotation)),
      "through_adjudication": .number(Double(c.throughAdjudication)),
    ]
    if let by { trigger["by"] = .string(by) }
    if !options.isEmpty { trigger["options"] = .object(options) }
    // One active job per workspace: the unique index refuses a second, and the loser finds
    // the winner's job.
    let inserted = try connection.transaction { () throws(StoreError) -> Int64? in
      try connection.query(
        """
        INSERT INTO blastview.training_job (status, tasks, trigger, parent_model) VALUES ('queued', $1, $2, $3)
        ON CONFLICT DO NOTHING RETURNING id
        """,
        [
          .text(CaseStore.jsonString(chosen)), .text(CaseStore.jsonString(JSONValue.object(trigger))),
          .int(parent.version),
        ]
      ).first?.int("id")
    }
    if let inserted { return .queued(try trainingJob(id: inserted), c) }
    guard let active = try activeTrainingJob() else { throw .busy(connection.displayTarget) }
    return .alreadyActive(active)
  }

  @discardableResult
  public func startTrainingJob(id: Int64, pid: Int32) throws(StoreError) -> TrainingJob {
    try requireService("runs training jobs")
    let started = try connection.transaction { () throws(StoreError) -> Bool in
      try !connection.query(
        """
        UPDATE blastview.training_job SET status = 'running', pid = $1, started_at = clock_timestamp(),
          heartbeat_at = clock_timestamp() WHERE id = $2 AND status = 'queued' RETURNING id
        """, [.int(Int64(pid)), .int(id)]
      ).isEmpty
    }
    if !started {
      _ = try trainingJob(id: id)
      throw .invalidInput("training job \(id) is not queued; another trainer has it or it has finished")
    }
    return try trainingJob(id: id)
  }

  public func updateTrainingProgress(id: Int64, _ p: TrainingProgress) throws(StoreError) {
    try requireService("reports training progress")
    let n = try connection.query(
      """
      UPDATE blastview.training_job SET progress = $1, epoch = $2, total_epochs = $3, batch = $4, total_batches = $5,
        loss = $6, eta_seconds = $7, message = $8, heartbeat_at = clock_timestamp()
      WHERE id = $9 AND status = 'running' RETURNING id
      """,
      [
        .double(min(max(p.progress, 0), 1)), .optional(p.epoch.map { Int64($0) }),
        .optional(p.totalEpochs.map { Int64($0) }), .optional(p.batch.map { Int64($0) }),
        .optional(p.totalBatches.map { Int64($0) }), PostgresStore.finite(p.loss),
        PostgresStore.finite(p.etaSeconds),
        .optional(p.message), .int(id),
      ]
    ).count
    if n == 0 { throw .invalidInput("training job \(id) is not running") }
  }

  public func appendTrainingLog(
    id: Int64, epoch: Int?, trainLoss: Double?, valLoss: Double?, valMetric: Double?, message: String?
  ) throws(StoreError) {
    try requireService("writes the training log")
    try connection.query(
      """
      INSERT INTO blastview.training_log (job_id, epoch, train_loss, val_loss, val_metric, message)
      VALUES ($1, $2, $3, $4, $5, $6)
      """,
      [
        .int(id), .optional(epoch.map { Int64($0) }), PostgresStore.finite(trainLoss),
        PostgresStore.finite(valLoss),
        PostgresStore.finite(valMetric), .optional(message),
      ])
  }

  public func finishTrainingJob(id: Int64, status: JobStatus, resultModel: Int64?, error: String?)
    throws(StoreError)
  {
    try requireService("finishes training jobs")
    guard !status.isActive else {
      throw .invalidInput("a finished job's status cannot be \(status.rawValue)")
    }
    let n = try connection.query(
      """
      UPDATE blastview.training_job SET status = $1, result_model = $2, error = $3, finished_at = clock_timestamp(),
        progress = CASE WHEN $1 = 'succeeded' THEN 1 ELSE progress END
      WHERE id = $4 AND status IN ('queued', 'running') RETURNING id
      """, [.text(status.rawValue), .optional(resultModel), .optional(error), .int(id)]
    ).count
    if n == 0 { throw .invalidInput("training job \(id) is not active") }
  }

  public func trainingJob(id: Int64) throws(StoreError) -> TrainingJob {
    try requireService("reads training jobs")
    guard
      let r = try connection.query(
        "SELECT \(PostgresStore.jobColumns) FROM blastview.training_job WHERE id = $1", [.int(id)]
      ).first
    else { throw .unknownJob(id) }
    return PostgresStore.job(r)
  }

  public func activeTrainingJob() throws(StoreError) -> TrainingJob? {
    try requireService("reads training jobs")
    return try connection.query(
      "SELECT \(PostgresStore.jobColumns) FROM blastview.training_job WHERE status IN ('queued', 'running')"
    ).first.map(PostgresStore.job)
  }

  /// Recent jobs, newest first.
  public func trainingJobs(limit: Int) throws(StoreError) -> [TrainingJob] {
    try requireService("reads training jobs")
    return try connection.query(
      "SELECT \(PostgresStore.jobColumns) FROM blastview.training_job ORDER BY id DESC LIMIT $1",
      [.int(Int64(limit))]
    ).map(PostgresStore.job)
  }

  /// Fails running jobs whose trainer is gone: one that has not reported for `staleAfter`
  /// seconds, or, when this connection holds the trainer lock (so no other trainer can be
  /// running a job), any running job.
  @discardableResult
  public func reapDeadTrainingJobs(staleAfter: TimeInterval) throws(StoreError) -> [Int64] {
    try requireService("reaps training jobs")
    return try connection.query(
      """
      UPDATE blastview.training_job SET status = 'failed', finished_at = clock_timestamp(),
        error = CASE WHEN $2 THEN 'the trainer that ran it is gone (its connection ended)'
                     ELSE format('no progress report for %s s', $1::int) END
      WHERE status = 'running' AND ($2 OR heartbeat_at < clock_timestamp() - make_interval(secs => $1::int))
      RETURNING id
      """, [.int(Int64(staleAfter)), .bool(holdsTrainerLock)]
    ).compactMap { $0.int("id") }
  }

  public func heartbeatTrainingJob(id: Int64) throws(StoreError) {
    try requireService("runs training jobs")
    try connection.query(
      "UPDATE blastview.training_job SET heartbeat_at = clock_timestamp() WHERE id = $1 AND status = 'running'",
      [.int(id)])
  }

  @discardableResult
  public func acquireTrainerLock(purpose: String, staleAfter: TimeInterval) throws(StoreError)
    -> TrainerLockHolder
  {
    try requireService("runs the trainer")
    let me = TrainerLockHolder(
      pid: getpid(), host: ProcessIdentity.hostName, processStart: ProcessIdentity.startTime(of: getpid()),
      purpose: purpose, since: Date(), heartbeat: Date())
    if holdsTrainerLock { return me }
    if let holder = try takeLease("trainer", purpose: purpose) {
      throw .trainerBusy("another trainer holds the trainer lock of \(connection.displayTarget) (\(holder))")
    }
    holdsTrainerLock = true
    return me
  }

  /// The lease lives as long as the connection's server process: nothing to refresh.
  public func refreshTrainerLock() throws(StoreError) {}

  public func releaseTrainerLock() throws(StoreError) {
    guard holdsTrainerLock else { return }
    try releaseLease("trainer")
    holdsTrainerLock = false
  }

  /// Takes the lease `name` (`pg-v7-lock-rows`) for this connection: nil when taken, else a
  /// description of the live holder. Service role only (the database refuses the others too).
  public func takeLease(_ name: String, purpose: String) throws(StoreError) -> String? {
    try requireService("takes the workspace's locks")
    let row = try connection.transaction { () throws(StoreError) -> PGRow? in
      try connection.query(
        "SELECT ok, holder_pid, holder_host, holder_since FROM blastview.lease_take($1, $2, $3)",
        [.text(name), .text(ProcessIdentity.hostName), .text(purpose)]
      ).first
    }
    guard let row else { throw .database("taking the lease \(name) returned nothing") }
    if row.bool("ok") == true { return nil }
    let since = row.date("holder_since").map { " since \(CaseStore.timestamp($0))" } ?? ""
    return "server process \(row["holder_pid"] ?? "?"), on \(row["holder_host"] ?? "?")\(since)"
  }

  /// Gives back the lease `name` if this connection holds it.
  public func releaseLease(_ name: String) throws(StoreError) {
    try connection.query("SELECT blastview.lease_release($1)", [.text(name)])
  }

  // MARK: Corrections

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

  /// As `CaseStore.corrections`: per case, a label and a mask correction each counted once.
  func corrections(afterAnnotation: Int64, afterAdjudication: Int64, since: Int64?) throws(StoreError)
    -> CorrectionSummary
  {
    try requireService("counts corrections")
    let r = try connection.query(
      """
      SELECT
        (SELECT count(*) FROM (SELECT case_id FROM blastview.annotation WHERE id > $1 AND changed & 1 <> 0
           UNION SELECT case_id FROM blastview.adjudication WHERE id > $2) x) AS l,
        (SELECT count(*) FROM (SELECT case_id FROM blastview.annotation WHERE id > $1 AND changed & 2 <> 0
           UNION SELECT case_id FROM blastview.adjudication WHERE id > $2 AND mask_id IS NOT NULL) y) AS m,
        (SELECT coalesce(max(id), $1) FROM blastview.annotation WHERE id > $1) AS a_last,
        (SELECT coalesce(max(id), $2) FROM blastview.adjudication WHERE id > $2) AS j_last
      """, [.int(afterAnnotation), .int(afterAdjudication)]
    ).first
    return CorrectionSummary(
      labels: Int(r?.int("l") ?? 0), masks: Int(r?.int("m") ?? 0),
      throughAnnotation: r?.int("a_last") ?? afterAnnotation,
      throughAdjudication: r?.int("j_last") ?? afterAdjudication, since: since)
  }

  public func autoRetrainAfter() throws(StoreError) -> Int? {
    guard let text = try setting(CaseStore.autoRetrainSetting), let n = Int(text), n > 0 else { return nil }
    return n
  }

  // MARK: Training data

  public func latestAnnotationID() throws(StoreError) -> Int64 {
    try requireService("reads the training data")
    return try connection.query("SELECT coalesce(max(id), 0) AS n FROM blastview.annotation").first?.int("n")
      ?? 0
  }

  public func latestAdjudicationID() throws(StoreError) -> Int64 {
    try requireService("reads the training data")
    return try connection.query("SELECT coalesce(max(id), 0) AS n FROM blastview.adjudication").first?.int(
      "n") ?? 0
  }

  public func cases(afterID: Int64, limit: Int, viewer: Viewer) throws(StoreError) -> [CaseRecord] {
    try requireService("reads every case at once")
    return try connection.query(
      """
      SELECT id, path, sha256, format, width, height, reference_label, split,
        extract(epoch FROM added_at)::float8 AS added_at
      FROM blastview."case" WHERE id > $1 ORDER BY id LIMIT $2
      """, [.int(afterID), .int(Int64(limit))]
    ).map { r in
      let sha = r["sha256"] ?? ""
      return CaseRecord(
        id: r.int("id") ?? 0, path: r["path"] ?? "", pathIsRelative: true,
        imagePath: PostgresStore.imageAddress(sha), sha256: sha, format: r["format"] ?? "",
        width: Int(r.int("width") ?? 0), height: Int(r.int("height") ?? 0),
        referenceLabel: r["reference_label"],
        split: Split(rawValue: r["split"] ?? "") ?? .train,
        addedAt: r.date("added_at") ?? Date(timeIntervalSince1970: 0))
    }
  }

  public func trainingLabelSources(case caseID: Int64) throws(StoreError) -> TrainingLabelSources {
    try requireService("reads the training labels")
    let head = try connection.query(
      """
      SELECT (SELECT a.label FROM blastview.adjudication a WHERE a.case_id = $1 ORDER BY a.id DESC LIMIT 1) AS adj_label,
        (SELECT a.mask_id FROM blastview.adjudication a WHERE a.case_id = $1 ORDER BY a.id DESC LIMIT 1) AS adj_mask,
        (SELECT r.mask_id FROM blastview.reference_mask r WHERE r.case_id = $1) AS ref_mask
      """, [.int(caseID)]
    ).first
    let current = try connection.query(
      """
      SELECT annotation_id, label, mask_id, extract(epoch FROM created_at)::float8 AS created_at
      FROM blastview.current_annotation WHERE case_id = $1 ORDER BY rater_id
      """, [.int(caseID)]
    ).map { r in
      TrainingLabelSources.Current(
        id: r.int("annotation_id") ?? 0, label: r["label"], maskID: r.int("mask_id"),
        createdAt: r.date("created_at") ?? Date(timeIntervalSince1970: 0))
    }
    return TrainingLabelSources(
      adjudicatedLabel: head?["adj_label"], adjudicatedMask: head?.int("adj_mask"), current: current,
      referenceMask: head?.int("ref_mask"))
  }

  public func trainingImage(_ record: CaseRecord) throws(StoreError) -> RGBImage {
    try caseImage(at: record.imagePath)
  }

  public func correctedCases(since model: ModelVersion?, limit: Int) throws(StoreError) -> [CorrectedCase] {
    try requireService("reads the corrections")
    return try connection.query(
      """
      SELECT c.case_id,
        coalesce(
          (SELECT label FROM blastview.adjudication WHERE case_id = c.case_id AND id > $1 ORDER BY id DESC LIMIT 1),
          (SELECT label FROM blastview.annotation WHERE case_id = c.case_id AND id > $2 AND changed & 1 <> 0
            ORDER BY id DESC LIMIT 1)) AS label
      FROM (SELECT case_id FROM blastview.annotation WHERE id > $2 AND changed & 3 <> 0
            UNION SELECT case_id FROM blastview.adjudication WHERE id > $1) c
      ORDER BY c.case_id LIMIT $3
      """,
      [
        .int(model.flatMap { CaseStore.throughAdjudication($0) } ?? 0),
        .int(model?.trainedThroughAnnotation ?? 0),
        .int(Int64(limit)),
      ]
    ).map { CorrectedCase(caseID: $0.int("case_id") ?? 0, label: $0["label"]) }
  }

  public func prediction(case caseID: Int64, model: Int64?, viewer: Viewer) throws(StoreError) -> Prediction?
  {
    try requireService("reads predictions in bulk")
    return try connection.query(
      """
      SELECT case_id, model_version, label, confidence, probabilities, p_malignant, mask_id, detections,
        extract(epoch FROM created_at)::float8 AS created_at, colour_distance, colour_unusual
      FROM blastview.prediction WHERE case_id = $1 AND model_version =
        coalesce($2, (SELECT model_version FROM blastview.model_promotion ORDER BY id DESC LIMIT 1))
      """, [.int(caseID), .optional(model)]
    ).first.map { r in
      Prediction(
        caseID: r.int("case_id") ?? 0, modelVersion: r.int("model_version") ?? 0, label: r["label"] ?? "",
        confidence: r.double("confidence") ?? 0,
        probabilities: CaseStore.decodeJSON([Double].self, r["probabilities"]) ?? [],
        pMalignant: r.double("p_malignant"), maskID: r.int("mask_id"),
        detections: CaseStore.decodeJSON([StoredDetection].self, r["detections"]) ?? [],
        createdAt: r.date("created_at") ?? Date(timeIntervalSince1970: 0),
        colourDistance: r.double("colour_distance"),
        colourUnusual: r.bool("colour_unusual"))
    }
  }

  public func predictionFlips(from: Int64, to: Int64) throws(StoreError) -> (
    compared: Int, flips: [(from: String, to: String, cases: Int)]
  ) {
    try requireService("compares predictions")
    let compared =
      try connection.query(
        """
        SELECT count(*) AS n FROM blastview.prediction a JOIN blastview.prediction b ON b.case_id = a.case_id
        WHERE a.model_version = $1 AND b.model_version = $2
        """, [.int(from), .int(to)]
      ).first?.int("n") ?? 0
    let flips = try connection.query(
      """
      SELECT a.label AS f, b.label AS t, count(*) AS n FROM blastview.prediction a
      JOIN blastview.prediction b ON b.case_id = a.case_id
      WHERE a.model_version = $1 AND b.model_version = $2 AND a.label <> b.label
      GROUP BY a.label, b.label ORDER BY n DESC, a.label, b.label
      """, [.int(from), .int(to)]
    ).map { (from: $0["f"] ?? "", to: $0["t"] ?? "", cases: Int($0.int("n") ?? 0)) }
    return (Int(compared), flips)
  }

  // MARK: Predictions

  public func casesMissingPrediction(model: Int64, limit: Int) throws(StoreError) -> [Int64] {
    try requireService("fills predictions")
    return try connection.query(
      """
      SELECT c.id FROM blastview."case" c WHERE NOT EXISTS
        (SELECT 1 FROM blastview.prediction p WHERE p.case_id = c.id AND p.model_version = $1)
      ORDER BY c.id LIMIT $2
      """, [.int(model), .int(Int64(limit))]
    ).compactMap { $0.int("id") }
  }

  public func savePredictions(_ predictions: [NewPrediction], model: Int64) throws(StoreError) {
    try requireService("stores predictions")
    let prepared = try CaseStore.prepare(predictions, schema: labelSchema)
    try connection.transaction { () throws(StoreError) in
      guard try !connection.query("SELECT 1 FROM blastview.model WHERE version = $1", [.int(model)]).isEmpty
      else {
        throw StoreError.unknownModel(model)
      }
      for (p, label, confidence, pm, blob) in prepared {
        var maskID: Int64? = nil
        if let blob {
          try connection.query(
            """
            INSERT INTO blastview.mask (sha256, width, height, png) VALUES ($1, $2, $3, $4)
            ON CONFLICT (sha256) DO NOTHING
            """, [.text(blob.sha256), .int(Int64(blob.width)), .int(Int64(blob.height)), .bytes(blob.png)])
          maskID = try connection.query(
            "SELECT id FROM blastview.mask WHERE sha256 = $1", [.text(blob.sha256)]
          )
          .first?.int("id")
        }
        try connection.query(
          """
          INSERT INTO blastview.prediction (case_id, model_version, label, confidence, probabilities, p_malignant,
            mask_id, detections, colour_distance, colour_unusual)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
          ON CONFLICT (case_id, model_version) DO UPDATE SET label = EXCLUDED.label,
            confidence = EXCLUDED.confidence, probabilities = EXCLUDED.probabilities,
            p_malignant = EXCLUDED.p_malignant, mask_id = EXCLUDED.mask_id, detections = EXCLUDED.detections,
            created_at = clock_timestamp(), colour_distance = EXCLUDED.colour_distance,
            colour_unusual = EXCLUDED.colour_unusual
          """,
          [
            .int(p.caseID), .int(model), .text(label), .double(confidence),
            .text(CaseStore.jsonString(p.probabilities)), PostgresStore.finite(pm), .optional(maskID),
            .text(CaseStore.jsonString(p.detections)), PostgresStore.finite(p.colourDistance),
            p.colourUnusual.map { PGValue.bool($0) } ?? .null,
          ])
      }
    }
  }

  public func recordPredictionFailure(model: Int64, message: String) throws(StoreError) {
    try requireService("records a failed predictor")
    try connection.query(
      """
      INSERT INTO blastview.setting (key, value) VALUES ($1, $2)
      ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
      """,
      [
        .text(CaseStore.predictionFailureKey(model)),
        .text(CaseStore.timestamp(Date()) + " " + String(message.prefix(500))),
      ])
  }

  public func clearPredictionFailure(model: Int64) throws(StoreError) {
    try requireService("clears a failed predictor")
    try connection.query(
      "DELETE FROM blastview.setting WHERE key = $1", [.text(CaseStore.predictionFailureKey(model))])
  }

  public func predictionSummary(model version: Int64) throws(StoreError) -> PredictionSummary {
    try requireService("summarises predictions")
    var byLabel: [String: Int] = [:]
    let rows = try connection.query(
      "SELECT label, count(*) AS n FROM blastview.prediction WHERE model_version = $1 GROUP BY label",
      [.int(version)])
    for r in rows { byLabel[r["label"] ?? ""] = Int(r.int("n") ?? 0) }
    let outliers = try connection.query(
      "SELECT case_id FROM blastview.prediction WHERE model_version = $1 AND colour_unusual ORDER BY case_id",
      [.int(version)]
    ).compactMap { $0.int("case_id") }
    return PredictionSummary(
      counts: labelSchema.classes.map {
        PredictionSummary.ClassCount(label: $0.name, letter: $0.letter, cases: byLabel[$0.name] ?? 0)
      }, colourOutliers: outliers)
  }

  /// A finite double, else NULL (PostgreSQL would store NaN; SQLite stores NULL).
  static func finite(_ d: Double?) -> PGValue {
    guard let d, d.isFinite else { return .null }
    return .double(d)
  }
}
