import ArgumentParser
import CaseStore
import Foundation
import MTACNN
import NeuralEngine
import Synchronization
import Terminal
import Workflows

/// Set by SIGINT: the trainer stops after the current batch and keeps the best checkpoint.
let trainingInterrupted = Atomic<Bool>(false)

/// `blastview train`: trains MTA-CNN from a folder per class (or the workspace's labels) and writes
/// the best checkpoint by validation loss.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train the MTA-CNN model; the best checkpoint by validation loss is written to --out.",
    discussion: """
      Data: --data DIR (a folder per class) with optional --masks, plus optional --seg-data/--seg-masks \
      (images that train segmentation only); or --from-workspace (the workspace's current labels, \
      adjudicated first, and its masks). The split is the stratified 80/10/10 hash split \
      (docs/checkpoint-format.md); validation drives early stopping, the test part is never read.

      --init FILE continues from a checkpoint (its weights and Adam state); with more --tasks than \
      it has, the new task reads from the old ones. --freeze cls|seg keeps a task's tensors (and \
      those it reads) byte-identical and trains the rest (the paper's incremental procedure: \
      --tasks cls, then --init cls.safetensors --tasks cls,seg --freeze cls).

      Ctrl-C (or SIGTERM) stops after the current batch; the best checkpoint so far is kept at --out.

      Retraining from the workspace's corrections (docs/retraining.md): --queue queues a job, \
      --job ID runs a queued job (what the review app starts with T), --watch is the headless loop \
      that queues and runs jobs as corrections arrive. One trainer per workspace: a second one is \
      refused with the holder's pid.
      """)

  @OptionGroup var folder: FolderDataOptions

  @Flag(help: "Train on the workspace's labels and masks instead of --data (see --workspace).")
  var fromWorkspace = false

  @OptionGroup var workspace: WorkspaceOptions

  @Option(
    name: .customLong("out"), help: ArgumentHelp("Where to write the best checkpoint.", valueName: "file"))
  var outOption: String?
  var out: String { outOption ?? "" }

  @OptionGroup var retraining: RetrainingModeOptions

  @Option(help: "Label schema: all4 (hierarchical) or wbc5 (flat).")
  var schema: String?

  @Option(help: "Input size S (a multiple of 16).")
  var size: Int?

  @Option(name: .customLong("epochs"), help: "Maximum epochs (default 50; a retraining: 10).")
  var epochsOption: Int?
  var epochs: Int { epochsOption ?? 50 }

  @Option(name: .customLong("batch"), help: "Batch size (default 32).")
  var batchOption: Int?
  var batch: Int { batchOption ?? 32 }

  @Option(name: .customLong("lr"), help: "Adam learning rate (default 0.001; a retraining: 0.0003).")
  var lrOption: Float?
  var lr: Float { lrOption ?? 1e-3 }

  @Option(help: "Learning-rate schedule: constant or cosine.")
  var lrSchedule = "constant"

  @Option(
    name: .customLong("patience"),
    help: "Early stopping: epochs without a lower validation loss (default 10; a retraining: 3).")
  var patienceOption: Int?
  var patience: Int { patienceOption ?? 10 }

  @Option(help: "Tasks: cls, seg or cls,seg.")
  var tasks: String?

  @Option(
    help: "Task-to-task connections of a new model: both, none, seg-from-cls (seg reads cls), cls-from-seg.")
  var ttc = "both"

  @Option(name: .customLong("init"), help: ArgumentHelp("Checkpoint to continue from.", valueName: "file"))
  var initFrom: String?

  @Option(help: "Task to keep frozen: cls or seg.")
  var freeze: String?

  @Option(help: "Seed of initialisation, shuffling, augmentation and dropout.")
  var seed: UInt64 = 0

  @Option(help: "Threads (default: the number of CPUs).")
  var threads: Int?

  @Option(help: "Blank the scale-bar corner: auto (on for all4), on or off.")
  var blankCorner = "auto"

  @Option(help: "Stain normalisation fitted on training images: none, reinhard or macenko.")
  var stainNorm = "none"

  @Option(
    help: ArgumentHelp(
      "Augmentation preset: none, geometric (flips, 90° turns) or colour (geometric plus the issue-10 colour and stain jitter; default for all4).",
      valueName: "preset"))
  var augment: String?

  @Option(help: "Hue rotation range in degrees (overrides the preset).")
  var hue: Double?
  @Option(help: "Saturation jitter s: factor in [1-s, 1+s].")
  var sat: Double?
  @Option(help: "Brightness jitter.")
  var bright: Double?
  @Option(help: "Contrast jitter.")
  var contrast: Double?
  @Option(help: "Probability of grayscale.")
  var grayP: Double?
  @Option(help: "HED stain scale jitter.")
  var hedScale: Double?
  @Option(help: "HED stain shift jitter.")
  var hedShift: Double?
  @Option(help: "Zoom jitter s: about the centre by a factor log-uniform in [1/(1+s), 1+s] (0: off).")
  var scale: Double?

  @Option(
    help: ArgumentHelp(
      "Stage dropout: before-norm (the paper's order: each stage ends with dropout, feeding the next batch norm) or after-norm (dropout only after the last batch norm, in the classification head).",
      valueName: "order"))
  var dropoutOrder = "before-norm"

  @Option(
    help: ArgumentHelp(
      "After each epoch recompute the batch-norm statistics from training batches without dropout: off, report (validate both ways, keep the trained statistics) or apply (keep the recomputed ones; early stopping uses them).",
      valueName: "mode"))
  var bnRecalibration = "off"

  @Option(help: "Training batches the batch-norm recalibration averages over (default 16).")
  var bnRecalibrationBatches = 16

  @Option(
    help: ArgumentHelp(
      "Classification loss weights: balanced (n / (classes · n_class) over the training labels) or CLASS=W pairs, e.g. Early=2 (unnamed classes 1).",
      valueName: "weights"))
  var classWeights: String?

  @OptionGroup var segmentation: SegmentationTrainingOptions

  @Option(help: ArgumentHelp("Stop each epoch after N batches (smoke tests).", visibility: .hidden))
  var maxBatches: Int?

  @Flag(help: "Print one JSON object per epoch and a JSON summary instead of text.")
  var json = false

  func validate() throws {
    if retraining.isRetraining {
      try validateRetraining()
      return
    }
    if outOption == nil { throw ValidationError("give --out FILE (or --job ID, --watch, --queue)") }
    try folder.validateCombination()
    if fromWorkspace == (folder.data != nil) {
      throw ValidationError("give either --data DIR or --from-workspace")
    }
    if let size, size < 16 || size % 16 != 0 {
      throw ValidationError("--size must be a positive multiple of 16, got \(size)")
    }
    guard epochs >= 1, batch >= 1, patience >= 1 else {
      throw ValidationError("--epochs, --batch and --patience must be at least 1")
    }
    guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    guard LearningRateSchedule(rawValue: lrSchedule) != nil else {
      throw ValidationError("--lr-schedule must be constant or cosine")
    }
    guard CornerBlanking(rawValue: blankCorner) != nil else {
      throw ValidationError("--blank-corner must be auto, on or off")
    }
    guard StainNormalisationMethod(rawValue: stainNorm) != nil else {
      throw ValidationError("--stain-norm must be none, reinhard or macenko")
    }
    guard TaskConnections(rawValue: ttc) != nil else {
      throw ValidationError("--ttc must be both, none, seg-from-cls or cls-from-seg")
    }
    if let augment, !["none", "geometric", "colour", "color"].contains(augment) {
      throw ValidationError("--augment must be none, geometric or colour")
    }
    for (name, v) in [
      ("hue", hue), ("sat", sat), ("bright", bright), ("contrast", contrast), ("hed-scale", hedScale),
      ("hed-shift", hedShift), ("scale", scale),
    ] {
      if let v, !(v >= 0 && v.isFinite) { throw ValidationError("--\(name) must be a non-negative number") }
    }
    if let grayP, !(0...1).contains(grayP) { throw ValidationError("--gray-p must be in [0, 1]") }
    try segmentation.validateOptions()
    guard DropoutOrder(rawValue: dropoutOrder) != nil else {
      throw ValidationError(
        "--dropout-order must be before-norm or after-norm, got \(Sanitizer.sanitize(dropoutOrder))")
    }
    guard BatchNormRecalibration(rawValue: bnRecalibration) != nil else {
      throw ValidationError(
        "--bn-recalibration must be off, report or apply, got \(Sanitizer.sanitize(bnRecalibration))")
    }
    guard bnRecalibrationBatches >= 1 else {
      throw ValidationError("--bn-recalibration-batches must be at least 1")
    }
  }

  func augmentation(schema: String) -> AugmentationConfig {
    var a: AugmentationConfig
    switch augment {
    case "none": a = AugmentationConfig(flip: false, rot90: false)
    case "colour", "color": a = .colour
    case "geometric": a = .geometric
    default: a = .standard(forSchema: schema)
    }
    if let hue { a.hueDegrees = hue }
    if let sat { a.saturation = sat }
    if let bright { a.brightness = bright }
    if let contrast { a.contrast = contrast }
    if let grayP { a.grayProbability = grayP }
    if let hedScale { a.hedScale = hedScale }
    if let hedShift { a.hedShift = hedShift }
    if let scale { a.scale = scale }
    return a
  }

  func run() throws {
    if retraining.isRetraining {
      try runRetraining()
      return
    }
    Threads.set(threads ?? Threads.available)
    let started = Date()
    // One store (on PostgreSQL, one connection) for the schema and the examples, closed once they
    // are read: a training run must not hold a database connection for its hours.
    var store = fromWorkspace ? try workspace.openRetrainingStore() : nil
    var (model, initFile) = try makeModel(store: store)
    let frozen =
      try freeze.map { text throws -> Set<ModelTask> in
        do { return Set(try ModelTask.parseList(text)) } catch { throw CLIError(error) }
      } ?? []
    do { try model.freeze(frozen) } catch { throw CLIError(error) }

    let data = try loadData(model: model, store: store)
    store = nil
    // Stain normalisation is fitted once, on (a seeded sample of) the training images.
    if initFrom == nil, let method = StainNormalisationMethod(rawValue: stainNorm), method != .none {
      do {
        model = try ModelRecipe.withStainNormalisation(method, model: model, train: data.train, seed: seed)
      } catch { throw CLIError(error) }
    }
    // The colour reference (issue 10's "colour unlike the training data" warning) from the
    // training images, thresholded on validation; carried over from --init when none can be fitted.
    let colourReference = TrainingRun.colourReference(
      train: data.train, validation: data.validation, fallback: initFile)
    if !json {
      let labelled = data.train.filter { $0.classIndex != nil }.count
      let masked = data.train.filter { $0.mask != nil }.count
      printError(
        "train: \(data.train.count) images (\(labelled) labelled, \(masked) with masks); val: \(data.validation.count); "
          + "tasks \(model.tasks.map(\.rawValue).joined(separator: ",")), trained \(model.trainedTasks.map(\.rawValue).joined(separator: ","))"
          + (frozen.isEmpty ? "" : ", frozen \(frozen.sorted().map(\.rawValue).joined(separator: ","))")
          + "; S = \(model.size), \(CLIText.count(model.parameterCount)) parameters, \(Threads.count) threads"
      )
    }

    // Optimiser (continuing --init's Adam state for the parameters that train).
    var options = trainingOptions(schema: model.configuration.schema)
    if let classWeights {
      do {
        options.classWeights = try ClassWeights.parse(
          classWeights, schema: model.schema, trainingLabels: data.train.compactMap(\.classIndex))
      } catch { throw CLIError(error) }
      if !json {
        let shown = zip(model.schema.classes, options.classWeights!).map {
          "\($0)=\(String(format: "%.3g", $1))"
        }
        printError("class weights: \(shown.joined(separator: ", "))")
      }
    }
    let run: TrainingRun
    do {
      run = try TrainingRun(
        model: model, continuing: initFile, options: options, train: data.train, validation: data.validation)
    } catch { throw CLIError(error) }
    var record = TrainingRecord(
      command: self, started: started, options: options, model: model, frozen: frozen, data: data)

    installInterruptHandlers()
    defer {
      signal(SIGINT, SIG_DFL)
      signal(SIGTERM, SIG_DFL)
    }
    let progress = TrainingProgressPrinter(quiet: json, trained: Set(model.trainedTasks))
    if run.continuedTensors > 0 && !json {
      printError("continuing Adam state of \(run.continuedTensors) parameter tensors from --init")
    }
    let result: TrainingResult
    do {
      result = try run.run(
        savingTo: out, colourReference: colourReference, record: { record.json(best: $0, including: $0) },
        events: { event in
          if case .epoch(let rec) = event { record.history.append(rec) }
          progress.handle(event, json: json)
        },
        shouldStop: { trainingInterrupted.load(ordering: .relaxed) })
    } catch {
      progress.finish()
      throw CLIError(
        message: "\(error)"
          + (record.history.contains { $0.improved } ? "; the best checkpoint so far is at \(out)" : ""))
    }
    progress.finish()
    try report(result, record: record, trained: Set(model.trainedTasks))
  }

  /// The model to train: new, or continued from --init (whose configuration the other model
  /// options must not contradict). `store` is the workspace's (with --from-workspace), whose
  /// label schema a new model takes.
  private func makeModel(store: (any RetrainingStore)?) throws -> (MTACNNModel, SafeTensorsFile?) {
    let requestedTasks = try tasks.map { text throws -> [ModelTask] in
      do { return try ModelTask.parseList(text) } catch { throw CLIError(error) }
    }
    guard let initFrom else {
      let schemaName = schema ?? store?.labelSchema.name ?? "all4"
      do {
        let model = try ModelRecipe.newModel(
          schema: try modelSchema(named: schemaName, store: store), size: size ?? 128,
          tasks: requestedTasks ?? [.cls, .seg],
          connections: TaskConnections(rawValue: ttc)!, blankCorner: CornerBlanking(rawValue: blankCorner)!,
          seed: seed, segStem: segmentation.segStem)
        return (model, nil)
      } catch let e as CLIError { throw e } catch { throw CLIError(error) }
    }
    let file: SafeTensorsFile
    let c: ModelConfiguration
    do {
      file = try SafeTensorsFile.read(path: initFrom)
      c = try ModelCheckpoint.metadata(of: file).configuration
    } catch { throw CLIError(error) }
    if let schema, schema != c.schema {
      throw CLIError(message: "--schema \(schema) differs from --init's \(c.schema)")
    }
    if let size, size != c.size {
      throw CLIError(message: "--size \(size) differs from --init's \(c.size)")
    }
    if blankCorner != "auto" || stainNorm != "none" {
      throw CLIError(
        message: "--blank-corner and --stain-norm come from --init's configuration; leave them out")
    }
    let old = c.tasks.compactMap(ModelTask.init(rawValue:))
    guard Set(old).isSubset(of: Set(requestedTasks ?? old)) else {
      throw CLIError(
        message: "--tasks must include --init's tasks (\(old.map(\.rawValue).joined(separator: ",")))")
    }
    do {
      return (
        try ModelRecipe.continued(
          from: file, tasks: requestedTasks, seed: seed, segStem: segmentation.segStem), file
      )
    } catch {
      throw CLIError(error)
    }
  }

  /// The training and validation examples (the test part is never read) and where they came
  /// from, for the checkpoint's record.
  private func loadData(model: MTACNNModel, store: (any RetrainingStore)?) throws -> TrainingExamples {
    var d = TrainingExamples()
    if let store {
      let loaded = try loadWorkspaceTrainingData(store: store, model: model, quiet: json)
      d.train = loaded.train
      d.validation = loaded.validation
      d.source["workspace"] = store.workspace.directory
      if let shared = store as? PostgresStore { d.source["database"] = shared.connection.displayTarget }
      d.source["through_annotation"] = String(loaded.throughAnnotation)
      return d
    }
    let (ds, kind) = try folder.folderDataset(schema: model.schema)
    let pre = model.configuration.preprocessing
    d.train = loadExamples(
      ds.items(in: .train), preprocessing: pre, maskKind: kind, label: "train", quiet: json)
    d.validation = loadExamples(
      ds.items(in: .val), preprocessing: pre, maskKind: kind, label: "val", quiet: json)
    d.source["data"] = absolute(folder.data!)
    if let m = folder.masks {
      d.source["masks"] = absolute(m)
      d.source["mask_kind"] = kind?.rawValue
    }
    if let (sds, skind) = try folder.segmentationDataset() {
      d.train += loadExamples(
        sds.items(in: .train), preprocessing: pre, maskKind: skind, withLabels: false, label: "seg train",
        quiet: json)
      d.validation += loadExamples(
        sds.items(in: .val), preprocessing: pre, maskKind: skind, withLabels: false, label: "seg val",
        quiet: json)
      d.source["seg_data"] = absolute(folder.segData!)
      d.source["seg_masks"] = absolute(folder.segMasks!)
      d.source["seg_mask_kind"] = skind.rawValue
    }
    return d
  }

  private func trainingOptions(schema: String) -> TrainingOptions {
    var options = TrainingOptions()
    options.epochs = epochs
    options.batchSize = batch
    options.learningRate = lr
    options.schedule = LearningRateSchedule(rawValue: lrSchedule)!
    options.patience = patience
    options.seed = seed
    options.augmentation = augmentation(schema: schema)
    options.maxBatchesPerEpoch = maxBatches
    segmentation.apply(to: &options)
    options.dropoutOrder = DropoutOrder(rawValue: dropoutOrder)!
    options.batchNormRecalibration = BatchNormRecalibration(rawValue: bnRecalibration)!
    options.recalibrationBatches = bnRecalibrationBatches
    return options
  }

  /// Ctrl-C (or SIGTERM, e.g. from a job runner): stop after the batch, keep the best checkpoint.
  /// A second signal ends the process at once. The signals are unblocked first: a parent that
  /// blocks them (test runners, some job launchers) passes its mask on to its children.
  private func installInterruptHandlers() {
    trainingInterrupted.store(false, ordering: .relaxed)
    for sig in [SIGINT, SIGTERM] {
      signal(sig) { s in
        if trainingInterrupted.load(ordering: .relaxed) {
          signal(s, SIG_DFL)
          raise(s)
          return
        }
        trainingInterrupted.store(true, ordering: .relaxed)
        let msg: StaticString = "\nstopping after this batch (Ctrl-C again to abort at once)\n"
        _ = write(STDERR_FILENO, msg.utf8Start, msg.utf8CodeUnitCount)
      }
    }
    var unblock = sigset_t()
    sigemptyset(&unblock)
    sigaddset(&unblock, SIGINT)
    sigaddset(&unblock, SIGTERM)
    sigprocmask(SIG_UNBLOCK, &unblock, nil)
  }

  /// Rewrites the best checkpoint's record with the whole history (its tensors are unchanged)
  /// and prints how the training ended.
  private func report(_ result: TrainingResult, record: TrainingRecord, trained: Set<ModelTask>) throws {
    let best = result.epochs.first { $0.epoch == result.bestEpoch }
    if best != nil, let file = try? SafeTensorsFile.read(path: out) {
      try? rewriteTrainingRecord(file, path: out, json: record.json(best: best))
    }
    if json {
      try JSONOutput.print(
        TrainSummary(
          ending: result.ending.rawValue, out: best != nil ? absolute(out) : nil,
          bestEpoch: result.bestEpoch,
          bestValidationLoss: result.bestValidationLoss, seconds: result.seconds, epochs: result.epochs))
    } else {
      switch result.ending {
      case .completed: print("finished \(result.epochs.count) epochs in \(formatDuration(result.seconds))")
      case .earlyStopped:
        print(
          "stopped early after epoch \(result.epochs.count): no lower validation loss for \(patience) epochs")
      case .interrupted: print("interrupted during epoch \(result.epochs.count + 1)")
      }
      if let best {
        print(
          "best checkpoint (epoch \(best.epoch), "
            + (ValidationLossText.text(best, trained: trained) ?? "train loss \(fmt(best.trainLoss))")
            + ") saved at \(Sanitizer.sanitize(absolute(out)))"
        )
      } else {
        print("no epoch finished: nothing was saved")
      }
    }
    if result.ending == .interrupted { throw ExitCode(130) }
  }

  /// all4, wbc5, or (from a workspace) its custom schema.
  private func modelSchema(named name: String, store: (any RetrainingStore)?) throws -> ClassSchema {
    if let s = ClassSchema.named(name) { return s }
    if let store {
      return WorkspaceTrainingData.classSchema(store.labelSchema)
    }
    throw CLIError(message: "unknown schema \(name) (all4 or wbc5)")
  }
}

struct TrainSummary: Encodable {
  var ending: String
  var out: String?
  var bestEpoch: Int?
  var bestValidationLoss: Double?
  var seconds: Double
  var epochs: [EpochRecord]

  enum CodingKeys: String, CodingKey {
    case ending, out, seconds, epochs
    case bestEpoch = "best_epoch"
    case bestValidationLoss = "best_val_loss"
  }
}

/// The progress bar (epoch, batch, loss, images/s, ETA) on a terminal, one log line per epoch, and
/// a plain progress line a minute when stderr is not a terminal (logs of background runs).
final class TrainingProgressPrinter {
  let quiet: Bool
  /// The tasks being trained: their validation loss is printed only when the validation data
  /// have something for them ("no validation masks" otherwise, never a fake 0.0000).
  let trained: Set<ModelTask>
  let tty = isatty(STDERR_FILENO) == 1
  private var lastPlain = Date()
  private var drawn = false

  init(quiet: Bool, trained: Set<ModelTask>) {
    self.quiet = quiet
    self.trained = trained
  }

  func handle(_ e: TrainingEvent, json: Bool) {
    switch e {
    case .batch(let epoch, let epochs, let b, let nb, let loss, let rate, let eta):
      guard !quiet else { return }
      let line = String(
        format: "epoch %d/%d  batch %d/%d  loss %.4f  %.1f img/s  ETA %@", epoch, epochs, b, nb, loss, rate,
        (eta.map(formatDuration) ?? "?") as NSString)
      if tty {
        let width = 24
        let filled = min(width, b * width / max(nb, 1))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r\u{1B}[K[\(bar)] \(line)".utf8))
        drawn = true
      } else if Date().timeIntervalSince(lastPlain) >= 60 {
        lastPlain = Date()
        printError(line)
      }
    case .validating(let epoch):
      if tty && !quiet {
        FileHandle.standardError.write(Data("\r\u{1B}[Kepoch \(epoch): validating".utf8))
        drawn = true
      }
    case .epoch(let r):
      finish()
      if json {
        try? JSONOutput.print(r)
        return
      }
      var parts = [String(format: "epoch %d/%d  train loss %.4f", r.epoch, r.epochs, r.trainLoss)]
      if let v = ValidationLossText.text(r, trained: trained) { parts.append(v) }
      if let a = r.validationAccuracy { parts.append(String(format: "val acc %.4f", a)) }
      if let f = r.validationMacroF1 { parts.append(String(format: "macro-F1 %.4f", f)) }
      if let d = r.validationDice { parts.append(String(format: "Dice %.4f", d)) }
      if let a = r.recalibratedValidationAccuracy {
        parts.append(
          String(
            format: "recalibrated BN: val loss %.4f val acc %.4f", r.recalibratedValidationLoss ?? .nan, a))
      }
      parts.append(
        String(
          format: "lr %.2g  %@  %.1f img/s", r.learningRate, formatDuration(r.seconds) as NSString,
          r.imagesPerSecond))
      if r.improved { parts.append("saved") }
      print(parts.joined(separator: "  "))
      fflush(nil)
    case .earlyStop, .interrupted:
      finish()
    }
  }

  func finish() {
    if drawn && tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    drawn = false
  }
}

/// Rewrites only the `training` metadata of a checkpoint (same tensors, same bytes for them).
func rewriteTrainingRecord(_ file: SafeTensorsFile, path: String, json: String) throws {
  var meta = file.metadata
  meta["training"] = json
  var tensors: [(String, Tensor)] = []
  for e in file.entries {
    let t = Tensor(shape: e.shape)
    try file.read(e, into: t)
    tensors.append((e.name, t))
  }
  try SafeTensorsWriter.write(tensors, metadata: meta, to: path)
}

func fmt(_ v: Double) -> String { String(format: "%.4f", v) }

func absolute(_ path: String) -> String {
  URL(fileURLWithPath: path).standardizedFileURL.path
}
