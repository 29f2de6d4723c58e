import CaseStore
import FileSafety
import Foundation
import Imaging
import MTACNN
import NeuralEngine
import Synchronization

/// Thrown when the job was asked to stop (Ctrl-C, SIGTERM): it ends as cancelled.
struct RetrainCancelled: Error {}

/// One retraining job (issue 8), run by `blastview train --job ID` or `train --watch`. The caller
/// holds the workspace's trainer lock.
///
/// 1. The parent (the job's, else the promoted model) is loaded; its file must match the
///    registry's SHA-256.
/// 2. Each task the corrections call for trains in the paper's order, classification first with
///    segmentation frozen, then segmentation with classification frozen, from the previous
///    stage's best checkpoint (by validation loss) with its Adam state (`TrainingRun`, as
///    `blastview train` trains). After each stage the frozen tensors are compared byte for byte
///    with the stage's input file.
/// 3. The result is registered with its parent, trained and frozen tasks, whether the frozen
///    tensors were verified, training time and the per-epoch curves.
/// 4. The validation gate (`ValidationGate`) decides whether it is promoted; if it is, the
///    workspace's predictions are recomputed for it, page by page.
///
/// Nothing is written to the registry before a complete, verified file exists: a trainer killed
/// at any point leaves the promoted model and every annotation as they were (its job is failed
/// as stale when the next trainer or review app starts).
public struct RetrainJob {
  /// The embedded store, or a shared workspace's opened as its service role.
  public let store: any RetrainingStore
  public let jobID: Int64
  public var threads: Int
  /// Progress lines for a person (stderr in the CLI); they may quote file names and errors.
  public var log: (String) -> Void
  /// A case that could not be read (it is left out; the job goes on).
  public var warn: (String) -> Void
  /// The per-epoch lines and the gate's verdict (stdout in the CLI, unless it prints JSON).
  public var output: (String) -> Void
  public var shouldStop: () -> Bool

  public init(
    store: any RetrainingStore, jobID: Int64, threads: Int, log: @escaping (String) -> Void,
    warn: @escaping (String) -> Void, output: @escaping (String) -> Void, shouldStop: @escaping () -> Bool
  ) {
    self.store = store
    self.jobID = jobID
    self.threads = threads
    self.log = log
    self.warn = warn
    self.output = output
    self.shouldStop = shouldStop
  }

  public struct Outcome {
    public var version: ModelVersion
    public var decision: ValidationGate.Decision
    public var frozenVerified: Bool?
    public var predicted: Int
  }

  /// Runs the job to its end and records how it ended. Returns the outcome (nil when it failed
  /// or was cancelled; the job's error says why).
  @discardableResult
  public func run() throws(WorkflowError) -> Outcome? {
    do { try store.startTrainingJob(id: jobID, pid: getpid()) } catch { throw WorkflowError(error) }
    let heartbeat = JobHeartbeat(store: store, jobID: jobID)
    defer { heartbeat.stop() }
    // A fresh folder only this user can enter (random name, 0700): the stage checkpoints are
    // written and read back from it, so nobody can plant or swap one in a shared workspace.
    try? SafeFile.makeDirectories(store.workspace.modelsDirectory)
    let scratch: String
    do {
      scratch = try SafeFile.createTemporaryDirectory(
        in: store.workspace.modelsDirectory, base: "job-\(jobID)")
    } catch {
      try? store.finishTrainingJob(id: jobID, status: .failed, resultModel: nil, error: error.description)
      throw WorkflowError("job \(jobID): \(error.description)")
    }
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    do {
      let outcome = try body(scratch: scratch)
      try? store.finishTrainingJob(
        id: jobID, status: .succeeded, resultModel: outcome.version.version, error: nil)
      return outcome
    } catch is RetrainCancelled {
      try? store.appendTrainingLog(
        id: jobID, epoch: nil, trainLoss: nil, valLoss: nil, valMetric: nil, message: "cancelled")
      try? store.finishTrainingJob(
        id: jobID, status: .cancelled, resultModel: nil, error: "stopped on request")
      log("job \(jobID): cancelled")
      return nil
    } catch {
      let text = String(describing: error)
      try? store.appendTrainingLog(
        id: jobID, epoch: nil, trainLoss: nil, valLoss: nil, valMetric: nil, message: "failed: \(text)")
      try? store.finishTrainingJob(id: jobID, status: .failed, resultModel: nil, error: text)
      log("job \(jobID) failed: \(text)")
      return nil
    }
  }

  private func body(scratch: String) throws -> Outcome {
    let started = Date()
    let job = try store.trainingJob(id: jobID)
    let settings = RetrainingSettings.resolve(job: job, store: store)
    Threads.set(threads)
    let (parent, parentFile, parentNet) = try parentModel(of: job)
    let stages = try Self.stages(of: job, parent: parent, parentNet: parentNet)

    // The data: the workspace's labels and masks as they are now.
    progress(0.01, message: "loading the workspace's training data")
    let throughAdjudication = try store.latestAdjudicationID()
    let data = try WorkspaceTrainingData.load(store: store, model: parentNet, skipped: warn)
    // The colour warning's reference (issues 10 and 18): a retraining fine-tunes the parent, so
    // it keeps the parent's reference unless the workspace has enough labelled training images
    // to describe its colours on its own (`minimumColourImages`); a few corrections never
    // replace it (the warning would jump to other images). A parent without one gets a fit.
    let parentColour = (try? SafeTensorsFile.read(path: parentFile)).flatMap {
      try? ModelCheckpoint.metadata(of: $0).colourReference
    }
    let (colourReference, colourSource) = Self.colourReference(
      train: data.train, validation: data.validation, parent: parentColour)

    var input = parentFile
    var trained = TrainedStages()
    for (k, task) in stages.enumerated() {
      if shouldStop() { throw RetrainCancelled() }
      let stage = StagePlan(
        index: k, count: stages.count, task: task, input: input,
        out: scratch + "/stage\(k + 1)-\(task.rawValue).safetensors", parent: parent.version)
      try train(stage, data: data, settings: settings, colourReference: colourReference, into: &trained)
      input = stage.out
    }
    if shouldStop() { throw RetrainCancelled() }

    let (candidateNet, candidateScores, decision) = try gate(
      candidate: input, parentNet: parentNet, data: data, settings: settings,
      frozenVerified: trained.frozenVerified, trainedTasks: stages.map(\.rawValue))
    let changes = try correctedCaseChanges(parent: parent, candidate: candidateNet, batch: settings.batch)
    for line in changes.lines { output(line) }
    var metrics = trained.metrics(scores: candidateScores, decision: decision)
    metrics["corrected_cases"] = changes.json
    metrics["job_seconds"] = .number(Date().timeIntervalSince(started))
    metrics["training_data"] = .object([
      "through_annotation": .number(Double(data.throughAnnotation)),
      "through_adjudication": .number(Double(throughAdjudication)),
      "train_images": .number(Double(data.train.count)),
      "val_images": .number(Double(data.validation.count)),
      "colour_reference": .string(colourSource),
    ])
    metrics["options"] = .object([
      "epochs": .number(Double(settings.epochs)), "patience": .number(Double(settings.patience)),
      "batch": .number(Double(settings.batch)), "lr": .number(Double(settings.lr)),
    ])

    // Register (unpromoted), with everything the model screen shows.
    let frozenTasks = stages.count == 1 ? candidateNet.tasks.filter { $0 != stages[0] }.map(\.rawValue) : []
    let version = try store.registerModel(
      file: input, parent: parent.version, tasks: candidateNet.tasks.map(\.rawValue),
      trainedTasks: stages.map(\.rawValue), frozenTasks: frozenTasks, frozenVerified: trained.frozenVerified,
      metrics: .object(metrics),
      config: (try? JSONDecoder().decode(JSONValue.self, from: Data(candidateNet.configurationJSON.utf8)))
        ?? .null,
      trainingJob: jobID, trainedThroughAnnotation: data.throughAnnotation,
      notes: (decision.promote ? "promoted: " : "not promoted: ") + decision.reason)
    var verdict =
      "v\(version.version) " + (decision.promote ? "promoted: " : "not promoted: ") + decision.reason
    if decision.verdict == "proposed" {
      verdict +=
        "; a lead promotes it with: blastview model promote \(version.version) --workspace "
        + Self.shellWord(store.workspace.directory)
    }
    try? store.appendTrainingLog(
      id: jobID, epoch: nil, trainLoss: nil, valLoss: nil, valMetric: nil, message: verdict)
    log("job \(jobID): " + verdict)
    output(verdict)

    let predicted =
      decision.promote
      ? try promoteAndPredict(version, file: input, net: candidateNet, decision: decision) : 0
    if decision.promote,
      let (compared, flips) = try? store.predictionFlips(from: parent.version, to: version.version)
    {
      let n = flips.reduce(0) { $0 + $1.cases }
      output(
        "Predictions changed on \(n) of \(compared) cases"
          + (flips.isEmpty
            ? "" : ": " + flips.prefix(6).map { "\($0.from) → \($0.to) \($0.cases)" }.joined(separator: ", "))
      )
    }
    progress(
      1,
      message: "v\(version.version) " + (decision.promote ? "promoted" : "not promoted: " + decision.reason))
    return Outcome(
      version: try store.model(version: version.version), decision: decision,
      frozenVerified: trained.frozenVerified, predicted: predicted)
  }

  /// The parent (the job's, else the promoted model) and a local copy of its weights, checked
  /// against the registry's SHA-256 (a shared workspace's come out of the database).
  private func parentModel(of job: TrainingJob) throws -> (ModelVersion, String, MTACNNModel) {
    let parent: ModelVersion
    if let v = job.parentModel {
      parent = try store.model(version: v)
    } else if let p = try store.promotedModel() {
      parent = p
    } else {
      throw WorkflowError(
        "no model to retrain: promote one first (blastview predict --all-cases --model FILE)")
    }
    let file: String
    do { file = try store.verifiedModelFile(parent) } catch {
      throw WorkflowError(
        "model v\(parent.version): \(parent.file) is missing or differs from the registry (\(error))")
    }
    do { return (parent, file, try ModelCheckpoint.load(path: file).0) } catch { throw WorkflowError(error) }
  }

  /// Which tasks train, in the paper's order. A job's task names are read in either spelling
  /// (`ModelTask(stored:)`): jobs queued by older versions say `classification`/`segmentation`.
  static func stages(of job: TrainingJob, parent: ModelVersion, parentNet: MTACNNModel) throws(WorkflowError)
    -> [ModelTask]
  {
    var stages: [ModelTask] = []
    for name in job.tasks {
      guard let t = ModelTask(stored: name) else { throw WorkflowError("unknown task \(name)") }
      guard parentNet.tasks.contains(t) else {
        throw WorkflowError("model v\(parent.version) has no \(name) task: its corrections cannot train it")
      }
      if !stages.contains(t) { stages.append(t) }
    }
    stages.sort()
    guard !stages.isEmpty else { throw WorkflowError("the job names no task to train") }
    return stages
  }

  /// The gate: the candidate and the promoted model scored on the same validation cases.
  private func gate(
    candidate: String, parentNet: MTACNNModel, data: WorkspaceTrainingData.Loaded,
    settings: RetrainingSettings, frozenVerified: Bool?, trainedTasks: [String]
  ) throws -> (MTACNNModel, ValidationScores, ValidationGate.Decision) {
    progress(0.9, message: "validation gate")
    let candidateNet: MTACNNModel
    do { (candidateNet, _) = try ModelCheckpoint.load(path: candidate) } catch { throw WorkflowError(error) }
    let candidateScores = ValidationScores.score(candidateNet, on: data.validation, batch: settings.batch)
    let current = try store.promotedModel()
    var currentScores: ValidationScores? = nil
    if let current {
      let net: MTACNNModel
      // The gate compares against the promoted model as registered, never a file replaced since.
      let currentFile: String
      do { currentFile = try store.verifiedModelFile(current) } catch { throw WorkflowError(error) }
      do { (net, _) = try ModelCheckpoint.load(path: currentFile) } catch { throw WorkflowError(error) }
      let examples =
        net.configuration == parentNet.configuration
        ? data.validation
        : try WorkspaceTrainingData.load(store: store, model: net, parts: [.val], skipped: warn).validation
      currentScores = ValidationScores.score(net, on: examples, batch: settings.batch)
    }
    var decision = ValidationGate.decide(
      candidate: candidateScores, current: currentScores, currentVersion: current?.version,
      settings: GateSettings.resolve(store: store), trainedTasks: trainedTasks)
    if frozenVerified == false {
      decision.promote = false
      decision.verdict = "rejected"
      decision.reason = "frozen tensors changed during training: kept unpromoted (" + decision.reason + ")"
    }
    return (candidateNet, candidateScores, decision)
  }

  /// Fills `version`'s predictions, then promotes it (issue 15, item 5): a candidate whose
  /// predictions cannot be stored (NaN, infinite) is never promoted; the job fails saying why and
  /// the previous model stays promoted. The browser's badges follow once it is promoted. Returns
  /// the number of cases predicted.
  private func promoteAndPredict(
    _ version: ModelVersion, file: String, net: MTACNNModel, decision: ValidationGate.Decision
  ) throws -> Int {
    progress(0.95, message: "v\(version.version) passed the gate; predicting the cases")
    var last = Date.distantPast
    let summary = try WorkspacePredictions.fillThenPromote(
      store: store, version: version, net: net, batch: 16,
      colourReference: (try? ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: file)))?
        .colourReference,
      by: "retraining job \(jobID)", reason: decision.reason,
      progress: { done, total in
        guard Date().timeIntervalSince(last) >= 1 || done == total else { return }
        last = Date()
        progress(
          0.95 + 0.05 * Double(done) / Double(max(total, 1)),
          message: "v\(version.version) passed the gate; predictions \(done)/\(total)")
      },
      shouldStop: shouldStop, skipped: warn)
    return summary.predicted
  }

  /// What the retraining did to the cases it was corrected on: each corrected case's prediction
  /// by the parent and by the candidate, beside the label the correction gave (issue 18, item
  /// 5: a retrain must visibly do something or say why not). At most 200 cases are predicted.
  private func correctedCaseChanges(parent: ModelVersion, candidate: MTACNNModel, batch: Int) throws -> (
    lines: [String], json: JSONValue
  ) {
    let corrected = try store.correctedCases(since: parent, limit: 200)
    var decoded: [(CorrectedCase, RGBImage)] = []
    for c in corrected {
      guard let rec = try? store.caseRecord(id: c.caseID, viewer: .system),
        let image = try? store.trainingImage(rec)
      else { continue }
      decoded.append((c, image))
    }
    let images: [RGBImage] = decoded.map { $0.1 }
    let preds = Predictor(model: candidate, batchSize: batch).predict(images)
    let names = store.labelSchema.classNames
    var rows: [JSONValue] = []
    var lines: [String] = []
    var nowAgree = 0
    var changed = 0
    for ((c, _), p) in zip(decoded, preds) {
      let before = try? store.prediction(case: c.caseID, model: parent.version, viewer: .system)
      let after = p.predictedClass.map { names[$0] }
      let afterP = p.predictedClass.flatMap { p.probabilities?[$0] }
      if let l = c.label, after == l { nowAgree += 1 }
      if before?.label != after { changed += 1 }
      var row: [String: JSONValue] = ["case": .number(Double(c.caseID))]
      row["corrected_to"] = c.label.map { JSONValue.string($0) } ?? .null
      row["before"] = before.map { JSONValue.string($0.label) } ?? .null
      row["before_probability"] = before.map { JSONValue.number($0.confidence) } ?? .null
      row["after"] = after.map { JSONValue.string($0) } ?? .null
      row["after_probability"] = afterP.map { JSONValue.number($0) } ?? .null
      rows.append(.object(row))
      if lines.count < 10, let l = c.label {
        let was: String = before.map { String(format: "%@ %.2f", $0.label, $0.confidence) } ?? "no prediction"
        let now: String = after.map { String(format: "%@ %.2f", $0, afterP ?? Double.nan) } ?? "no prediction"
        lines.append("  case \(c.caseID), corrected to \(l): \(was) → \(now)")
      }
    }
    let labelled = corrected.filter { $0.label != nil }.count
    lines.insert(
      "Corrected cases (n \(decoded.count)): \(nowAgree) of \(labelled) with a corrected label now predicted as "
        + "corrected; \(changed) predictions differ from v\(parent.version)'s", at: 0)
    return (
      lines,
      .object([
        "n": .number(Double(decoded.count)), "now_as_corrected": .number(Double(nowAgree)),
        "changed": .number(Double(changed)), "cases": .array(rows),
      ])
    )
  }

  /// Labelled training images a workspace needs before a retraining fits its own colour
  /// reference instead of keeping the parent's.
  public static let minimumColourImages = 200

  /// The colour reference a retrained version carries, and where it came from (kept in its
  /// metrics as `training_data.colour_reference`).
  static func colourReference(train: [Example], validation: [Example], parent: ColourOutlierDetector?)
    -> (ColourOutlierDetector?, String)
  {
    let labelled = train.filter { $0.classIndex != nil && $0.colour != nil }.count
    if let parent, labelled < minimumColourImages {
      return (
        parent,
        "the parent's (the workspace has \(labelled) labelled training images, fewer than \(minimumColourImages))"
      )
    }
    if let fitted = ColourReference.fit(train: train, validation: validation) {
      return (fitted, "fitted on the workspace's \(labelled) labelled training images")
    }
    return (parent, parent == nil ? "none (too few images to fit one)" : "the parent's (no fit possible)")
  }

  /// A path as a POSIX shell word, quoted only when it needs it, so the printed hint runs.
  static func shellWord(_ s: String) -> String {
    let plain = s.unicodeScalars.allSatisfy {
      CharacterSet.alphanumerics.contains($0) && $0.isASCII || "/._-+:,@%".unicodeScalars.contains($0)
    }
    return plain && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }

  func progress(_ p: Double, message: String) {
    try? store.updateTrainingProgress(id: jobID, TrainingProgress(progress: p, message: message))
  }
}

/// Keeps a running job's heartbeat and the trainer lock fresh from a background thread, so the
/// stretches of a job that report no progress (loading a large workspace, validation, the
/// gate) never make it look dead to the reaper (10 minutes) or abandoned to a trainer on
/// another host.
final class JobHeartbeat: Sendable {
  private let running = Atomic<Bool>(true)

  init(store: any RetrainingStore, jobID: Int64, every seconds: Double = 30) {
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
