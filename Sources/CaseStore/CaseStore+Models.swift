import FileSafety
import Foundation
import GRDB
import Imaging

/// A registered model file and what is known about it.
public struct ModelVersion: Sendable, Equatable, Codable {
  public var version: Int64
  public var parent: Int64?
  /// Absolute path of the registered copy inside the workspace (`models/v<N>.safetensors`).
  public var file: String
  public var sha256: String
  /// Tasks the model has (`classification`, `segmentation`).
  public var tasks: [String]
  /// Tasks trained to make this version, and tasks kept frozen from its parent.
  public var trainedTasks: [String]
  public var frozenTasks: [String]
  /// Whether the frozen tensors were checked byte-identical to the parent's (nil: not checked).
  public var frozenVerified: Bool?
  /// Validation metrics (`{"macro_f1": 0.91, "dice": 0.84, ...}`).
  public var metrics: JSONValue
  public var config: JSONValue
  public var trainingJobID: Int64?
  /// The newest annotation id the training data included.
  public var trainedThroughAnnotation: Int64?
  public var notes: String?
  public var createdAt: Date
  /// True for the currently promoted version.
  public var isPromoted: Bool
  /// When this version was last promoted, if ever.
  public var promotedAt: Date?
}

/// A detected nucleus as a prediction stores it: its box (image pixels) and score, in the JSON
/// of the `prediction.detections` column. The model's own detection (MTACNN's `Detection`,
/// which also knows its area) is converted to this when predictions are saved; the store does
/// not depend on the model.
public struct StoredDetection: Sendable, Equatable, Codable {
  public var x: Int
  public var y: Int
  public var width: Int
  public var height: Int
  public var score: Double
  public init(x: Int, y: Int, width: Int, height: Int, score: Double) {
    self.x = x
    self.y = y
    self.width = width
    self.height = height
    self.score = score
  }

  public init(box: PixelRect, score: Double) {
    self.init(x: box.x, y: box.y, width: box.width, height: box.height, score: score)
  }
}

/// One model's output for one case.
public struct Prediction: Sendable, Equatable, Codable {
  public var caseID: Int64
  public var modelVersion: Int64
  /// The most probable class and its probability.
  public var label: String
  public var confidence: Double
  /// One probability per class, in the label schema's order.
  public var probabilities: [Double]
  /// P(any class outside the first group): P(malignant) for `all4`; nil for a flat schema.
  public var pMalignant: Double?
  public var maskID: Int64?
  public var detections: [StoredDetection]
  public var createdAt: Date
  /// Mahalanobis distance of the image's colour statistics to the model's training colours, and
  /// whether it is beyond the model's threshold (issue 10: "colour unlike the training data;
  /// prediction less reliable"). Nil when the model carries no colour reference.
  public var colourDistance: Double? = nil
  public var colourUnusual: Bool? = nil
}

/// A prediction to store; label, confidence and P(malignant) are derived from the
/// probabilities and the label schema.
public struct NewPrediction: Sendable {
  public var caseID: Int64
  public var probabilities: [Double]
  public var mask: Mask?
  public var detections: [StoredDetection]
  /// The model's colour check (nil: the model has none).
  public var colourDistance: Double?
  public var colourUnusual: Bool?
  public init(
    caseID: Int64, probabilities: [Double], mask: Mask? = nil, detections: [StoredDetection] = [],
    colourDistance: Double? = nil, colourUnusual: Bool? = nil
  ) {
    self.caseID = caseID
    self.probabilities = probabilities
    self.mask = mask
    self.detections = detections
    self.colourDistance = colourDistance
    self.colourUnusual = colourUnusual
  }
}

extension CaseStore {
  // MARK: Model registry

  /// Copies a model file into the workspace (`models/v<N>.safetensors`, written under a
  /// temporary name, synced, checked against the source's SHA-256, then renamed) and
  /// registers it, unpromoted.
  @discardableResult
  public func registerModel(
    file source: String, parent: Int64?, tasks: [String], trainedTasks: [String], frozenTasks: [String],
    frozenVerified: Bool? = nil, metrics: JSONValue = .object([:]), config: JSONValue = .object([:]),
    trainingJob: Int64? = nil, trainedThroughAnnotation: Int64? = nil, notes: String? = nil
  ) throws(StoreError) -> ModelVersion {
    // Read once, hashed and copied from the same bytes: the registered hash is the file's.
    let bytes: [UInt8]
    do { bytes = try SafeFile.read(source, maxBytes: 4 << 30) } catch {
      throw .io(path: source, reason: error.why)
    }
    let sourceSHA = Digest.sha256Hex(bytes)
    do { try SafeFile.makeDirectories(workspace.modelsDirectory) } catch { throw CaseStore.storeError(error) }
    let tmp: String
    do { tmp = try SafeFile.writeTemporary(bytes, in: workspace.modelsDirectory, base: "incoming") } catch {
      throw CaseStore.storeError(error)
    }
    defer { unlink(tmp) }
    let now = CaseStore.timestamp(Date())
    let modelsDir = workspace.modelsDirectory
    let version: Int64 = try write { db in
      if let parent,
        try Bool.fetchOne(
          db, sql: "SELECT EXISTS (SELECT 1 FROM model WHERE version = ?)", arguments: [parent]) != true
      {
        throw StoreError.unknownModel(parent)
      }
      let v = (try Int64.fetchOne(db, sql: "SELECT max(version) FROM model") ?? 0) + 1
      let name = "models/v\(v).safetensors"
      try db.execute(
        sql: """
          INSERT INTO model (version, parent, file, sha256, tasks, trained_tasks, frozen_tasks, frozen_verified,
            metrics, config, training_job_id, trained_through_annotation, notes, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          v, parent, name, sourceSHA, CaseStore.jsonString(tasks), CaseStore.jsonString(trainedTasks),
          CaseStore.jsonString(frozenTasks), frozenVerified, CaseStore.jsonString(metrics),
          CaseStore.jsonString(config),
          trainingJob, trainedThroughAnnotation, notes, now,
        ])
      // Rename inside the transaction: if it fails, the row is rolled back with it. A name
      // planted there as a link (or anything not a regular file) is refused.
      do throws(SafeFileError) {
        try SafeFile.checkTarget(modelsDir + "/v\(v).safetensors", replace: true)
        try SafeFile.install(tmp, at: modelsDir + "/v\(v).safetensors", replace: true)
      } catch {
        throw CaseStore.storeError(error)
      }
      return v
    }
    return try model(version: version)
  }

  /// Promotes a version (or rolls back to an older one): its file must still match the
  /// registry's SHA-256, so a damaged checkpoint never replaces a good model. The browser's
  /// predictions switch to this version's in the same transaction.
  public func promote(version: Int64, by: String? = nil, reason: String? = nil) throws(StoreError) {
    let m = try model(version: version)
    guard FileManager.default.fileExists(atPath: m.file), (try? Digest.sha256Hex(fileAt: m.file)) == m.sha256
    else {
      throw .modelFileMismatch(version: version, path: m.file)
    }
    let now = CaseStore.timestamp(Date())
    try write { db in
      try db.execute(
        sql:
          "INSERT INTO model_promotion (model_version, promoted_by, reason, promoted_at) VALUES (?, ?, ?, ?)",
        arguments: [version, by, reason, now])
    }
  }

  /// Records metrics (or notes) computed after registration, such as the validation gate's.
  public func updateModel(
    version: Int64, metrics: JSONValue? = nil, frozenVerified: Bool? = nil, notes: String? = nil
  )
    throws(StoreError)
  {
    try write { db in
      if let metrics {
        try db.execute(
          sql: "UPDATE model SET metrics = ? WHERE version = ?",
          arguments: [CaseStore.jsonString(metrics), version])
      }
      if let frozenVerified {
        try db.execute(
          sql: "UPDATE model SET frozen_verified = ? WHERE version = ?", arguments: [frozenVerified, version])
      }
      if let notes {
        try db.execute(sql: "UPDATE model SET notes = ? WHERE version = ?", arguments: [notes, version])
      }
      guard db.changesCount > 0 || (metrics == nil && frozenVerified == nil && notes == nil) else {
        throw StoreError.unknownModel(version)
      }
    }
  }

  public func model(version: Int64) throws(StoreError) -> ModelVersion {
    let dir = workspace.directory
    let m = try read { db in
      try CaseStore.models(db, dir: dir, whereSQL: "m.version = ?", arguments: [version]).first
    }
    guard let m else { throw .unknownModel(version) }
    return m
  }

  /// All versions, newest first.
  public func models() throws(StoreError) -> [ModelVersion] {
    let dir = workspace.directory
    return try read { db in try CaseStore.models(db, dir: dir, whereSQL: "1", arguments: []) }
  }

  /// The promoted version, or nil when none has been promoted.
  public func promotedModel() throws(StoreError) -> ModelVersion? {
    let dir = workspace.directory
    return try read { db in
      guard let v = try CaseStore.promotedVersion(db) else { return nil }
      return try CaseStore.models(db, dir: dir, whereSQL: "m.version = ?", arguments: [v]).first
    }
  }

  static func promotedVersion(_ db: Database) throws -> Int64? {
    try Int64.fetchOne(db, sql: "SELECT model_version FROM model_promotion ORDER BY id DESC LIMIT 1")
  }

  private static func models(_ db: Database, dir: String, whereSQL: String, arguments: StatementArguments)
    throws
    -> [ModelVersion]
  {
    let promoted = try promotedVersion(db)
    return try Row.fetchAll(
      db,
      sql: """
        SELECT m.*, (SELECT max(promoted_at) FROM model_promotion p WHERE p.model_version = m.version) AS promoted_at
        FROM model m WHERE \(whereSQL) ORDER BY m.version DESC
        """, arguments: arguments
    ).map { r in
      let file: String = r["file"]
      return ModelVersion(
        version: r["version"], parent: r["parent"], file: file.hasPrefix("/") ? file : dir + "/" + file,
        sha256: r["sha256"], tasks: decodeJSON([String].self, r["tasks"]) ?? [],
        trainedTasks: decodeJSON([String].self, r["trained_tasks"]) ?? [],
        frozenTasks: decodeJSON([String].self, r["frozen_tasks"]) ?? [], frozenVerified: r["frozen_verified"],
        metrics: decodeJSON(JSONValue.self, r["metrics"]) ?? .null,
        config: decodeJSON(JSONValue.self, r["config"]) ?? .null, trainingJobID: r["training_job_id"],
        trainedThroughAnnotation: r["trained_through_annotation"], notes: r["notes"],
        createdAt: date(r["created_at"]) ?? Date(timeIntervalSince1970: 0),
        isPromoted: promoted == r["version"],
        promotedAt: date(r["promoted_at"]))
    }
  }

  // MARK: Predictions

  /// Stores predictions of model `model` (one transaction; a case predicted again by the same
  /// version is replaced). Probabilities are one per class in schema order.
  public func savePredictions(_ predictions: [NewPrediction], model: Int64) throws(StoreError) {
    let prepared = try CaseStore.prepare(predictions, schema: labelSchema)
    let now = CaseStore.timestamp(Date())
    try write { db in
      guard
        try Bool.fetchOne(
          db, sql: "SELECT EXISTS (SELECT 1 FROM model WHERE version = ?)", arguments: [model]) == true
      else { throw StoreError.unknownModel(model) }
      for (p, label, confidence, pm, blob) in prepared {
        let maskID = try blob?.store(db)
        try db.execute(
          sql: """
            INSERT INTO prediction (case_id, model_version, label, confidence, probabilities, p_malignant, mask_id,
              detections, created_at, colour_distance, colour_unusual)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (case_id, model_version) DO UPDATE SET label = excluded.label,
              confidence = excluded.confidence, probabilities = excluded.probabilities,
              p_malignant = excluded.p_malignant, mask_id = excluded.mask_id, detections = excluded.detections,
              created_at = excluded.created_at, colour_distance = excluded.colour_distance,
              colour_unusual = excluded.colour_unusual
            """,
          arguments: [
            p.caseID, model, label, confidence, CaseStore.jsonString(p.probabilities), pm, maskID,
            CaseStore.jsonString(p.detections), now, p.colourDistance.flatMap { $0.isFinite ? $0 : nil },
            p.colourUnusual,
          ])
      }
    }
  }

  /// The prediction of `model` (default: the promoted one) for a case, nil when there is none
  /// or the viewer may not see it.
  public func prediction(case caseID: Int64, model: Int64? = nil, viewer: Viewer) throws(StoreError)
    -> Prediction?
  {
    try read { db in
      if try CaseStore.modelHidden(db, viewerID: CaseStore.viewerRaterID(db, viewer), caseID: caseID) {
        return nil
      }
      guard let v = try model ?? CaseStore.promotedVersion(db) else { return nil }
      return try CaseStore.prediction(db, caseID: caseID, model: v)
    }
  }

  /// A prediction checked against the schema (one finite probability in [0, 1] per class), with
  /// its label, confidence, P(malignant) and mask blob derived: both backends store these.
  typealias PreparedPrediction = (
    NewPrediction, label: String, confidence: Double, pMalignant: Double?, mask: MaskBlob?
  )

  static func prepare(_ predictions: [NewPrediction], schema labelSchema: LabelSchema) throws(StoreError)
    -> [PreparedPrediction]
  {
    let n = labelSchema.classes.count
    let firstGroup = labelSchema.groups.first
    var prepared: [PreparedPrediction] = []
    for p in predictions {
      guard p.probabilities.count == n, p.probabilities.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 })
      else {
        throw .invalidInput(
          "prediction for case \(p.caseID) needs \(n) probabilities in [0, 1], one per class, got \(p.probabilities)"
        )
      }
      let best = p.probabilities.indices.max { p.probabilities[$0] < p.probabilities[$1] }!
      var pm: Double? = nil
      if let firstGroup {
        pm = zip(labelSchema.classes, p.probabilities).filter { $0.0.group != firstGroup }.map(\.1).reduce(
          0, +)
      }
      prepared.append(
        (p, labelSchema.classes[best].name, p.probabilities[best], pm, p.mask.map { MaskBlob(mask: $0) }))
    }
    return prepared
  }

  // MARK: Failed predictors

  static func predictionFailureKey(_ model: Int64) -> String { "prediction_failed.v\(model)" }

  /// Records that predicting with `model` failed (a model that produces NaN, a class count the
  /// schema does not have): review apps show it and do not start that predictor again. An
  /// explicit `predict --all-cases --model` clears it and tries again.
  public func recordPredictionFailure(model: Int64, message: String) throws(StoreError) {
    try setSetting(
      CaseStore.predictionFailureKey(model), CaseStore.timestamp(Date()) + " " + String(message.prefix(500)))
  }

  /// The recorded failure of `model`'s predictor ("<time> <message>"), if any.
  public func predictionFailure(model: Int64) throws(StoreError) -> String? {
    try setting(CaseStore.predictionFailureKey(model))
  }

  public func clearPredictionFailure(model: Int64) throws(StoreError) {
    try write { db in
      try db.execute(
        sql: "DELETE FROM setting WHERE key = ?", arguments: [CaseStore.predictionFailureKey(model)])
    }
  }

  /// Case ids that have no prediction from `model`, in id order (the background predictor's
  /// work list).
  public func casesMissingPrediction(model: Int64, limit: Int = 1000) throws(StoreError) -> [Int64] {
    try read { db in
      try Int64.fetchAll(
        db,
        sql: """
          SELECT c.id FROM "case" c WHERE NOT EXISTS
            (SELECT 1 FROM prediction p WHERE p.case_id = c.id AND p.model_version = ?)
          ORDER BY c.id LIMIT ?
          """, arguments: [model, limit])
    }
  }

  /// How many cases have a prediction from `model`, and how many cases there are (the review
  /// app's "predictions v2: 128 of 299" while a background predictor fills them).
  public func predictionCoverage(model: Int64) throws(StoreError) -> (predicted: Int, total: Int) {
    try read { db in
      let predicted =
        try Int.fetchOne(
          db, sql: "SELECT COUNT(*) FROM prediction WHERE model_version = ?", arguments: [model]) ?? 0
      let total = try Int.fetchOne(db, sql: #"SELECT COUNT(*) FROM "case""#) ?? 0
      return (predicted, total)
    }
  }

  static func promotedPrediction(_ db: Database, caseID: Int64) throws -> Prediction? {
    guard let v = try promotedVersion(db) else { return nil }
    return try prediction(db, caseID: caseID, model: v)
  }

  static func prediction(_ db: Database, caseID: Int64, model: Int64) throws -> Prediction? {
    try Row.fetchOne(
      db, sql: "SELECT * FROM prediction WHERE case_id = ? AND model_version = ?", arguments: [caseID, model]
    ).map { r in
      Prediction(
        caseID: r["case_id"], modelVersion: r["model_version"], label: r["label"],
        confidence: r["confidence"],
        probabilities: decodeJSON([Double].self, r["probabilities"]) ?? [], pMalignant: r["p_malignant"],
        maskID: r["mask_id"], detections: decodeJSON([StoredDetection].self, r["detections"]) ?? [],
        createdAt: date(r["created_at"]) ?? Date(timeIntervalSince1970: 0),
        colourDistance: r["colour_distance"], colourUnusual: r["colour_unusual"])
    }
  }
}
