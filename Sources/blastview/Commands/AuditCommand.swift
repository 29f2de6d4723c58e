import ArgumentParser
import Foundation
import MTACNN
import NeuralEngine
import Terminal

/// `blastview audit`: does the model read the scale-bar label instead of the cells? (issue 9), and
/// how does it stand colour shifts? (issue 10's robustness table, as `eval --colour-shift all`).
struct AuditCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audit",
    abstract:
      "Shortcut audit: scale-bar corner flips and attribution, and the colour-shift robustness table.",
    discussion: """
      On the images of --part (default test: the seeded hash split of the class folders, as \
      train and eval use it), per image: the prediction with the corner blanked and not blanked; \
      with the corner replaced by that of an image of each other class; the share of Grad-CAM's \
      positive attribution inside the corner; and the prediction under each colour shift, with \
      the model's own preprocessing (the same code as eval --colour-shift).

      The model passes when blanking the corner and swapping it each change under 1% of the \
      predictions and the mean corner share of Grad-CAM is at most twice the corner's share of \
      the image area. A model that fails exits with status 2 (after printing the report).
      """)

  @Option(help: ArgumentHelp("The checkpoint to audit.", valueName: "file"))
  var model: String

  @Option(help: ArgumentHelp("Folder with one sub-folder per class.", valueName: "dir"))
  var data: String

  @Option(
    name: [.customLong("part"), .customLong("split")],
    help: "Which part of the split: test, val, train or all.")
  var part = "test"

  @Option(help: "Seed of the stratified split (as in training).")
  var splitSeed: UInt64 = 0

  @Option(help: "Colour shifts of the robustness table: all, none, or a comma list (hue:+10,gray,...).")
  var colourShift = "all"

  @Option(help: "Seed choosing each swap's donor image.")
  var seed: UInt64 = 0

  @Option(help: "Audit at most this many images (a seeded, class-stratified subset; default all).")
  var limit: Int?

  @Option(help: "Threads (default: the number of CPUs).")
  var threads: Int?

  @Flag(help: "Print the report as JSON.")
  var json = false

  func validate() throws {
    guard ["test", "val", "train", "all"].contains(part) else {
      throw ValidationError(
        "--part must be test, val, train or all, got \(Sanitizer.sanitize(part).debugDescription)")
    }
    _ = try shifts()
    if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
  }

  func shifts() throws -> [ColourShift] {
    switch colourShift {
    case "all": return ColourShift.all
    case "none": return []
    default:
      do {
        return try colourShift.split(separator: ",").map { try ColourShift(parsing: String($0)) }
      } catch {
        throw ValidationError("--colour-shift: \(error)")
      }
    }
  }

  func run() throws {
    Threads.set(threads ?? Threads.available)
    let net: MTACNNModel
    do { (net, _) = try ModelCheckpoint.load(path: model) } catch {
      throw CLIError(message: "model \(model): \(error)")
    }
    guard net.tasks.contains(.cls) else {
      throw CLIError(message: "model \(model) has no classification task to audit")
    }
    var opts = FolderDataOptions()
    // Every field folderDataset reads (a default-initialised option group has no values).
    opts.data = data
    opts.masks = nil
    opts.maskKind = "auto"
    opts.noMasksFor = nil
    opts.splitSeed = splitSeed
    let (dataset, _) = try opts.folderDataset(schema: net.schema)
    var items = part == "all" ? dataset.items : dataset.items(in: SplitPart(rawValue: part)!)
    if let limit, limit < items.count { items = Self.subset(items, limit: limit, classes: net.classCount) }
    guard !items.isEmpty else {
      throw CLIError(message: "no images in \(data) (part \(part))")
    }
    let explainer = Explainer(model: net)
    let (corner, source) = explainer.corner
    let audit = ShortcutAudit(corner: corner, shifts: try shifts(), seed: seed)
    let bar = ProgressBar(label: "audit", enabled: !json && isatty(STDERR_FILENO) == 1)
    let report: ShortcutAuditReport
    do {
      report = try audit.run(net, images: items.map(AuditImage.init), cornerSource: source) { stage, d, t in
        bar.update(done: stage == .corners ? d / 4 : t / 4 + d * 3 / 4, total: t)
      }
    } catch {
      bar.finish()
      throw CLIError(message: "audit of \(model) on \(data): \(error)")
    }
    bar.finish()
    let context = AuditContext(
      model: absolute(model), data: absolute(data), part: part, size: net.size,
      modelBlanksCorner: net.preprocessing.cornerBlank != nil)
    if json {
      JSONOutput.merging([try JSONOutput(encoding: report), try JSONOutput(encoding: context)]).print()
    } else {
      print(AuditText.render(report, context: context))
    }
    if !report.passed { throw ExitCode(2) }
  }

  /// At most `limit` items, the same share of each class, chosen by the items' digests (so the
  /// subset does not depend on file order and is the same every run).
  static func subset(_ items: [DatasetItem], limit: Int, classes: Int) -> [DatasetItem] {
    let byClass = (0..<classes).map { k in
      items.filter { $0.classIndex == k }.sorted { $0.digest.lexicographicallyPrecedes($1.digest) }
    }
    var out: [DatasetItem] = []
    for group in byClass {
      let n = Int((Double(group.count) * Double(limit) / Double(items.count)).rounded(.up))
      out += group.prefix(n)
    }
    return Array(out.prefix(limit))
  }
}

/// What was audited (joins the JSON report and heads the text).
struct AuditContext: Encodable {
  var model: String
  var data: String
  var part: String
  var size: Int
  var modelBlanksCorner: Bool

  enum CodingKeys: String, CodingKey {
    case model, data, part, size
    case modelBlanksCorner = "model_blanks_corner"
  }
}

enum AuditText {
  static func render(_ r: ShortcutAuditReport, context c: AuditContext) -> String {
    func pct(_ v: Double) -> String { String(format: "%.1f%%", 100 * v) }
    var l: [String] = []
    l.append(
      "\(Sanitizer.sanitize(c.model)) on \(Sanitizer.sanitize(c.data)): part \(c.part), \(r.n) images, S = \(c.size), "
        + "model \(c.modelBlanksCorner ? "blanks" : "does not blank") the corner")
    let k = r.corner
    l.append(
      "Scale-bar corner (\(r.cornerSource)): x \(k.x) y \(k.y) \(k.width)×\(k.height) of \(k.sourceWidth)×\(k.sourceHeight)"
        + ", \(pct(r.cornerAreaShare)) of the area")
    l.append("")
    l.append("                      accuracy  macro-F1")
    l.append(String(format: "corner blanked        %8.4f  %8.4f", r.accuracyBlanked, r.macroF1Blanked))
    l.append(String(format: "corner not blanked    %8.4f  %8.4f", r.accuracyUnblanked, r.macroF1Unblanked))
    l.append("")
    let byClass = zip(r.classes, r.flipsBlankedByClass).map { "\(Sanitizer.sanitize($0)) \($1)" }.joined(
      separator: ", ")
    l.append(
      "Flips when the corner is blanked: \(r.flipsBlanked) of \(r.n) (\(pct(r.flipRateBlanked))); by true class: \(byClass)"
    )
    l.append(
      "Flips when another class's corner is swapped in: \(r.flipsSwapped) of \(r.swaps) (\(pct(r.flipRateSwapped))), "
        + "\(r.swapsToDonorClass) to the donor's class")
    if let m = r.gradcamCornerShare, let ratio = r.gradcamCornerRatio {
      l.append(
        "Grad-CAM share in the corner: mean \(pct(m)), median \(pct(r.gradcamCornerShareMedian ?? .nan)) "
          + "over \(r.gradcamImages) images; \(String(format: "%.2f", ratio))× the corner's area share")
    } else {
      l.append("Grad-CAM share in the corner: undefined (no image had positive attribution)")
    }
    if !r.robustness.isEmpty {
      l.append("")
      l.append("Robustness (issue 10; as eval --colour-shift)")
      l.append("shift       accuracy  macro-F1     n")
      for row in r.robustness {
        l.append(
          row.shift.padding(toLength: 10, withPad: " ", startingAt: 0)
            + String(format: " %9.4f %9.4f %5d", row.accuracy, row.macroF1, row.n))
      }
    }
    l.append("")
    l.append(
      "Rule: flip rates under \(pct(r.thresholds.maxFlipRate)), corner share at most "
        + "\(String(format: "%.0f", r.thresholds.maxCornerRatio))× its area share")
    if c.modelBlanksCorner {
      l.append(
        "Note: this model blanks the corner itself before predicting, so in use the label cannot change its "
          + "predictions; the checks with the corner shown measure its response to a label it never saw.")
    }
    if r.passed {
      l.append("PASS: no sign that the model reads the scale-bar corner")
    } else {
      l.append("FAIL:")
      for f in r.findings { l.append("  - " + f) }
    }
    return l.joined(separator: "\n")
  }
}
