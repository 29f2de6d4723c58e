import Foundation
import Imaging

/// The model registry as `blastview model` and the review app's model screen use it, specified
/// once for both backends (issue 16): an embedded workspace keeps its model files under
/// `models/`, a shared one in the database, content-addressed by SHA-256. On PostgreSQL the
/// server decides who may do what: every role reads the registry, only a lead promotes, rolls
/// back or changes the gate, and the weights are withheld from a rater with cases pending
/// under `--hide-model` (`PGModelsV6`).
public protocol ModelRegistryStore: WorkspaceStore {
  /// The workspace directory: an embedded workspace's, or a shared one's local directory
  /// (its database URL and this user's caches, verified model files among them).
  var workspace: Workspace { get }

  /// All versions, newest first.
  func models() throws(StoreError) -> [ModelVersion]
  func model(version: Int64) throws(StoreError) -> ModelVersion
  func promotedModel() throws(StoreError) -> ModelVersion?
  /// Every promotion and roll back, newest first.
  func modelPromotions() throws(StoreError) -> [ModelPromotion]
  /// The version a roll back returns to (the promoted version's parent, else the one promoted
  /// before it), nil when there is none.
  func rollbackTarget() throws(StoreError) -> Int64?
  /// Promotes a version whose stored file still matches its SHA-256. `by` is the acting rater
  /// (PostgreSQL records the connected role instead, except for the service role's trainer).
  func promote(version: Int64, by: String?, reason: String?) throws(StoreError)
  func predictionCoverage(model: Int64) throws(StoreError) -> (predicted: Int, total: Int)
  func setting(_ key: String) throws(StoreError) -> String?
  /// Sets one of the gate's or the retraining's settings (a lead's, on PostgreSQL).
  func setRetrainingSetting(_ key: String, _ value: String) throws(StoreError)
  /// A local file holding the version's weights, checked against the registry's SHA-256 just
  /// now (a shared workspace writes it into this user's private cache from the database).
  func verifiedModelFile(_ model: ModelVersion) throws(StoreError) -> String
}

/// Where a case's training label and mask come from (`WorkspaceTrainingData.labelAndMask`
/// applies the precedence): the newest adjudication, each rater's current annotation, and
/// the imported reference mask.
public struct TrainingLabelSources: Sendable {
  public struct Current: Sendable {
    public var id: Int64
    public var label: String?
    public var maskID: Int64?
    public var createdAt: Date
    public init(id: Int64, label: String?, maskID: Int64?, createdAt: Date) {
      self.id = id
      self.label = label
      self.maskID = maskID
      self.createdAt = createdAt
    }
  }
  public var adjudicatedLabel: String?
  public var adjudicatedMask: Int64?
  public var current: [Current]
  public var referenceMask: Int64?
  public init(adjudicatedLabel: String?, adjudicatedMask: Int64?, current: [Current], referenceMask: Int64?) {
    self.adjudicatedLabel = adjudicatedLabel
    self.adjudicatedMask = adjudicatedMask
    self.current = current
    self.referenceMask = referenceMask
  }
}

/// What the retrainer (`train --job`, `train --watch`; `RetrainJob`) and the workspace
/// predictor need, for both backends, so one training code path serves both. On PostgreSQL
/// only the service role (the schema's owner, as whom the trainer runs) can do these: it reads
/// every current label (no blinding applies to the trainer), writes the job tables, and
/// registers models; the database refuses anyone else.
public protocol RetrainingStore: ModelRegistryStore {
  @discardableResult
  func registerModel(
    file source: String, parent: Int64?, tasks: [String], trainedTasks: [String], frozenTasks: [String],
    frozenVerified: Bool?, metrics: JSONValue, config: JSONValue, trainingJob: Int64?,
    trainedThroughAnnotation: Int64?, notes: String?
  ) throws(StoreError) -> ModelVersion

  // Jobs and the one-trainer lock.
  func queueRetraining(reason: String, by: String?, tasks: [String]?, options: [String: JSONValue])
    throws(StoreError) -> RetrainRequest
  @discardableResult
  func startTrainingJob(id: Int64, pid: Int32) throws(StoreError) -> TrainingJob
  func updateTrainingProgress(id: Int64, _ p: TrainingProgress) throws(StoreError)
  func appendTrainingLog(
    id: Int64, epoch: Int?, trainLoss: Double?, valLoss: Double?, valMetric: Double?, message: String?
  ) throws(StoreError)
  func finishTrainingJob(id: Int64, status: JobStatus, resultModel: Int64?, error: String?) throws(StoreError)
  func trainingJob(id: Int64) throws(StoreError) -> TrainingJob
  func activeTrainingJob() throws(StoreError) -> TrainingJob?
  @discardableResult
  func reapDeadTrainingJobs(staleAfter: TimeInterval) throws(StoreError) -> [Int64]
  func heartbeatTrainingJob(id: Int64) throws(StoreError)
  @discardableResult
  func acquireTrainerLock(purpose: String, staleAfter: TimeInterval) throws(StoreError) -> TrainerLockHolder
  func refreshTrainerLock() throws(StoreError)
  func releaseTrainerLock() throws(StoreError)
  func correctionsSinceLastRetraining() throws(StoreError) -> CorrectionSummary?
  func autoRetrainAfter() throws(StoreError) -> Int?

  // The training data.
  func latestAnnotationID() throws(StoreError) -> Int64
  func latestAdjudicationID() throws(StoreError) -> Int64
  func cases(afterID: Int64, limit: Int, viewer: Viewer) throws(StoreError) -> [CaseRecord]
  func trainingLabelSources(case caseID: Int64) throws(StoreError) -> TrainingLabelSources
  func mask(id: Int64) throws(StoreError) -> Mask
  /// The case's image, checked against its SHA-256.
  func trainingImage(_ record: CaseRecord) throws(StoreError) -> RGBImage
  func correctedCases(since model: ModelVersion?, limit: Int) throws(StoreError) -> [CorrectedCase]
  func prediction(case caseID: Int64, model: Int64?, viewer: Viewer) throws(StoreError) -> Prediction?
  func predictionFlips(from: Int64, to: Int64) throws(StoreError) -> (
    compared: Int, flips: [(from: String, to: String, cases: Int)]
  )

  // The workspace's predictions.
  func casesMissingPrediction(model: Int64, limit: Int) throws(StoreError) -> [Int64]
  func savePredictions(_ predictions: [NewPrediction], model: Int64) throws(StoreError)
  func recordPredictionFailure(model: Int64, message: String) throws(StoreError)
  func clearPredictionFailure(model: Int64) throws(StoreError)
  /// Cases per predicted class and the colour outliers of one version.
  func predictionSummary(model version: Int64) throws(StoreError) -> PredictionSummary
}

extension CaseStore: RetrainingStore {
  public func setRetrainingSetting(_ key: String, _ value: String) throws(StoreError) {
    try setSetting(key, value)
  }

  public func verifiedModelFile(_ model: ModelVersion) throws(StoreError) -> String {
    try verifyModelFile(model)
    return model.file
  }

  public func trainingLabelSources(case caseID: Int64) throws(StoreError) -> TrainingLabelSources {
    let adj = try adjudications(case: caseID, viewer: .system).last
    let current = try currentAnnotations(case: caseID, viewer: .system)
    return TrainingLabelSources(
      adjudicatedLabel: adj?.label, adjudicatedMask: adj?.maskID,
      current: current.map { .init(id: $0.id, label: $0.label, maskID: $0.maskID, createdAt: $0.createdAt) },
      referenceMask: try referenceMaskID(case: caseID))
  }

  public func trainingImage(_ record: CaseRecord) throws(StoreError) -> RGBImage {
    do { return try CaseStore.decodeVerifiedImage(record) } catch {
      throw .io(path: record.imagePath, reason: error.description)
    }
  }
}
