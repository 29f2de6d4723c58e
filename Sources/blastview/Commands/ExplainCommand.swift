import ArgumentParser
import CaseStore
import Foundation
import Imaging
import MTACNN
import NeuralEngine
import Terminal

/// `blastview explain`: why the model called an image (or a workspace case) what it did, and
/// whether it looked at the scale-bar corner (issue 9; docs/explanations.md).
struct ExplainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "explain",
    abstract: "Explain a prediction with LIME or Grad-CAM; write the overlay and the top regions.",
    discussion: """
      TARGET is an image file, or a case id of the workspace (e.g. 12 or #12). The model is \
      --model FILE, else the workspace's promoted model. The explained class is the predicted one \
      unless --class names another.

      --out FILE.png writes the overlay at the image's own size: the image tinted orange where \
      the region or pixel speaks for the explained class and blue where it speaks against it \
      (LIME only), opacity growing with the strength, the top LIME regions outlined in yellow. \
      The text lists the top regions (weight, box in image pixels) and the share of the positive \
      attribution inside the scale-bar corner next to the corner's share of the area; --json \
      prints every region's weight as well.
      """)

  @Argument(help: ArgumentHelp("An image file, or a case id of the workspace.", valueName: "image|case"))
  var target: String

  @Option(help: ArgumentHelp("The checkpoint (default: the workspace's promoted model).", valueName: "file"))
  var model: String?

  @Option(help: "lime (regions, hundreds of forward passes) or gradcam (one forward and one backward pass).")
  var method = "lime"

  @Option(
    name: .customLong("class"),
    help: ArgumentHelp("The class to explain (default: the predicted one).", valueName: "name"))
  var className: String?

  @Option(help: ArgumentHelp("Write the overlay PNG here.", valueName: "png"))
  var out: String?

  @Option(help: "LIME: perturbed images (the unperturbed one included).")
  var samples = 500

  @Option(help: "LIME: about how many regions.")
  var regions = 50

  @Option(help: "LIME: regions by slic (colour superpixels) or grid.")
  var superpixels = "slic"

  @Option(help: "LIME: seed of the perturbations.")
  var seed: UInt64 = 0

  @Option(help: "LIME: how many of the strongest regions to list and outline.")
  var top = 5

  @Option(help: "Blank the scale-bar corner: on or off (default: as the model was trained).")
  var blankCorner: String?

  @OptionGroup var workspace: WorkspaceOptions
  /// Who is asking: a session's `--hide-model` applies to explanations as to every read.
  @OptionGroup var rater: RaterOption

  @Option(help: "Threads (default: the number of CPUs).")
  var threads: Int?

  @Flag(help: "Print JSON.")
  var json = false

  func validate() throws {
    guard ExplanationMethod(rawValue: method) != nil else {
      throw ValidationError(
        "--method must be lime or gradcam, got \(Sanitizer.sanitize(method).debugDescription)")
    }
    guard SuperpixelMethod(rawValue: superpixels) != nil else {
      throw ValidationError(
        "--superpixels must be slic or grid, got \(Sanitizer.sanitize(superpixels).debugDescription)")
    }
    if let b = blankCorner, !["on", "off"].contains(b) {
      throw ValidationError("--blank-corner must be on or off")
    }
    guard samples >= 2 else { throw ValidationError("--samples must be at least 2") }
    guard regions >= 1 else { throw ValidationError("--regions must be at least 1") }
    guard top >= 0 else { throw ValidationError("--top must be 0 or more") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    if let out, !out.lowercased().hasSuffix(".png") {
      throw ValidationError("--out must name a .png file, got \(Sanitizer.sanitize(out).debugDescription)")
    }
  }

  func run() throws {
    Threads.set(threads ?? Threads.available)
    let (imagePath, shownPath, label, modelPath, sha256) = try resolveTarget()
    let net: MTACNNModel
    do { (net, _) = try ModelCheckpoint.load(path: modelPath) } catch {
      throw CLIError(message: "model \(modelPath): \(error)")
    }
    guard net.tasks.contains(.cls) else {
      throw CLIError(message: "model \(modelPath) has no classification task to explain")
    }
    let image: RGBImage
    // A case's image is checked against its recorded SHA-256: one replaced since import is
    // refused, not explained as that case.
    do {
      image =
        try sha256.map { h throws(ImageError) in try CaseStore.decodeVerifiedImage(at: imagePath, sha256: h) }
        ?? decodeImage(at: imagePath)
    } catch {
      throw CLIError(message: "image \(shownPath): \(error)")
    }
    var classIndex: Int? = nil
    if let className {
      guard let k = Self.classIndex(className, in: net.schema.classes) else {
        throw CLIError(
          message:
            "--class \(className): not a class of model \(modelPath) (\(net.schema.classes.joined(separator: ", ")))"
        )
      }
      classIndex = k
    }
    let request = ExplanationRequest(
      method: ExplanationMethod(rawValue: method)!, classIndex: classIndex,
      blankCorner: blankCorner.map { $0 == "on" },
      lime: LIMEOptions(samples: samples, topRegions: top, seed: seed),
      superpixels: SuperpixelMethod(rawValue: superpixels)!, regions: regions)
    let bar = ProgressBar(
      label: "lime", enabled: !json && request.method == .lime && isatty(STDERR_FILENO) == 1)
    let start = Date()
    let e: ImageExplanation
    do {
      e = try Explainer(model: net).explain(image, request) { done, total in
        bar.update(done: done, total: total)
      }
    } catch {
      bar.finish()
      throw CLIError(message: "explaining \(shownPath): \(error)")
    }
    bar.finish()
    let seconds = Date().timeIntervalSince(start)
    if let out {
      do { try writePNG(e.overlay(on: image), to: out) } catch {
        throw CLIError(message: "cannot write \(out): \(error)")
      }
    }
    let report = ExplanationReport(
      e, classes: net.schema.classes, image: image, imagePath: shownPath, caseLabel: label,
      model: absolute(modelPath), out: out,
      seconds: seconds)
    if json {
      try JSONOutput.print(report)
    } else {
      print(report.text)
    }
  }

  /// The image, the case's name (nil for a file) and the model, from the target and options.
  /// The image to read, the name to show for it (the opaque case name while the rater is
  /// blinded for the case), the case label and the model file.
  private func resolveTarget() throws -> (String, String, String?, String, String?) {
    var isDirectory: ObjCBool = false
    let exists = FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory)
    let caseID = Int64(target.hasPrefix("#") ? String(target.dropFirst()) : target)
    if exists && !isDirectory.boolValue {
      // The image of a case the rater may not see the model's output for, given by its file.
      if FileManager.default.fileExists(atPath: workspace.resolved.databasePath),
        let store = try? workspace.open()
      {
        let hidden: Int64?
        do { hidden = try store.caseWithHiddenModel(imageFile: target, viewer: .rater(rater.name)) } catch {
          throw CLIError(error)
        }
        if let hidden { throw hiddenModelError(hidden) }
        return (target, target, nil, try model ?? promotedModelFile(store), nil)
      }
      if let model { return (target, target, nil, model, nil) }
      let store = try workspace.open()
      return (target, target, nil, try promotedModelFile(store), nil)
    }
    guard let caseID else {
      throw CLIError(message: "\(target): no such image file, and not a case id")
    }
    let store: CaseStore
    do { store = try workspace.open() } catch {
      throw CLIError(message: "\(target) is not an image file, and the workspace does not open: \(error)")
    }
    let record: CaseRecord
    let viewer = Viewer.rater(rater.name)
    do {
      record = try store.caseRecord(id: caseID, viewer: viewer)
      if try store.isModelHidden(case: caseID, viewer: viewer) { throw hiddenModelError(caseID) }
    } catch let e as CLIError {
      throw e
    } catch {
      throw CLIError(message: "case \(caseID): \(error)")
    }
    return (
      record.imagePath, record.shownPath, "case #\(caseID)", try model ?? promotedModelFile(store),
      record.sha256
    )
  }

  private func hiddenModelError(_ caseID: Int64) -> CLIError {
    CLIError(
      message: "case \(caseID): the model's output is hidden from \(rater.name) until they label the case in "
        + "their session (--hide-model); nothing was explained")
  }

  private func promotedModelFile(_ store: CaseStore) throws -> String {
    let promoted: ModelVersion?
    do { promoted = try store.promotedModel() } catch { throw CLIError(error) }
    guard let promoted else {
      throw CLIError(
        message: "the workspace \(store.workspace.directory) has no promoted model: give --model FILE")
    }
    do { try store.verifyModelFile(promoted) } catch { throw CLIError(error) }
    return promoted.file
  }

  /// A class by name, case-insensitively ("pro" finds "Pro").
  static func classIndex(_ name: String, in classes: [String]) -> Int? {
    classes.firstIndex(of: name) ?? classes.firstIndex { $0.lowercased() == name.lowercased() }
  }
}

/// What `explain` prints (`--json` keys below).
struct ExplanationReport: Encodable {
  struct Region: Encodable {
    var region: Int
    var weight: Double
    /// Bounding box in the source image's pixels.
    var box: [Int]
    var pixels: Int
  }
  var image: String
  var target: String?
  var model: String
  var method: String
  var predicted: String
  var explained: String
  var probabilities: [String: Double]
  var cornerBlanked: Bool
  /// The scale-bar rectangle in the source image's pixels, and where it came from.
  var corner: [Int]
  var cornerSource: String
  var cornerShare: Double?
  var cornerAreaShare: Double
  var regions: Int?
  var weights: [Double]?
  var top: [Region]
  var fitR2: Double?
  var overlay: String?
  var seconds: Double
  private var classOrder: [String]

  enum CodingKeys: String, CodingKey {
    case image, target, model, method, predicted, explained, probabilities, corner, regions, weights, top,
      overlay, seconds
    case cornerBlanked = "corner_blanked"
    case cornerSource = "corner_source"
    case cornerShare = "corner_share"
    case cornerAreaShare = "corner_area_share"
    case fitR2 = "fit_r2"
  }

  init(
    _ e: ImageExplanation, classes: [String], image: RGBImage, imagePath: String, caseLabel: String?,
    model: String, out: String?, seconds: Double
  ) {
    self.image = imagePath
    target = caseLabel
    self.model = model
    method = e.method.rawValue
    classOrder = classes
    let p = e.probabilities
    probabilities = Dictionary(uniqueKeysWithValues: zip(classes, p.map(Double.init)))
    predicted = classes[p.indices.max { p[$0] < p[$1] } ?? 0]
    explained = e.className
    cornerBlanked = e.cornerBlanked
    let sx = Double(image.width) / Double(e.heatmap.width)
    let sy = Double(image.height) / Double(e.heatmap.height)
    func box(_ r: PixelRect) -> [Int] {
      let x0 = Int((Double(r.x) * sx).rounded(.down))
      let y0 = Int((Double(r.y) * sy).rounded(.down))
      let x1 = Int((Double(r.maxX) * sx).rounded(.up))
      let y1 = Int((Double(r.maxY) * sy).rounded(.up))
      return [x0, y0, x1 - x0, y1 - y0]
    }
    corner = box(e.corner.rect)
    cornerSource = e.cornerSource
    cornerShare = e.corner.share
    cornerAreaShare = e.corner.areaShare
    regions = e.superpixels?.count
    weights = e.regionWeights
    if let sp = e.superpixels, let w = e.regionWeights {
      let boxes = sp.boundingBoxes
      let areas = sp.areas
      top = e.topRegions.map { Region(region: $0, weight: w[$0], box: box(boxes[$0]), pixels: areas[$0]) }
    } else {
      top = []
    }
    fitR2 = e.fitScore
    overlay = out
    self.seconds = seconds
  }

  var text: String {
    var lines: [String] = []
    lines.append(Sanitizer.sanitize(image) + (target.map { " (\($0))" } ?? ""))
    lines.append("  model \(Sanitizer.sanitize(model))")
    let probs = classOrder.map {
      String(format: "%@ %.3f", Sanitizer.sanitize($0) as NSString, probabilities[$0] ?? 0)
    }
    lines.append("  predicted \(Sanitizer.sanitize(predicted))   " + probs.joined(separator: "  "))
    let how = method == "lime" ? "LIME, \(regions ?? 0) regions" : "Grad-CAM (cls.stage4)"
    lines.append(
      "  explained \(Sanitizer.sanitize(explained)) by \(how), corner \(cornerBlanked ? "blanked" : "not blanked")"
    )
    if let fitR2 { lines.append(String(format: "  surrogate fit R² %.3f", fitR2)) }
    if !top.isEmpty {
      lines.append(
        "  top regions (weight = rise in P(\(Sanitizer.sanitize(explained))) when the region is shown):")
      for (i, r) in top.enumerated() {
        lines.append(
          String(
            format: "    %d. region %d  weight %+.4f  box x %d y %d  %d×%d  (%d px at S)", i + 1, r.region,
            r.weight,
            r.box[0], r.box[1], r.box[2], r.box[3], r.pixels))
      }
    } else if method == "lime" {
      lines.append("  no region speaks for \(Sanitizer.sanitize(explained))")
    }
    let share =
      cornerShare.map { String(format: "%.1f%%", 100 * $0) } ?? "undefined (no positive attribution)"
    lines.append(
      "  scale-bar corner (\(cornerSource), x \(corner[0]) y \(corner[1]) \(corner[2])×\(corner[3])): "
        + "\(share) of the positive attribution; \(String(format: "%.1f%%", 100 * cornerAreaShare)) of the area"
    )
    if let overlay { lines.append("  overlay \(Sanitizer.sanitize(overlay))") }
    lines.append(String(format: "  %.2f s", seconds))
    return lines.joined(separator: "\n")
  }
}
