import Agreement
import Foundation
import Imaging

/// One image the audit looks at: its class and how to decode it (on demand: the audit reads every
/// image twice rather than holding a data set in memory).
public struct AuditImage: Sendable {
  public var name: String
  public var classIndex: Int
  public var load: @Sendable () throws -> RGBImage

  public init(name: String, classIndex: Int, load: @escaping @Sendable () throws -> RGBImage) {
    self.name = name
    self.classIndex = classIndex
    self.load = load
  }

  /// An image of a folder data set, decoded from its file.
  public init(_ item: DatasetItem) {
    let path = item.path
    self.init(name: item.relativePath, classIndex: item.classIndex) { try decodeImage(at: path) }
  }
}

/// When the audit calls a model's use of the corner a shortcut. Issue 9: "a model that passes has
/// a flip rate under 1% and a corner attribution share near the corner's share of the image's
/// area"; "near" is taken as at most twice that share.
public struct AuditThresholds: Equatable, Sendable, Encodable {
  /// Largest flip rate (blanking the corner, or swapping it) that passes; a rate must be below it.
  public var maxFlipRate: Double = 0.01
  /// Largest ratio of the mean Grad-CAM corner share to the corner's area share that passes.
  public var maxCornerRatio: Double = 2

  public init(maxFlipRate: Double = 0.01, maxCornerRatio: Double = 2) {
    self.maxFlipRate = maxFlipRate
    self.maxCornerRatio = maxCornerRatio
  }

  enum CodingKeys: String, CodingKey {
    case maxFlipRate = "max_flip_rate"
    case maxCornerRatio = "max_corner_ratio"
  }
}

/// What `blastview audit` reports (`--json` prints it with these keys).
public struct ShortcutAuditReport: Sendable, Encodable {
  public var n: Int
  public var classes: [String]
  /// The scale-bar rectangle at its source resolution, and where it came from ("model": the
  /// configuration's `blank_corner`; "aria": Aria's rectangle, for a model trained without one).
  public var corner: CornerBlank
  public var cornerSource: String

  /// Accuracy and macro-F1 with the corner blanked and with it left as it is (no colour shift).
  public var accuracyBlanked: Double
  public var accuracyUnblanked: Double
  public var macroF1Blanked: Double
  public var macroF1Unblanked: Double

  /// Images whose predicted class changes when the corner is blanked.
  public var flipsBlanked: Int
  public var flipRateBlanked: Double
  /// Swaps (an image with its corner replaced by that of an image of each other class) whose
  /// predicted class differs from the unchanged image's, and those that became the donor's class.
  public var swaps: Int
  public var flipsSwapped: Int
  public var flipRateSwapped: Double
  public var swapsToDonorClass: Int
  /// Blank flips per true class (schema order).
  public var flipsBlankedByClass: [Int]

  /// Mean and median share of positive Grad-CAM attribution (predicted class, corner not blanked)
  /// inside the corner, over the images whose map is not all zero.
  public var gradcamCornerShare: Double?
  public var gradcamCornerShareMedian: Double?
  public var gradcamImages: Int
  /// The corner's share of the image area, and the mean share divided by it.
  public var cornerAreaShare: Double
  public var gradcamCornerRatio: Double?

  /// Issue 10's table: accuracy and macro-F1 under each colour shift, with the model's own
  /// preprocessing (as `blastview eval --colour-shift`).
  public var robustness: [EvaluationReport.RobustnessRow]

  public var thresholds: AuditThresholds
  public var passed: Bool
  /// One sentence per failed check (empty when the model passes).
  public var findings: [String]

  enum CodingKeys: String, CodingKey {
    case n, classes, corner, robustness, thresholds, passed, findings, swaps
    case cornerSource = "corner_source"
    case accuracyBlanked = "accuracy_blanked"
    case accuracyUnblanked = "accuracy_unblanked"
    case macroF1Blanked = "macro_f1_blanked"
    case macroF1Unblanked = "macro_f1_unblanked"
    case flipsBlanked = "flips_blanked"
    case flipRateBlanked = "flip_rate_blanked"
    case flipsSwapped = "flips_swapped"
    case flipRateSwapped = "flip_rate_swapped"
    case swapsToDonorClass = "swaps_to_donor_class"
    case flipsBlankedByClass = "flips_blanked_by_class"
    case gradcamCornerShare = "gradcam_corner_share"
    case gradcamCornerShareMedian = "gradcam_corner_share_median"
    case gradcamImages = "gradcam_images"
    case cornerAreaShare = "corner_area_share"
    case gradcamCornerRatio = "gradcam_corner_ratio"
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(n, forKey: .n)
    try c.encode(classes, forKey: .classes)
    try c.encode(corner, forKey: .corner)
    try c.encode(cornerSource, forKey: .cornerSource)
    try c.encode(accuracyBlanked, forKey: .accuracyBlanked)
    try c.encode(accuracyUnblanked, forKey: .accuracyUnblanked)
    try c.encode(macroF1Blanked, forKey: .macroF1Blanked)
    try c.encode(macroF1Unblanked, forKey: .macroF1Unblanked)
    try c.encode(flipsBlanked, forKey: .flipsBlanked)
    try c.encode(flipRateBlanked, forKey: .flipRateBlanked)
    try c.encode(swaps, forKey: .swaps)
    try c.encode(flipsSwapped, forKey: .flipsSwapped)
    try c.encode(flipRateSwapped, forKey: .flipRateSwapped)
    try c.encode(swapsToDonorClass, forKey: .swapsToDonorClass)
    try c.encode(flipsBlankedByClass, forKey: .flipsBlankedByClass)
    // Undefined values are written as null, not left out, so scripts see every key.
    try c.encode(gradcamCornerShare, forKey: .gradcamCornerShare)
    try c.encode(gradcamCornerShareMedian, forKey: .gradcamCornerShareMedian)
    try c.encode(gradcamImages, forKey: .gradcamImages)
    try c.encode(cornerAreaShare, forKey: .cornerAreaShare)
    try c.encode(gradcamCornerRatio, forKey: .gradcamCornerRatio)
    try c.encode(robustness, forKey: .robustness)
    try c.encode(thresholds, forKey: .thresholds)
    try c.encode(passed, forKey: .passed)
    try c.encode(findings, forKey: .findings)
  }
}

/// The shortcut audit of issue 9: does the model read the scale-bar label instead of the cells?
///
/// For every image it predicts with the corner blanked and not blanked, and with the corner
/// replaced by that of an image of each other class (so only the corner changes); it takes
/// Grad-CAM of the predicted class on the unblanked image and measures the share inside the
/// corner; and it fills issue 10's robustness table with the same `ColourShift` and preprocessing
/// `blastview eval` uses. A model that reads the label flips when the label changes and puts its
/// attribution there.
public struct ShortcutAudit: Sendable {
  public var corner: CornerBlank
  public var shifts: [ColourShift]
  public var thresholds: AuditThresholds
  /// Chooses the donor image of each swap.
  public var seed: UInt64
  /// Inputs per model call.
  public var batchSize: Int

  public init(
    corner: CornerBlank, shifts: [ColourShift] = ColourShift.all,
    thresholds: AuditThresholds = AuditThresholds(),
    seed: UInt64 = 0, batchSize: Int = 32
  ) {
    self.corner = corner
    self.shifts = shifts
    self.thresholds = thresholds
    self.seed = seed
    self.batchSize = batchSize
  }

  public enum Stage: String, Sendable {
    case corners = "reading corners"
    case predictions = "predicting"
  }

  /// Runs the audit. `progress(stage, done, total)` is called as images are processed.
  public func run(
    _ model: ExplainableModel, images: [AuditImage], cornerSource: String = "model",
    progress: ((Stage, Int, Int) -> Void)? = nil
  ) throws -> ShortcutAuditReport {
    let k = model.classNames.count
    let base = model.preprocessing
    let blanked = Preprocessing(
      size: base.size, cornerBlank: corner, stainNormalisation: base.stainNormalisation)
    let open = Preprocessing(size: base.size, cornerBlank: nil, stainNormalisation: base.stainNormalisation)

    // Pass 1: every image's corner patch, by class, for the swaps.
    let patches = try cornerPatchesByClass(images, classes: k, progress: progress)

    var truth: [Int] = []
    var predBlanked: [Int] = []
    var predOpen: [Int] = []
    var shifted = [[Int]](repeating: [], count: shifts.count)
    var swaps = 0
    var swapFlips = 0
    var toDonor = 0
    var shares: [Double] = []
    let chunk = max(1, batchSize / (2 + (k - 1) + shifts.count))
    var start = 0
    while start < images.count {
      let end = min(start + chunk, images.count)
      var inputs: [PlanarImage] = []
      var gradInputs: [PlanarImage] = []
      // Per image: [blanked, open, swap per donor class..., shift...]
      var layout: [(donors: [Int], first: Int)] = []
      for i in start..<end {
        let im = images[i]
        let image = try im.load()
        let first = inputs.count
        inputs.append(blanked.input(image))
        let o = open.input(image)
        inputs.append(o)
        gradInputs.append(o)
        var donors: [Int] = []
        var rng = SplitMix64(seed: seed ^ (UInt64(i) &* 0x9E37_79B9_7F4A_7C15))
        for d in 0..<k where d != im.classIndex && !patches[d].isEmpty {
          let patch = patches[d][Int(rng.next() % UInt64(patches[d].count))]
          inputs.append(open.input(pasting(patch, into: image)))
          donors.append(d)
        }
        for s in shifts { inputs.append(base.input(image, shift: s)) }
        layout.append((donors, first))
        truth.append(im.classIndex)
      }
      let probs = try model.probabilities(inputs, batchSize: batchSize)
      let cams = try model.gradCAM(gradInputs, classIndices: Array(repeating: nil, count: gradInputs.count))
      for (j, l) in layout.enumerated() {
        let pb = argmax(probs[l.first])
        let po = argmax(probs[l.first + 1])
        predBlanked.append(pb)
        predOpen.append(po)
        for (m, d) in l.donors.enumerated() {
          let ps = argmax(probs[l.first + 2 + m])
          swaps += 1
          if ps != po {
            swapFlips += 1
            if ps == d { toDonor += 1 }
          }
        }
        for s in shifts.indices { shifted[s].append(argmax(probs[l.first + 2 + l.donors.count + s])) }
        if let share = cams[j].heatmap.cornerAttribution(corner).share { shares.append(share) }
      }
      start = end
      progress?(.predictions, end, images.count)
    }

    let classes = model.classNames
    let reportBlanked = ClassificationReport(classes: classes, truth: truth, predicted: predBlanked)
    let reportOpen = ClassificationReport(classes: classes, truth: truth, predicted: predOpen)
    var flipsByClass = [Int](repeating: 0, count: k)
    var flips = 0
    for i in truth.indices where predBlanked[i] != predOpen[i] {
      flips += 1
      flipsByClass[truth[i]] += 1
    }
    let n = truth.count
    let area =
      Double(corner.rect(forWidth: base.size, height: base.size).area) / Double(base.size * base.size)
    let meanShare = shares.isEmpty ? nil : shares.reduce(0, +) / Double(shares.count)
    let sorted = shares.sorted()
    let median: Double? =
      sorted.isEmpty
      ? nil
      : (sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2)
    let ratio = meanShare.map { area > 0 ? $0 / area : .nan }
    let robustness = shifts.indices.map { s in
      EvaluationReport.RobustnessRow(
        shift: shifts[s],
        report: ClassificationReport(classes: classes, truth: truth, predicted: shifted[s]))
    }
    let rateBlanked = n > 0 ? Double(flips) / Double(n) : 0
    let rateSwapped = swaps > 0 ? Double(swapFlips) / Double(swaps) : 0
    let findings = auditFindings(
      flips: flips, n: n, rateBlanked: rateBlanked, swapFlips: swapFlips, swaps: swaps,
      rateSwapped: rateSwapped, toDonor: toDonor, meanShare: meanShare, ratio: ratio, area: area)
    return ShortcutAuditReport(
      n: n, classes: classes, corner: corner, cornerSource: cornerSource,
      accuracyBlanked: reportBlanked.accuracy, accuracyUnblanked: reportOpen.accuracy,
      macroF1Blanked: reportBlanked.macro.f1, macroF1Unblanked: reportOpen.macro.f1,
      flipsBlanked: flips, flipRateBlanked: rateBlanked, swaps: swaps, flipsSwapped: swapFlips,
      flipRateSwapped: rateSwapped, swapsToDonorClass: toDonor, flipsBlankedByClass: flipsByClass,
      gradcamCornerShare: meanShare, gradcamCornerShareMedian: median, gradcamImages: shares.count,
      cornerAreaShare: area, gradcamCornerRatio: ratio, robustness: robustness, thresholds: thresholds,
      passed: findings.isEmpty, findings: findings)
  }

  /// Every image's corner patch, grouped by its class (in image order), for the swaps.
  private func cornerPatchesByClass(
    _ images: [AuditImage], classes k: Int, progress: ((Stage, Int, Int) -> Void)?
  ) throws -> [[RGBImage]] {
    var patches: [[RGBImage]] = Array(repeating: [], count: k)
    for (i, im) in images.enumerated() {
      guard im.classIndex >= 0 && im.classIndex < k else {
        throw ExplanationError.classOutOfRange(im.classIndex, classes: k)
      }
      patches[im.classIndex].append(cornerPatch(try im.load()))
      progress?(.corners, i + 1, images.count)
    }
    return patches
  }

  /// What fails the audit, in words: flip rates over the limit, too much Grad-CAM in the corner.
  private func auditFindings(
    flips: Int, n: Int, rateBlanked: Double, swapFlips: Int, swaps: Int, rateSwapped: Double, toDonor: Int,
    meanShare: Double?, ratio: Double?, area: Double
  ) -> [String] {
    var findings: [String] = []
    func percent(_ v: Double) -> String { String(format: "%.1f%%", 100 * v) }
    if rateBlanked >= thresholds.maxFlipRate {
      findings.append(
        "blanking the corner changes the prediction of \(flips) of \(n) images (\(percent(rateBlanked)); "
          + "limit \(percent(thresholds.maxFlipRate)))")
    }
    if rateSwapped >= thresholds.maxFlipRate {
      findings.append(
        "swapping in another class's corner changes the prediction in \(swapFlips) of \(swaps) swaps "
          + "(\(percent(rateSwapped)); \(toDonor) to the donor's class; limit \(percent(thresholds.maxFlipRate)))"
      )
    }
    if let meanShare, let ratio, ratio > thresholds.maxCornerRatio {
      findings.append(
        "Grad-CAM puts \(percent(meanShare)) of its attribution in the corner, which is "
          + "\(percent(area)) of the image (\(String(format: "%.1f", ratio))x; limit "
          + "\(String(format: "%.1f", thresholds.maxCornerRatio))x)")
    }
    return findings
  }

  /// The corner rectangle's pixels.
  func cornerPatch(_ image: RGBImage) -> RGBImage {
    let r = corner.rect(forWidth: image.width, height: image.height)
    var p = RGBImage(width: max(r.width, 0), height: max(r.height, 0))
    for y in 0..<p.height {
      for x in 0..<p.width { p[x, y] = image[r.x + x, r.y + y] }
    }
    return p
  }

  /// `image` with its corner rectangle replaced by `patch` (resized to the rectangle when the donor
  /// image had another size).
  func pasting(_ patch: RGBImage, into image: RGBImage) -> RGBImage {
    let r = corner.rect(forWidth: image.width, height: image.height)
    guard !r.isEmpty, patch.width > 0, patch.height > 0 else { return image }
    let p =
      (patch.width == r.width && patch.height == r.height)
      ? patch : patch.resized(width: r.width, height: r.height)
    var out = image
    for y in 0..<r.height {
      for x in 0..<r.width { out[r.x + x, r.y + y] = p[x, y] }
    }
    return out
  }
}
