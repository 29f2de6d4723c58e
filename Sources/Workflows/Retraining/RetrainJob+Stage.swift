import CaseStore
import Foundation
import MTACNN
import NeuralEngine

/// One stage of a retraining: `task` trains from `input` with every other task frozen.
struct StagePlan {
  var index: Int
  var count: Int
  var task: ModelTask
  var input: String
  var out: String
  /// The version the job started from.
  var parent: Int64

  var from: String { index == 0 ? "v\(parent)" : "the previous stage" }
  /// Its share of the job's progress bar: stages share 0.05...0.9 evenly.
  var share: Double { 0.85 / Double(count) }
  var base: Double { 0.05 + Double(index) * share }
  /// The validation metric the model screen plots for the task.
  var metricName: String { task == .cls ? "macro_f1" : "dice" }
}

/// What the stages of a job produced, for the registry.
struct TrainedStages {
  var records: [JSONValue] = []
  var curves: [JSONValue] = []
  var verified: [Bool] = []
  var seconds = 0.0

  /// Whether every frozen tensor was byte-identical (nil: no stage froze anything).
  var frozenVerified: Bool? { verified.isEmpty ? nil : verified.allSatisfy { $0 } }

  /// The registry's `metrics` of the new version (the job adds its timings and data).
  func metrics(scores: ValidationScores, decision: ValidationGate.Decision) -> [String: JSONValue] {
    var m: [String: JSONValue] = [
      "val_cases": .number(Double(scores.cases)),
      "gate": (try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(decision))) ?? .null,
      "stages": .array(records), "curves": .array(curves), "training_seconds": .number(seconds),
    ]
    if let f = scores.macroF1 { m["macro_f1"] = .number(f) }
    if let a = scores.accuracy { m["accuracy"] = .number(a) }
    if let d = scores.dice { m["dice"] = .number(d) }
    return m
  }
}

extension RetrainJob {
  /// Trains one stage to `stage.out` and checks its frozen tensors against `stage.input`.
  func train(
    _ stage: StagePlan, data: WorkspaceTrainingData.Loaded, settings: RetrainingSettings,
    colourReference: ColourOutlierDetector?, into trained: inout TrainedStages
  ) throws {
    let task = stage.task
    let net: MTACNNModel
    let file: SafeTensorsFile
    do {
      file = try SafeTensorsFile.read(path: stage.input)
      (net, _) = try ModelCheckpoint.load(path: stage.input)
      try net.freeze(Set(net.tasks.filter { $0 != task }))
    } catch { throw WorkflowError(error) }
    let frozen = net.frozenTasks.sorted()
    var o = TrainingOptions()
    o.epochs = settings.epochs
    o.batchSize = settings.batch
    o.learningRate = settings.lr
    o.patience = settings.patience
    o.seed = settings.seed &+ UInt64(stage.index)
    o.augmentation = .standard(forSchema: net.configuration.schema)
    o.maxBatchesPerEpoch = settings.maxBatches
    let run = try TrainingRun(
      model: net, continuing: file, options: o, train: data.train, validation: data.validation)
    log(
      "job \(jobID): training \(task.title)"
        + (frozen.isEmpty ? "" : " with \(frozen.map(\.title).joined(separator: ", ")) frozen")
        + " from \(stage.from); \(data.train.count) training images, \(data.validation.count) validation")
    try? store.appendTrainingLog(
      id: jobID, epoch: nil, trainLoss: nil, valLoss: nil, valMetric: nil,
      message: "stage \(stage.index + 1)/\(stage.count): \(task.title)"
        + (frozen.isEmpty ? "" : ", frozen \(frozen.map(\.title).joined(separator: ","))"))

    let events = StageEvents(job: self, stage: stage)
    let record = "{\"retraining_job\": \(jobID), \"parent\": \(stage.parent), \"task\": \"\(task.rawValue)\"}"
    let result: TrainingResult
    do {
      result = try run.run(
        savingTo: stage.out, colourReference: colourReference, record: { _ in record },
        events: events.handle, shouldStop: shouldStop)
    } catch let e as WorkflowError {
      throw e
    } catch {
      throw WorkflowError("training \(task.title): \(error)")
    }
    if result.ending == .interrupted { throw RetrainCancelled() }
    guard result.bestEpoch != nil, FileManager.default.fileExists(atPath: stage.out) else {
      throw WorkflowError("training \(task.title) finished no epoch: nothing to register")
    }
    trained.seconds += result.seconds
    trained.curves += events.curve

    // Frozen means byte-identical: check it on the files.
    var stageRecord: [String: JSONValue] = [
      "task": .string(task.rawValue), "frozen": .array(frozen.map { .string($0.rawValue) }),
      "from": .string(stage.index == 0 ? "v\(stage.parent)" : "stage \(stage.index)"),
      "epochs": .number(Double(result.epochs.count)), "best_epoch": .number(Double(result.bestEpoch ?? 0)),
      "ending": .string(result.ending.rawValue), "seconds": .number(result.seconds),
    ]
    if !frozen.isEmpty {
      let check = try FrozenTensors.compare(net.frozenTensorNames, before: stage.input, after: stage.out)
      trained.verified.append(check.identical)
      stageRecord["frozen_tensors_checked"] = .number(Double(check.checked))
      stageRecord["frozen_verified"] = .bool(check.identical)
      if !check.changed.isEmpty {
        stageRecord["frozen_changed"] = .array(check.changed.prefix(20).map { .string($0) })
      }
      log(
        "job \(jobID): \(check.checked) frozen tensors "
          + (check.identical ? "byte-identical to the input" : "CHANGED (\(check.changed.count))"))
    }
    trained.records.append(.object(stageRecord))
  }
}

/// A stage's trainer events: the job's progress (at most once a second), the lock kept fresh,
/// one training-log row, curve point and output line per epoch.
final class StageEvents {
  let job: RetrainJob
  let stage: StagePlan
  private(set) var curve: [JSONValue] = []
  private var lastReport = Date.distantPast
  private var lastLockRefresh = Date()

  init(job: RetrainJob, stage: StagePlan) {
    self.job = job
    self.stage = stage
  }

  func handle(_ event: TrainingEvent) {
    switch event {
    case .batch(let epoch, let epochs, let b, let nb, let loss, _, let eta):
      batch(epoch: epoch, epochs: epochs, batch: b, batches: nb, loss: loss, eta: eta)
    case .epoch(let r):
      self.epoch(r)
    default: break
    }
  }

  private func batch(epoch: Int, epochs: Int, batch b: Int, batches nb: Int, loss: Float, eta: Double?) {
    guard Date().timeIntervalSince(lastReport) >= 1 else { return }
    lastReport = Date()
    let done = (Double(epoch - 1) + Double(b) / Double(max(nb, 1))) / Double(max(epochs, 1))
    // Later stages' time is not known yet: assume each takes as long as this one.
    let laterStages = Double(stage.count - stage.index - 1)
    let total = eta.map { $0 + laterStages * $0 / max(1 - done, 1e-3) }
    try? job.store.updateTrainingProgress(
      id: job.jobID,
      TrainingProgress(
        progress: stage.base + done * stage.share, epoch: epoch, totalEpochs: epochs, batch: b,
        totalBatches: nb, loss: Double(loss), etaSeconds: total,
        message: "\(stage.task.title) (stage \(stage.index + 1)/\(stage.count))"))
    if Date().timeIntervalSince(lastLockRefresh) > 60 {
      lastLockRefresh = Date()
      try? job.store.refreshTrainerLock()
    }
  }

  private func epoch(_ r: EpochRecord) {
    let task = stage.task
    let metric = task == .cls ? r.validationMacroF1 : r.validationDice
    // A loss over no validation masks (or labels) is 0, not a fit: it is neither logged nor
    // drawn, and the curve says why (issue 18, item 5).
    let valLoss = ValidationLossText.meaningfulLoss(r, trained: [task])
    let unvalidated = ValidationLossText.unvalidated(r, trained: [task])
    try? job.store.appendTrainingLog(
      id: job.jobID, epoch: r.epoch, trainLoss: r.trainLoss, valLoss: valLoss, valMetric: metric,
      message: nil)
    var point: [String: JSONValue] = [
      "stage": .number(Double(stage.index + 1)), "task": .string(task.rawValue),
      "epoch": .number(Double(r.epoch)), "train_loss": .number(r.trainLoss),
    ]
    if let v = valLoss { point["val_loss"] = .number(v) }
    if !unvalidated.isEmpty { point["val_missing"] = .string(ValidationLossText.reason(unvalidated)) }
    if let m = metric { point["val_metric"] = .number(m) }
    point["val_metric_name"] = .string(stage.metricName)
    curve.append(.object(point))
    job.output(
      String(
        format: "job %lld %@ epoch %d/%d  train loss %.4f", job.jobID, task.rawValue, r.epoch, r.epochs,
        r.trainLoss)
        + (ValidationLossText.text(r, trained: [task]).map { "  " + $0 } ?? "")
        + (metric.map { String(format: "  val %@ %.4f", task == .cls ? "macro-F1" : "Dice", $0) } ?? ""))
  }
}
