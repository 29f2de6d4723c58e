import CaseStore
import Foundation
import MTACNN
import NeuralEngine
import Synchronization

/// Settings of a retraining: the job's trigger `options` first, then the workspace settings
/// `retrain_epochs`, `retrain_patience`, `retrain_batch`, `retrain_lr`, then these defaults
/// (a fine-tuning of a trained model: fewer epochs and a lower rate than training from scratch).
struct RetrainOptions: Equatable {
  var epochs = 10
  var patience = 3
  var batch = 32
  var lr: Float = 3e-4
  var seed: UInt64 = 0
  /// Smoke tests: stop each epoch after this many batches.
  var maxBatches: Int?

  static func resolve(job: TrainingJob, store: CaseStore) -> RetrainOptions {
    var o = RetrainOptions()
    func value(_ key: String) -> Double? {
      if let v = job.trigger["options"]?[key]?.doubleValue { return v }
      return (try? store.setting("retrain_" + key)).flatMap { $0 }.flatMap(Double.init)
    }
    if let v = value("epochs"), v >= 1 { o.epochs = Int(v) }
    if let v = value("patience"), v >= 1 { o.patience = Int(v) }
    if let v = value("batch"), v >= 1 { o.batch = Int(v) }
    if let v = value("lr"), v > 0, v.isFinite { o.lr = Float(v) }
    if let v = value("seed"), v >= 0 { o.seed = UInt64(v) }
    if let v = value("max_batches"), v >= 1 { o.maxBatches = Int(v) }
    return o
  }
}

/// The model as the registry names its tasks.
func registryName(_ t: ModelTask) -> String { t == .cls ? "classification" : "segmentation" }
func modelTask(registryName name: String) -> ModelTask? {
  switch name {
  case "classification", "cls": return .cls
  case "segmentation", "seg": return .seg
  default: return nil
  }
}

/// Thrown when the job was asked to stop (Ctrl-C, SIGTERM): it ends as cancelled.
struct RetrainCancelled: Error {}

/// One retraining job (issue 8), run by `blastview train --job ID` or `train --watch`. The caller
/// holds the workspace's trainer lock.
///
/// 1. The parent (the job's, else the promoted model) is loaded; its file must match the
///    registry's SHA-256.
/// 2. Each task the corrections call for trains in the paper's order, classification first with
///    segmentation frozen, then segmentation with classification frozen, from the previous
///    stage's best checkpoint (by validation loss) with its Adam state. After each stage the
///    frozen tensors are compared byte for byte with the stage's input file.
/// 3. The result is registered with its parent, trained and frozen tasks, whether the frozen
///    tensors were verified, training time and the per-epoch curves.
/// 4. The validation gate (`ValidationGate`) decides whether it is promoted; if it is, the
///    workspace's predictions are recomputed for it, page by page.
///
/// Nothing is written to the registry before a complete, verified file exists: a trainer killed
/// at any point leaves the promoted model and every annotation as they were (its job is failed
/// as stale when the next trainer or review app starts).
struct RetrainJob {
  let store: CaseStore
  let jobID: Int64
  var threads: Int
  var quiet: Bool
  var shouldStop: () -> Bool

  struct Outcome {
    var version: ModelVersion
    var decision: ValidationGate.Decision
    var frozenVerified: Bool?
    var predicted: Int
  }

  /// Runs the job to its end and records how it ended. Returns the outcome (nil when it failed
  /// or was cancelled; the job's error says why).
  @discardableResult
  func run() throws -> Outcome? {
    do { try store.startTrainingJob(id: jobID) } catch { throw CLIError(error) }
    let heartbeat = JobHeartbeat(store: store, jobID: jobID)
    defer { heartbeat.stop() }
    let scratch = store.workspace.modelsDirectory + "/.job-\(jobID)"
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    do {
      let outcome = try body(scratch: scratch)
      try? store.finishTrainingJob(id: jobID, status: .succeeded, resultModel: outcome.version.version)
      return outcome
    } catch is RetrainCancelled {
      try? store.appendTrainingLog(id: jobID, message: "cancelled")
      try? store.finishTrainingJob(id: jobID, status: .cancelled, error: "stopped on request")
      say("job \(jobID): cancelled")
      return nil
    } catch {
      let text = String(describing: error)
      try? store.appendTrainingLog(id: jobID, message: "failed: \(text)")
      try? store.finishTrainingJob(id: jobID, status: .failed, error: text)
      say("job \(jobID) failed: \(CLIText.safe(text))")
      return nil
    }
  }

  private func say(_ text: String) {
    if !quiet { printError(text) }
  }

  private func body(scratch: String) throws -> Outcome {
    let started = Date()
    let job = try store.trainingJob(id: jobID)
    let options = RetrainOptions.resolve(job: job, store: store)
    Threads.set(threads)

    // The parent, checked against the registry.
    let parent: ModelVersion
    if let v = job.parentModel {
      parent = try store.model(version: v)
    } else if let p = try store.promotedModel() {
      parent = p
    } else {
      throw CLIError(
        message: "no model to retrain: promote one first (blastview predict --all-cases --model FILE)")
    }
    guard (try? sha256Hex(path: parent.file)) == parent.sha256 else {
      throw CLIError(
        message: "model v\(parent.version): \(parent.file) is missing or differs from the registry")
    }
    let parentNet: MTACNNModel
    do { (parentNet, _) = try ModelCheckpoint.load(path: parent.file) } catch { throw CLIError(error) }

    // Which tasks train, in the paper's order.
    var stages: [ModelTask] = []
    for name in job.tasks {
      guard let t = modelTask(registryName: name) else { throw CLIError(message: "unknown task \(name)") }
      guard parentNet.tasks.contains(t) else {
        throw CLIError(
          message: "model v\(parent.version) has no \(name) task: its corrections cannot train it")
      }
      if !stages.contains(t) { stages.append(t) }
    }
    stages.sort()
    guard !stages.isEmpty else { throw CLIError(message: "the job names no task to train") }

    // The data: the workspace's labels and masks as they are now.
    progress(0.01, message: "loading the workspace's training data")
    let throughAdjudication = try store.latestAdjudicationID()
    let data = try WorkspaceTrainingData.load(store: store, model: parentNet, quiet: true)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    let stageShare = 0.85 / Double(stages.count)
    // The colour warning's reference (issue 10) follows the data the new version learned from;
    // the parent's is kept when the workspace's images cannot fit one.
    var colourReference = ColourReference.fit(train: data.train, validation: data.validation)
    if colourReference == nil {
      colourReference = try? ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: parent.file))
        .colourReference
    }

    var input = parent.file
    var stageRecords: [JSONValue] = []
    var curves: [JSONValue] = []
    var verified: [Bool] = []
    var trainingSeconds = 0.0
    for (k, task) in stages.enumerated() {
      if shouldStop() { throw RetrainCancelled() }
      let net: MTACNNModel
      let file: SafeTensorsFile
      do {
        file = try SafeTensorsFile.read(path: input)
        (net, _) = try ModelCheckpoint.load(path: input)
      } catch { throw CLIError(error) }
      let frozen = Set(net.tasks.filter { $0 != task })
      do { try net.freeze(frozen) } catch { throw CLIError(error) }
      let adam = Adam(net.store, learningRate: options.lr)
      do { _ = try net.restoreOptimizer(adam, from: file) } catch { throw CLIError(error) }
      var o = TrainingOptions()
      o.epochs = options.epochs
      o.batchSize = options.batch
      o.learningRate = options.lr
      o.patience = options.patience
      o.seed = options.seed &+ UInt64(k)
      o.augmentation = net.configuration.schema == "all4" ? TrainCommand.colourRecipe : .geometric
      o.maxBatchesPerEpoch = options.maxBatches
      let trainer: Trainer
      do {
        trainer = try Trainer(
          model: net, optimizer: adam, options: o, train: data.train, validation: data.validation)
      } catch { throw CLIError(error) }
      let out = scratch + "/stage\(k + 1)-\(task.rawValue).safetensors"
      say(
        "job \(jobID): training \(registryName(task))"
          + (frozen.isEmpty
            ? "" : " with \(frozen.sorted().map { registryName($0) }.joined(separator: ", ")) frozen")
          + " from \(k == 0 ? "v\(parent.version)" : "the previous stage"); \(data.train.count) training images, \(data.validation.count) validation"
      )
      try? store.appendTrainingLog(
        id: jobID,
        message: "stage \(k + 1)/\(stages.count): \(registryName(task))"
          + (frozen.isEmpty
            ? "" : ", frozen \(frozen.sorted().map { registryName($0) }.joined(separator: ","))"))

      var lastReport = Date.distantPast
      var lastLockRefresh = Date()
      var stageCurve: [JSONValue] = []
      let base = 0.05 + Double(k) * stageShare
      let record =
        "{\"retraining_job\": \(jobID), \"parent\": \(parent.version), \"task\": \"\(task.rawValue)\"}"
      let result: TrainingResult
      do {
        result = try trainer.run(
          save: { _ in
            try net.save(to: out, trainingJSON: record, optimizer: adam, colourReference: colourReference)
          },
          events: { event in
            switch event {
            case .batch(let epoch, let epochs, let b, let nb, let loss, _, let eta):
              guard Date().timeIntervalSince(lastReport) >= 1 else { return }
              lastReport = Date()
              let done = (Double(epoch - 1) + Double(b) / Double(max(nb, 1))) / Double(max(epochs, 1))
              // Later stages' time is not known yet: assume each takes as long as this one.
              let laterStages = Double(stages.count - k - 1)
              let total = eta.map { $0 + laterStages * $0 / max(1 - done, 1e-3) }
              try? store.updateTrainingProgress(
                id: jobID,
                TrainingProgress(
                  progress: base + done * stageShare, epoch: epoch, totalEpochs: epochs, batch: b,
                  totalBatches: nb, loss: Double(loss), etaSeconds: total,
                  message: "\(registryName(task)) (stage \(k + 1)/\(stages.count))"))
              if Date().timeIntervalSince(lastLockRefresh) > 60 {
                lastLockRefresh = Date()
                try? store.refreshTrainerLock()
              }
            case .epoch(let r):
              let metric = task == .cls ? r.validationMacroF1 : r.validationDice
              try? store.appendTrainingLog(
                id: jobID, epoch: r.epoch, trainLoss: r.trainLoss, valLoss: r.validationLoss,
                valMetric: metric)
              var point: [String: JSONValue] = [
                "stage": .number(Double(k + 1)), "task": .string(task.rawValue),
                "epoch": .number(Double(r.epoch)),
                "train_loss": .number(r.trainLoss),
              ]
              if let v = r.validationLoss { point["val_loss"] = .number(v) }
              if let m = metric { point["val_metric"] = .number(m) }
              point["val_metric_name"] = .string(task == .cls ? "macro_f1" : "dice")
              stageCurve.append(.object(point))
              if !quiet {
                print(
                  String(
                    format: "job %lld %@ epoch %d/%d  train loss %.4f", jobID, task.rawValue, r.epoch,
                    r.epochs, r.trainLoss)
                    + (r.validationLoss.map { String(format: "  val loss %.4f", $0) } ?? "")
                    + (metric.map { String(format: "  val %@ %.4f", task == .cls ? "macro-F1" : "Dice", $0) }
                      ?? ""))
                fflush(nil)
              }
            default: break
            }
          },
          shouldStop: shouldStop)
      } catch let e as CLIError {
        throw e
      } catch {
        throw CLIError(message: "training \(registryName(task)): \(error)")
      }
      if result.ending == .interrupted { throw RetrainCancelled() }
      guard result.bestEpoch != nil, FileManager.default.fileExists(atPath: out) else {
        throw CLIError(message: "training \(registryName(task)) finished no epoch: nothing to register")
      }
      trainingSeconds += result.seconds
      curves += stageCurve

      // Frozen means byte-identical: check it on the files.
      var stage: [String: JSONValue] = [
        "task": .string(registryName(task)),
        "frozen": .array(frozen.sorted().map { .string(registryName($0)) }),
        "from": .string(k == 0 ? "v\(parent.version)" : "stage \(k)"),
        "epochs": .number(Double(result.epochs.count)), "best_epoch": .number(Double(result.bestEpoch ?? 0)),
        "ending": .string(result.ending.rawValue), "seconds": .number(result.seconds),
      ]
      if !frozen.isEmpty {
        let check = try FrozenTensors.compare(net.frozenTensorNames, before: input, after: out)
        verified.append(check.identical)
        stage["frozen_tensors_checked"] = .number(Double(check.checked))
        stage["frozen_verified"] = .bool(check.identical)
        if !check.changed.isEmpty {
          stage["frozen_changed"] = .array(check.changed.prefix(20).map { .string($0) })
        }
        say(
          "job \(jobID): \(check.checked) frozen tensors "
            + (check.identical ? "byte-identical to the input" : "CHANGED (\(check.changed.count))"))
      }
      stageRecords.append(.object(stage))
      input = out
    }
    if shouldStop() { throw RetrainCancelled() }

    // The gate: the candidate and the promoted model on the same validation cases.
    progress(0.9, message: "validation gate")
    let candidateNet: MTACNNModel
    do { (candidateNet, _) = try ModelCheckpoint.load(path: input) } catch { throw CLIError(error) }
    let candidateScores = ValidationScores.score(candidateNet, on: data.validation, batch: options.batch)
    let current = try store.promotedModel()
    var currentScores: ValidationScores? = nil
    if let current {
      let net: MTACNNModel
      do { (net, _) = try ModelCheckpoint.load(path: current.file) } catch { throw CLIError(error) }
      let examples =
        net.configuration == parentNet.configuration
        ? data.validation
        : try WorkspaceTrainingData.load(store: store, model: net, parts: [.val], quiet: true).validation
      currentScores = ValidationScores.score(net, on: examples, batch: options.batch)
    }
    var decision = ValidationGate.decide(
      candidate: candidateScores, current: currentScores, currentVersion: current?.version)
    let frozenVerified: Bool? = verified.isEmpty ? nil : verified.allSatisfy { $0 }
    if frozenVerified == false {
      decision.promote = false
      decision.reason = "frozen tensors changed during training: kept unpromoted (" + decision.reason + ")"
    }

    // Register (unpromoted), with everything the model screen shows.
    var metrics: [String: JSONValue] = [
      "val_cases": .number(Double(candidateScores.cases)),
      "gate": (try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(decision))) ?? .null,
      "stages": .array(stageRecords), "curves": .array(curves),
      "training_seconds": .number(trainingSeconds), "job_seconds": .number(Date().timeIntervalSince(started)),
      "training_data": .object([
        "through_annotation": .number(Double(data.throughAnnotation)),
        "through_adjudication": .number(Double(throughAdjudication)),
        "train_images": .number(Double(data.train.count)),
        "val_images": .number(Double(data.validation.count)),
      ]),
      "options": .object([
        "epochs": .number(Double(options.epochs)), "patience": .number(Double(options.patience)),
        "batch": .number(Double(options.batch)), "lr": .number(Double(options.lr)),
      ]),
    ]
    if let f = candidateScores.macroF1 { metrics["macro_f1"] = .number(f) }
    if let a = candidateScores.accuracy { metrics["accuracy"] = .number(a) }
    if let d = candidateScores.dice { metrics["dice"] = .number(d) }
    let trained = stages.map(registryName)
    let frozenTasks = stages.count == 1 ? candidateNet.tasks.filter { $0 != stages[0] }.map(registryName) : []
    let version = try store.registerModel(
      file: input, parent: parent.version, tasks: candidateNet.tasks.map(registryName), trainedTasks: trained,
      frozenTasks: frozenTasks, frozenVerified: frozenVerified, metrics: .object(metrics),
      config: (try? JSONDecoder().decode(JSONValue.self, from: Data(candidateNet.configurationJSON.utf8)))
        ?? .null,
      trainingJob: jobID, trainedThroughAnnotation: data.throughAnnotation,
      notes: (decision.promote
        ? "passed the gate, promoted once its predictions are stored: " : "not promoted: ")
        + decision.reason)

    var predicted = 0
    if decision.promote {
      // Predictions first, promotion after (issue 15, item 5): a candidate whose predictions
      // are not finite never replaces the promoted model.
      progress(0.95, message: "v\(version.version) passed the gate; predicting the cases")
      var last = Date.distantPast
      do {
        let summary = try WorkspacePredictions.fillThenPromote(
          store: store, version: version, net: candidateNet, batch: 16,
          colourReference: (try? ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: version.file)))?
            .colourReference,
          by: "retraining job \(jobID)", reason: decision.reason,
          progress: { done, total in
            guard Date().timeIntervalSince(last) >= 1 || done == total else { return }
            last = Date()
            progress(
              0.95 + 0.05 * Double(done) / Double(max(total, 1)),
              message: "v\(version.version) passed the gate; predictions \(done)/\(total)")
          },
          shouldStop: shouldStop)
        predicted = summary.predicted
      } catch let e as CLIError {
        if shouldStop() { throw RetrainCancelled() }
        decision.promote = false
        decision.reason = e.description
      }
      try? store.updateModel(
        version: version.version,
        notes: (decision.promote ? "promoted: " : "not promoted: ") + decision.reason)
    }
    try? store.appendTrainingLog(
      id: jobID,
      message: "v\(version.version) " + (decision.promote ? "promoted: " : "not promoted: ") + decision.reason
    )
    say(
      "job \(jobID): v\(version.version) " + (decision.promote ? "promoted: " : "not promoted: ")
        + decision.reason)
    if !quiet {
      print(
        "v\(version.version) " + (decision.promote ? "promoted: " : "not promoted: ")
          + CLIText.safe(decision.reason))
    }
    progress(
      1,
      message: "v\(version.version) " + (decision.promote ? "promoted" : "not promoted: " + decision.reason))
    return Outcome(
      version: try store.model(version: version.version), decision: decision, frozenVerified: frozenVerified,
      predicted: predicted)
  }

  private func progress(_ p: Double, message: String) {
    try? store.updateTrainingProgress(id: jobID, TrainingProgress(progress: p, message: message))
  }
}

/// Keeps a running job's heartbeat and the trainer lock fresh from a background thread, so the
/// stretches of a job that report no progress (loading a large workspace, validation, the
/// gate) never make it look dead to the reaper (10 minutes) or abandoned to a trainer on
/// another host.
final class JobHeartbeat: Sendable {
  private let running = Atomic<Bool>(true)

  init(store: CaseStore, jobID: Int64, every seconds: Double = 30) {
    let thread = Thread { [self] in
      var last = Date()
      while running.load(ordering: .relaxed) {
        usleep(200_000)
        guard Date().timeIntervalSince(last) >= seconds else { continue }
        last = Date()
        try? store.heartbeatTrainingJob(id: jobID)
        try? store.refreshTrainerLock()
      }
    }
    thread.start()
  }

  func stop() { running.store(false, ordering: .relaxed) }
}
