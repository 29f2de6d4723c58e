import ArgumentParser
import CaseStore
import FileSafety
import Foundation
import Imaging
import MTACNN
import NeuralEngine
import Terminal
import Workflows

/// `blastview predict`: class probabilities, P(malignant), nucleus count and boxes per image; or,
/// with --all-cases, the workspace's predictions (what the review screen shows).
struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Predict the class and the nuclei of images, or of every case of a workspace.",
    discussion: """
      IMAGE...: per image the class probabilities, the predicted class, P(malignant) (all4), the \
      screening call (all4: "possibly malignant" when P(malignant) reaches the model's operating \
      point, chosen on validation (the rule it was chosen by is printed with it); separate from the predicted class, which \
      stays the most probable one), the nucleus count and boxes (pixels of the image); --masks-out writes each nucleus mask as PNG.

      --all-cases: predicts every case of the workspace that has no prediction from the model yet \
      and stores the predictions (probabilities, nucleus mask, boxes). --model FILE is registered \
      in the workspace first (once; the same file is recognised by its SHA-256) and promoted when \
      no model is promoted yet or with --promote; without --model the promoted model is used.
      """)

  @Option(
    help: ArgumentHelp(
      "The checkpoint (with --all-cases: default, the workspace's promoted model).", valueName: "file"))
  var model: String?

  @Argument(help: ArgumentHelp("Image files.", valueName: "image"))
  var images: [String] = []

  @Option(help: ArgumentHelp("Write each image's nucleus mask (0/255 PNG) here.", valueName: "dir"))
  var masksOut: String?

  @Flag(help: "Predict every case of the workspace that the model has not predicted yet.")
  var allCases = false

  @Flag(help: "With --all-cases and --model: promote the model in the workspace.")
  var promote = false

  @OptionGroup var workspace: WorkspaceOptions
  /// Who is asking: an image of a case whose model output a session hides from this rater
  /// (`--hide-model`) is not predicted for them.
  @OptionGroup var rater: RaterOption

  @Option(help: "Images per batch.")
  var batch = 16

  @Flag(
    help:
      "Test-time augmentation: average the class probabilities over the 8 flips and quarter turns (8x the time)."
  )
  var tta = false

  @Option(help: "Threads (default: the number of CPUs).")
  var threads: Int?

  @Flag(help: "Print JSON.")
  var json = false

  func validate() throws {
    if allCases {
      if !images.isEmpty { throw ValidationError("give images or --all-cases, not both") }
      if masksOut != nil {
        throw ValidationError("--masks-out is for images (the workspace stores masks itself)")
      }
      if tta {
        throw ValidationError("--tta is for images (the workspace's predictions are made without it)")
      }
    } else {
      if images.isEmpty { throw ValidationError("give image files (or --all-cases)") }
      if model == nil { throw ValidationError("give --model FILE") }
      if promote { throw ValidationError("--promote goes with --all-cases") }
    }
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
  }

  func run() throws {
    Threads.set(threads ?? Threads.available)
    if allCases {
      try predictWorkspace()
      return
    }
    let net: MTACNNModel
    let meta: CheckpointMetadata
    do { (net, meta) = try ModelCheckpoint.load(path: model!) } catch { throw CLIError(error) }
    let predictor = Predictor(model: net, batchSize: batch, colourReference: meta.colourReference)
    predictor.testTimeAugmentation = tta
    if let masksOut {
      do {
        try FileManager.default.createDirectory(atPath: masksOut, withIntermediateDirectories: true)
      } catch {
        throw CLIError(message: "cannot create \(masksOut): \(error.localizedDescription)")
      }
    }
    var results: [ImageResult] = []
    var failed = 0
    let store =
      FileManager.default.fileExists(atPath: workspace.resolved.databasePath) ? try? workspace.open() : nil
    // Decode and predict in groups, so memory stays bounded for long lists.
    var start = 0
    while start < images.count {
      let paths = Array(images[start..<min(images.count, start + 64)])
      start += 64
      var decoded: [(String, RGBImage)] = []
      for p in paths {
        do {
          if let store, let id = try store.caseWithHiddenModel(imageFile: p, viewer: .rater(rater.name)) {
            printError(
              "skipped \(Sanitizer.sanitize(p)): it is the image of case \(id), whose model output is hidden from "
                + "\(Sanitizer.sanitize(rater.name)) until they label it in their session (--hide-model)")
            failed += 1
            continue
          }
          decoded.append((p, try decodeImage(at: p)))
        } catch {
          printError("skipped \(Sanitizer.sanitize(String(describing: error)))")
          failed += 1
        }
      }
      let preds = predictor.predict(decoded.map(\.1))
      for ((path, _), p) in zip(decoded, preds) {
        var maskFile: String? = nil
        if let masksOut, let m = p.nucleusMask {
          let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
          let out = (masksOut as NSString).appendingPathComponent(stem + "_nucleus.png")
          do { try writePNG(m, to: out) } catch { throw CLIError(error) }
          maskFile = out
        }
        results.append(
          ImageResult(
            path: path, prediction: p, schema: net.schema, maskFile: maskFile,
            operatingPoint: meta.operatingPoint))
      }
    }
    if json {
      try JSONOutput.print(results)
    } else {
      for r in results { print(r.text) }
    }
    if failed > 0 { throw ExitCode(1) }
  }

  /// Registers/promotes as asked, then predicts every case missing a prediction of that version.
  private func predictWorkspace() throws {
    // A shared workspace's predictions are its service role's to store (the trainer's role).
    let store = try workspace.openRetrainingStore()
    let version: ModelVersion
    var promoteAfter = false
    do {
      if let model {
        version = try ModelRegistration.register(
          store: store, file: model, notes: "registered by blastview predict from \(absolute(model))")
        let current = try store.promotedModel()?.version
        // Promoted only after its predictions exist and are finite (below).
        promoteAfter = current != version.version && (promote || current == nil)
        // Asked for by name: a failure recorded earlier is tried again.
        try store.clearPredictionFailure(model: version.version)
      } else {
        guard let p = try store.promotedModel() else {
          throw CLIError(message: "the workspace has no promoted model: give --model FILE")
        }
        version = p
      }
    } catch let e as CLIError {
      throw e
    } catch {
      throw CLIError(error)
    }
    // One predictor per model version at a time (review apps start one in the background).
    let lock = PredictionLock.acquire(store: store, version: version.version)
    defer { lock?.release() }
    if lock == nil {
      if json {
        try JSONOutput.print(WorkspacePredictSummary(model: version.version, predicted: 0, skipped: 0))
      } else {
        print("model v\(version.version): another process is already predicting with it; nothing to do")
      }
      return
    }
    // The registered file must still be the one registered: one replaced in place is refused,
    // never used for predictions stored under this version.
    let file: String
    do { file = try store.verifiedModelFile(version) } catch { throw CLIError(error) }
    let net: MTACNNModel
    let meta: CheckpointMetadata
    do {
      (net, meta) = try loadModel(file)
    } catch {
      // A background predictor for a model that cannot load must not be restarted by every review.
      try? store.recordPredictionFailure(model: version.version, message: String(describing: error))
      throw error
    }
    let bar = ProgressBar(label: "predict", enabled: !json && isatty(STDERR_FILENO) == 1)
    let summary: WorkspacePredictions.Summary
    do {
      if promoteAfter {
        summary = try WorkspacePredictions.fillThenPromote(
          store: store, version: version, net: net, batch: batch, colourReference: meta.colourReference,
          by: defaultRaterName(), reason: "blastview predict --all-cases",
          progress: { bar.update(done: $0, total: $1) }, skipped: { printError($0) })
      } else {
        summary = try WorkspacePredictions.fill(
          store: store, version: version, net: net, batch: batch, colourReference: meta.colourReference,
          progress: { bar.update(done: $0, total: $1) }, skipped: { printError($0) })
      }
    } catch {
      bar.finish()
      // fillThenPromote records its own failure; the background predictor's is recorded here.
      if !promoteAfter { try? store.recordPredictionFailure(model: version.version, message: error.message) }
      throw CLIError(error)
    }
    let done = summary.predicted
    let skipped = summary.skipped
    bar.finish()
    let overall: PredictionSummary
    do { overall = try store.predictionSummary(model: version.version) } catch { throw CLIError(error) }
    if json {
      try JSONOutput.print(
        WorkspacePredictSummary(
          model: version.version, predicted: done, skipped: skipped, classes: overall.counts,
          colourOutliers: overall.colourOutliers))
    } else {
      print(
        "model v\(version.version): \(done) cases predicted, \(skipped) skipped"
          + (promoteAfter ? "; v\(version.version) promoted" : ""))
      print(Self.summaryText(overall))
    }
  }

  private func loadModel(_ path: String) throws -> (MTACNNModel, CheckpointMetadata) {
    do { return try ModelCheckpoint.load(path: path) } catch { throw CLIError(error) }
  }

  /// Counts per class by the schema's names, and the colour outliers (issue 18): what the
  /// model now says about the whole workspace.
  static func summaryText(_ s: PredictionSummary) -> String {
    let total = s.counts.reduce(0) { $0 + $1.cases }
    var lines = [
      "  predicted classes over \(CLIText.count(total)) case(s): "
        + s.counts.map {
          "\(Sanitizer.sanitize($0.label)) \(CLIText.count($0.cases))"
        }
        .joined(separator: " · ")
    ]
    if s.colourOutliers.isEmpty {
      lines.append("  colour: every case is like the model's training images")
    } else {
      let shown = s.colourOutliers.prefix(12).map { "#\($0)" }.joined(separator: ", ")
      let more = s.colourOutliers.count > 12 ? " and \(s.colourOutliers.count - 12) more" : ""
      lines.append(
        "  colour unlike the model's training images (predictions less reliable): \(CLIText.count(s.colourOutliers.count)) case(s): \(shown)\(more)"
      )
    }
    return lines.joined(separator: "\n")
  }
}

struct WorkspacePredictSummary: Encodable {
  var model: Int64
  var predicted: Int
  var skipped: Int
  var classes: [PredictionSummary.ClassCount]? = nil
  var colourOutliers: [Int64]? = nil
}

/// One image's prediction as printed.
struct ImageResult: Encodable {
  struct Box: Encodable {
    var x: Int
    var y: Int
    var width: Int
    var height: Int
    var score: Double
  }
  var image: String
  var probabilities: [String: Double]?
  var predicted: String?
  var pMalignant: Double?
  var nuclei: Int?
  var boxes: [Box]?
  var mask: String?
  var colourDistance: Double?
  var colourUnusual: Bool?
  var screening: Screening?

  /// The screening call of a hierarchical model, apart from the argmax `predicted`.
  struct Screening: Encodable {
    /// Nil when the model has no operating point.
    var possiblyMalignant: Bool?
    var threshold: Double?
    var targetSensitivity: Double?
    /// Present when the point was chosen with a specificity floor as well.
    var minSpecificity: Double?
    var note: String

    enum CodingKeys: String, CodingKey {
      case threshold, note
      case possiblyMalignant = "possibly_malignant"
      case targetSensitivity = "target_sensitivity"
      case minSpecificity = "min_specificity"
    }

    func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(possiblyMalignant, forKey: .possiblyMalignant)
      try c.encode(threshold, forKey: .threshold)
      try c.encode(targetSensitivity, forKey: .targetSensitivity)
      try c.encodeIfPresent(minSpecificity, forKey: .minSpecificity)
      try c.encode(note, forKey: .note)
    }

    init(pMalignant: Double, point: OperatingPoint?) {
      guard let point else {
        note = "no operating point in this model: no screening call (the predicted class is the argmax)"
        return
      }
      possiblyMalignant = point.isPossiblyMalignant(pMalignant)
      threshold = point.threshold
      targetSensitivity = point.targetSensitivity
      minSpecificity = point.minSpecificity
      note =
        (possiblyMalignant! ? "possibly malignant" : "below the operating point")
        + String(
          format: ": P(malignant) %.4g %@ %.4g, the threshold chosen on %@ for %@; "
            + "separate from the predicted class (the argmax)", pMalignant, possiblyMalignant! ? ">=" : "<",
          point.threshold, point.split, point.rule)
    }
  }

  enum CodingKeys: String, CodingKey {
    case image, probabilities, predicted, nuclei, boxes, mask, screening
    case pMalignant = "p_malignant"
    case colourDistance = "colour_distance"
    case colourUnusual = "colour_unusual"
  }

  private var order: [String] = []

  /// The model's class names as the label schemas show them (issue 18: the all4 checkpoint
  /// says "Early", "Pre", "Pro" where a workspace says Early-B, Pre-B, Pro-B). Names no shipped
  /// schema knows are kept.
  static func displayNames(_ names: [String]) -> [String] {
    for schema in [LabelSchema.all4, LabelSchema.wbc5] where schema.classes.count == names.count {
      let mapped = names.compactMap { schema.resolve($0)?.name }
      if mapped.count == names.count && Set(mapped).count == names.count { return mapped }
    }
    return names
  }

  init(
    path: String, prediction p: ImagePrediction, schema: ClassSchema, maskFile: String?,
    operatingPoint: OperatingPoint? = nil
  ) {
    image = path
    let names = ImageResult.displayNames(schema.classes)
    if let probs = p.probabilities {
      probabilities = Dictionary(uniqueKeysWithValues: zip(names, probs))
      predicted = p.predictedClass.map { names[$0] }
    }
    pMalignant = p.pMalignant
    if let pm = p.pMalignant, schema.hierarchical {
      screening = Screening(pMalignant: pm, point: operatingPoint)
    }
    if p.nucleusMask != nil {
      nuclei = p.detections.count
      boxes = p.detections.map {
        Box(x: $0.box.x, y: $0.box.y, width: $0.box.width, height: $0.box.height, score: $0.score)
      }
    }
    mask = maskFile
    colourDistance = p.colourDistance
    colourUnusual = p.colourUnusual
    order = names
  }

  var text: String {
    var lines = [Sanitizer.sanitize(image)]
    if let probabilities, let predicted {
      let probs = order.map {
        String(format: "%@ %.3f", Sanitizer.sanitize($0) as NSString, probabilities[$0] ?? 0)
      }
      lines.append("  predicted \(Sanitizer.sanitize(predicted))   " + probs.joined(separator: "  "))
    }
    if let pMalignant { lines.append(String(format: "  P(malignant) %.3f", pMalignant)) }
    if let screening {
      lines.append(
        "  screening: " + (screening.possiblyMalignant == true ? "POSSIBLY MALIGNANT - " : "")
          + Sanitizer.sanitize(screening.note))
    }
    if let nuclei, let boxes {
      lines.append(
        "  nuclei \(nuclei)" + (boxes.isEmpty ? "" : ": ")
          + boxes.map {
            String(format: "[%d,%d %dx%d %.2f]", $0.x, $0.y, $0.width, $0.height, $0.score)
          }.joined(separator: " "))
    }
    if let mask { lines.append("  mask \(Sanitizer.sanitize(mask))") }
    if colourUnusual == true {
      lines.append(
        String(
          format: "  warning: colour unlike the training data; prediction less reliable (distance %.1f)",
          colourDistance ?? 0))
    }
    return lines.joined(separator: "\n")
  }
}
