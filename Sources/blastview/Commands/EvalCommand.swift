import Agreement
import ArgumentParser
import Foundation
import Imaging
import MTACNN
import NeuralEngine
import Terminal

/// `blastview eval`: the paper's metrics from one confusion matrix, segmentation Dice/IoU and
/// detection F1 when masks are given, calibration, and issue 10's colour-shift robustness.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Evaluate a model: accuracy, kappa, per-class metrics, calibration, Dice and detection F1.",
    discussion: """
      Images are those of --split (default test: the part never used in training or for choosing \
      settings; all for a data set the model never saw). --colour-shift evaluates on recoloured \
      copies made in memory (hue:+10, hue:-10, sat:0.85, sat:1.15, gray, none); 'all' adds a \
      robustness table. --blank-corner on|off overrides the model's scale-bar blanking. \
      --segmentation-only scores masks of images whose folders are not the model's classes \
      (e.g. the wbc-seg expert masks for the all4 model).

      Screening (hierarchical models): sensitivity and specificity of the "possibly malignant" call \
      at the checkpoint's operating point, a threshold on P(malignant) separate from the argmax \
      class. --set-operating-point 0.995 chooses it on the validation split (--split val) as the \
      largest threshold whose sensitivity there is at least 0.995, and stores it in --model; \
      with --min-specificity 0.95 the threshold goes lower, as far as a specificity of 0.95 there \
      allows (never above the first), so more malignant images are caught on new data. \
      --plots DIR draws the ROC and precision-recall curves of P(malignant) as PNG files.
      """)

  @Option(help: ArgumentHelp("The checkpoint to evaluate.", valueName: "file"))
  var model: String

  @Option(help: ArgumentHelp("Folder with one sub-folder per class.", valueName: "dir"))
  var data: String

  @Option(help: ArgumentHelp("Mask folder mirroring --data.", valueName: "dir"))
  var masks: String?

  @Option(help: "How to read --masks: auto, expert or weak.")
  var maskKind = "auto"

  @Option(
    help: ArgumentHelp(
      "Classes whose weak masks are not scored (default: Pro for all4).", valueName: "classes"))
  var noMasksFor: String?

  @Option(help: "Which part of the split: test, val, train or all.")
  var split = "test"

  @Option(help: "Seed of the stratified split (as in training).")
  var splitSeed: UInt64 = 0

  @Option(help: "Blank the scale-bar corner: on or off (default: as the model was trained).")
  var blankCorner: String?

  @Option(help: "Colour shift: none, hue:+10, hue:-10, sat:0.85, sat:1.15, gray, or all.")
  var colourShift = "none"

  @Flag(help: "Score segmentation only (the folders' classes are not the model's).")
  var segmentationOnly = false

  @Option(help: "Threads (default: the number of CPUs).")
  var threads: Int?

  @Option(
    help: ArgumentHelp(
      "Choose the screening operating point for this sensitivity on --split val and store it in --model.",
      valueName: "sensitivity"))
  var setOperatingPoint: Double?

  @Option(
    help: ArgumentHelp(
      "With --set-operating-point: lower the threshold as far as this specificity on --split val allows "
        + "(never above the sensitivity rule's), so the false-alarm budget buys sensitivity on new images.",
      valueName: "specificity"))
  var minSpecificity: Double?

  @Flag(
    help:
      "Test-time augmentation: average the class probabilities over the 8 flips and quarter turns (8x the inference time)."
  )
  var tta = false

  @Option(help: ArgumentHelp("Write roc.png and pr.png of P(malignant) into this folder.", valueName: "dir"))
  var plots: String?

  @Flag(help: "Print the report as JSON.")
  var json = false

  func validate() throws {
    guard ["test", "val", "train", "all"].contains(split) else {
      throw ValidationError("--split must be test, val, train or all")
    }
    if let b = blankCorner, !["on", "off"].contains(b) {
      throw ValidationError("--blank-corner must be on or off")
    }
    guard ["auto", "expert", "weak"].contains(maskKind) else {
      throw ValidationError("--mask-kind must be auto, expert or weak")
    }
    if colourShift != "all" {
      do { _ = try ColourShift(parsing: colourShift) } catch { throw ValidationError(error.description) }
    }
    if segmentationOnly && masks == nil { throw ValidationError("--segmentation-only needs --masks") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    if let s = setOperatingPoint {
      guard s > 0, s <= 1 else { throw ValidationError("--set-operating-point must be in (0, 1], got \(s)") }
      guard split == "val" else {
        throw ValidationError("--set-operating-point chooses on the validation split: give --split val")
      }
      guard colourShift == "none", blankCorner == nil, !segmentationOnly, !tta else {
        throw ValidationError(
          "--set-operating-point is chosen on the images as the model sees them in use: no --colour-shift, "
            + "--blank-corner, --tta or --segmentation-only")
      }
    }
    if let m = minSpecificity {
      guard setOperatingPoint != nil else {
        throw ValidationError("--min-specificity needs --set-operating-point")
      }
      guard m > 0, m <= 1 else { throw ValidationError("--min-specificity must be in (0, 1], got \(m)") }
    }
    if plots != nil && segmentationOnly { throw ValidationError("--plots needs classification") }
  }

  func run() throws {
    Threads.set(threads ?? Threads.available)
    let (net, meta): (MTACNNModel, CheckpointMetadata)
    do { (net, meta) = try ModelCheckpoint.load(path: model) } catch { throw CLIError(error) }
    if segmentationOnly && !net.tasks.contains(.seg) {
      throw CLIError(message: "\(model) has no segmentation task")
    }
    var opts = FolderDataOptions()
    opts.data = data
    opts.masks = masks
    opts.maskKind = maskKind
    opts.noMasksFor = noMasksFor
    opts.splitSeed = splitSeed
    let dataset: FolderDataset
    let kind: MaskKind?
    if segmentationOnly {
      opts.segData = data
      opts.segMasks = masks
      guard let (d, k) = try opts.segmentationDataset() else { throw CLIError(message: "no data") }
      (dataset, kind) = (d, k)
    } else {
      (dataset, kind) = try opts.folderDataset(schema: net.schema)
    }
    let items = split == "all" ? dataset.items : dataset.items(in: SplitPart(rawValue: split)!)
    if segmentationOnly && split != "all" {
      warnIfSplitDiffersFromTraining(items, options: opts, schema: net.schema)
    }
    let (evalItems, skipped) = Evaluator.load(items, maskKind: kind, withLabels: !segmentationOnly)
    for s in skipped { printError("skipped \(Sanitizer.sanitize(s.description))") }
    guard !evalItems.isEmpty else {
      throw CLIError(message: "no images to evaluate in \(data) (split \(split))")
    }

    var pre = net.configuration.preprocessing
    if let b = blankCorner {
      if b == "off" {
        pre.cornerBlank = nil
      } else if pre.cornerBlank == nil {
        pre.cornerBlank = ModelConfiguration.defaults(for: .all4).preprocessing.cornerBlank
      }
    }
    let predictor = Predictor(model: net, colourReference: meta.colourReference)
    predictor.testTimeAugmentation = tta
    let shifts: [ColourShift] =
      colourShift == "all" ? ColourShift.all : [try ColourShift(parsing: colourShift)]
    var runs: [(ColourShift, EvaluationRun)] = []
    for shift in shifts {
      let bar = ProgressBar(label: "eval \(shift)", enabled: !json && isatty(STDERR_FILENO) == 1)
      let r = Evaluator.run(predictor, items: evalItems, shift: shift, preprocessing: pre) { d, t in
        bar.update(done: d, total: t)
      }
      bar.finish()
      runs.append((shift, r))
    }
    let (mainShift, main) = runs[0]
    let context = EvalContext(
      model: absolute(model), data: absolute(data), split: split, images: evalItems.count,
      blankCorner: pre.cornerBlank != nil, colourShift: mainShift.description, size: net.size, tta: tta)

    if segmentationOnly || main.truth.isEmpty {
      let seg = main.segmentation
      if json {
        try printMerged(SegmentationOnlyReport(n: main.overlaps.count, segmentation: seg), context: context)
      } else {
        print(context.heading)
        print(seg.map(segmentationText) ?? "no masks to score")
      }
      return
    }
    let robustness: [EvaluationReport.RobustnessRow]? =
      runs.count > 1
      ? runs.map { s, r in
        EvaluationReport.RobustnessRow(
          shift: s,
          report: ClassificationReport(
            classes: net.schema.classes, truth: r.truth, predicted: r.probabilities.map(argmax)))
      } : nil
    let report = EvaluationReport(
      schema: net.schema, probabilities: main.probabilities, truth: main.truth,
      segmentation: main.segmentation,
      robustness: robustness)
    var point = meta.operatingPoint
    if let target = setOperatingPoint {
      point = try chooseOperatingPoint(target, run: main, schema: net.schema)
    }
    let screening = net.schema.hierarchical ? ScreeningSummary(run: main, point: point) : nil
    if let plots {
      guard let curves = screening?.curves else {
        throw CLIError(
          message: net.schema.hierarchical
            ? "--plots needs malignant and benign images in the split"
            : "--plots draws P(malignant): \(model) is a flat model with no malignant group")
      }
      try ScreeningPlots.write(curves, point: screening?.at, into: plots, title: context.plotTitle)
      if !json { printError("wrote \(Sanitizer.sanitize(plots))/roc.png and pr.png") }
    }
    if json {
      var extra: [(String, JSONOutput)] = []
      if meta.colourReference != nil {
        var flagged: [String: Double] = [:]
        for (s, r) in runs { flagged[s.description] = r.colourFlagged }
        extra.append(("colour_flagged", try JSONOutput(encoding: flagged)))
      }
      if runs.count > 1 {
        var conf: [String: [[Int]]] = [:]
        for (s, r) in runs {
          conf[s.description] =
            ClassificationReport(
              classes: net.schema.classes, truth: r.truth, predicted: r.probabilities.map(argmax)
            ).confusion
        }
        extra.append(("robustness_confusion", try JSONOutput(encoding: conf)))
      }
      if let screening { extra.append(("screening", try screening.json())) }
      try printMerged(report, context: context, extra: extra)
    } else {
      print(context.heading)
      print(EvalText.tables(report, schema: net.schema))
      if let screening { print("\n" + screening.text) }
      if let seg = report.segmentation { print("\n" + segmentationText(seg)) }
      if runs.count > 1 {
        print("\nRobustness (issue 10): accuracy and macro-F1 per colour shift; errors by true class")
        print(EvalText.robustness(runs, schema: net.schema))
      }
      if meta.colourReference != nil {
        let parts = runs.map { s, r in
          String(format: "%@ %.1f%%", s.description as NSString, 100 * r.colourFlagged)
        }
        print(
          "\nColour warning (\"colour unlike the training data\"): images flagged: "
            + parts.joined(separator: ", "))
      }
    }
  }

  /// Chooses the operating point on this (validation) run and stores it in the checkpoint.
  private func chooseOperatingPoint(_ target: Double, run: EvaluationRun, schema: ClassSchema) throws
    -> OperatingPoint
  {
    guard schema.hierarchical else {
      throw CLIError(
        message: "\(model) is a flat model: it has no malignant group, so no screening operating point")
    }
    let command = (["blastview"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
    guard
      let p = OperatingPoint.choose(
        pMalignant: run.probabilities.map { 1 - $0[0] }, isMalignant: run.truth.map { $0 != 0 },
        targetSensitivity: target, split: split, command: command, minSpecificity: minSpecificity)
    else { throw CLIError(message: "no malignant image in the validation split of \(data)") }
    do {
      try ModelCheckpoint.rewriteMetadata(path: model) { $0[OperatingPoint.metadataKey] = p.encoded() }
    } catch { throw CLIError(error) }
    if !json {
      printError(
        String(format: "operating point P(malignant) >= %.6g stored in ", p.threshold)
          + Sanitizer.sanitize(model))
    }
    return p
  }

  /// `--segmentation-only` splits a mask folder the way `train --seg-data` does. A folder of the
  /// model's own classes was more likely trained through `--data --masks`, whose split differs
  /// (different image set, Pro's weak masks left out), so its "validation" or "test" part can hold
  /// images the segmentation column trained on. Says so, with the count, when that happens here.
  private func warnIfSplitDiffersFromTraining(
    _ items: [DatasetItem], options: FolderDataOptions, schema: ClassSchema
  ) {
    var classOptions = options
    classOptions.segData = nil
    classOptions.segMasks = nil
    guard let (classified, _) = try? classOptions.folderDataset(schema: schema) else { return }
    var partOf: [String: SplitPart] = [:]
    var unscored: Set<String> = []
    for item in classified.items {
      if item.maskPath != nil {
        partOf[item.relativePath] = item.part
      } else {
        unscored.insert(item.relativePath)
      }
    }
    let scored = items.filter { $0.maskPath != nil }
    let moved = scored.filter { !unscored.contains($0.relativePath) && partOf[$0.relativePath] != $0.part }
      .count
    let left = scored.filter { unscored.contains($0.relativePath) }.count
    guard moved + left > 0 else { return }
    var what: [String] = []
    if moved > 0 {
      what.append("\(moved) are in another part of that split (possibly images the model trained on)")
    }
    if left > 0 {
      what.append("\(left) have masks that training leaves out (--no-masks-for; Pro's weak masks by default)")
    }
    printError(
      "note: \(Sanitizer.sanitize(data)) holds \(schema.name)'s class folders, which train reads through "
        + "--data --masks; of the \(scored.count) \(split) images scored here, "
        + what.joined(separator: " and ")
        + ". Drop --segmentation-only to score the \(split) part training used.")
  }

  private func segmentationText(_ s: SegmentationReport) -> String {
    var t = String(
      format: "Segmentation (%d images with masks, at the source resolution, probability >= 0.5)\n"
        + "  Dice %.4f  IoU %.4f (mean per image)   pooled Dice %.4f  IoU %.4f", s.images, s.dice, s.iou,
      s.dicePooled, s.iouPooled)
    if let f = s.detectionF1 { t += String(format: "\n  nucleus detection F1 %.4f (IoU > 0.5, NMS)", f) }
    return t
  }

  /// The report, its context and `extra` as one JSON object (keys sorted; later parts win).
  private func printMerged<T: Encodable>(
    _ value: T, context: EvalContext, extra: [(String, JSONOutput)] = []
  ) throws {
    JSONOutput.merging([try JSONOutput(encoding: value), try JSONOutput(encoding: context), .object(extra)])
      .print()
  }
}

func argmax(_ p: [Double]) -> Int { p.indices.max { p[$0] < p[$1] } ?? 0 }

struct SegmentationOnlyReport: Encodable {
  var n: Int
  var segmentation: SegmentationReport?
}

/// What was evaluated (joins the JSON report, and heads the text).
struct EvalContext: Encodable {
  var model: String
  var data: String
  var split: String
  var images: Int
  var blankCorner: Bool
  var colourShift: String
  var size: Int
  var tta: Bool

  /// The plots' caption: model file name, split, image count.
  var plotTitle: String {
    "\(URL(fileURLWithPath: model).lastPathComponent) \(split), \(images) images"
  }

  enum CodingKeys: String, CodingKey {
    case model, data, split, images, size, tta
    case blankCorner = "blank_corner"
    case colourShift = "colour_shift"
  }

  var heading: String {
    "\(Sanitizer.sanitize(model)) on \(Sanitizer.sanitize(data)): split \(split), \(images) images, S = \(size), corner "
      + (blankCorner ? "blanked" : "not blanked") + ", colour shift \(colourShift)"
      + (tta ? ", test-time augmentation (8 flips/turns)" : "")
  }
}

/// The text tables of `eval`, laid out as the paper's Table 3 (per class) and Table 4 (overall).
enum EvalText {
  static func tables(_ r: EvaluationReport, schema: ClassSchema) -> String {
    let c = r.classification
    var lines: [String] = []
    let nameWidth = max(9, (schema.classes + ["macro avg"]).map(\.count).max()! + 1)
    func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
      let fill = String(repeating: " ", count: max(0, w - s.count))
      return left ? fill + s : s + fill
    }
    func kappaText(_ k: Result<Double, Undefined>) -> String {
      k.value.map { String(format: "%.4f", $0) } ?? "undefined"
    }
    func row(_ name: String, _ m: ClassMetrics) -> String {
      pad(Sanitizer.sanitize(name), nameWidth)
        + String(
          format: "%9.4f %9.4f %9.4f %11.4f %9.4f %8d", m.precision, m.recall, m.f1, m.specificity, m.npv,
          m.support)
    }
    let header = pad("class", nameWidth) + "precision    recall        F1 specificity       NPV  support"
    lines.append("Table 3 layout: per-class metrics (one-vs-rest)")
    lines.append(header)
    for name in schema.classes { if let m = c.perClass[name] { lines.append(row(name, m)) } }
    lines.append(row("macro avg", c.macro))
    if let b = r.binary {
      lines.append("")
      lines.append("Benign vs malignant")
      lines.append(header)
      for name in b.classes { if let m = b.perClass[name] { lines.append(row(name, m)) } }
      lines.append(String(format: "accuracy %.4f  kappa ", b.accuracy) + kappaText(b.kappa))
    }
    lines.append("")
    lines.append("Table 4 layout: overall (macro averages)")
    lines.append("   n  accuracy  precision    recall        F1  specificity       NPV     kappa       ECE")
    lines.append(
      String(
        format: "%4d %9.4f %10.4f %9.4f %9.4f %12.4f %9.4f ", c.n, c.accuracy, c.macro.precision,
        c.macro.recall, c.macro.f1, c.macro.specificity, c.macro.npv)
        + pad(kappaText(c.kappa), 9, left: true) + String(format: " %9.4f", r.calibration.ece))
    if !r.undefined.isEmpty {
      // As `agree` prints them: the statistic, then why it has no value.
      lines.append("Undefined:")
      for u in r.undefined { lines.append("  \(u.statistic): \(u.reason)") }
    }
    lines.append("")
    lines.append("Confusion matrix (rows: truth, columns: predicted)")
    let w = max(7, schema.classes.map(\.count).max()! + 1)
    lines.append(
      pad("", nameWidth)
        + schema.classes.map { String(repeating: " ", count: max(0, w - $0.count)) + Sanitizer.sanitize($0) }
        .joined())
    for (i, name) in schema.classes.enumerated() {
      lines.append(
        pad(Sanitizer.sanitize(name), nameWidth)
          + c.confusion[i].map { String(format: "%\(w)d", $0) }.joined())
    }
    lines.append(
      String(
        format: "\nCalibration: expected calibration error %.4f over %d bins", r.calibration.ece,
        r.calibration.bins))
    return lines.joined(separator: "\n")
  }

  static func robustness(_ runs: [(ColourShift, EvaluationRun)], schema: ClassSchema) -> String {
    var lines = ["shift      accuracy  macro-F1     n  errors by true class"]
    for (s, r) in runs {
      let rep = ClassificationReport(
        classes: schema.classes, truth: r.truth, predicted: r.probabilities.map(argmax))
      let m = rep.matrix
      var errs: [String] = []
      for (i, name) in schema.classes.enumerated() {
        let wrong = m.rowTotals[i] - m[i, i]
        if wrong > 0 {
          let to = schema.classes.indices.filter { $0 != i && m[i, $0] > 0 }.map {
            "\(m[i, $0])→\(schema.classes[$0])"
          }
          errs.append("\(name): \(to.joined(separator: ", "))")
        }
      }
      let label = s.description.padding(toLength: 9, withPad: " ", startingAt: 0)
      lines.append(
        String(format: "%@ %9.4f %9.4f %5d  ", label as NSString, rep.accuracy, rep.macro.f1, rep.n)
          + (errs.isEmpty ? "-" : errs.joined(separator: "; ")))
    }
    return lines.joined(separator: "\n")
  }
}
