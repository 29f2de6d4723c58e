import Foundation

/// The screening operating point of a hierarchical model (issue 17): a threshold on P(malignant)
/// chosen on the validation split so that at least `targetSensitivity` of its malignant images
/// reach it. An image with P(malignant) ≥ `threshold` is called "possibly malignant". The call is
/// separate from the four-class prediction, which stays the argmax: a case can be predicted Benign
/// and still be possibly malignant, and that is the case a screener must not miss.
///
/// Stored as JSON under `operating_point` in the checkpoint's metadata
/// (docs/checkpoint-format.md §1). A checkpoint without it has no operating point; nothing
/// invents one.
public struct OperatingPoint: Codable, Equatable, Sendable {
  public static let metadataKey = "operating_point"

  /// Call possibly malignant when P(malignant) ≥ threshold.
  public var threshold: Double
  /// The sensitivity the threshold was chosen for.
  public var targetSensitivity: Double
  /// What it achieved on the images it was chosen on.
  public var sensitivity: Double
  public var specificity: Double
  /// Malignant and benign images it was chosen on.
  public var malignant: Int
  public var benign: Int
  /// Which images: "val" (the validation part of the split) for a shipped model.
  public var split: String
  /// The command line that chose it, for the record.
  public var command: String?
  /// When set, the threshold was lowered as far as this specificity on the same images allows
  /// (the false-alarm budget spent on catching more malignant images), never above the
  /// sensitivity rule's threshold. Absent in points chosen by sensitivity alone.
  public var minSpecificity: Double?

  public init(
    threshold: Double, targetSensitivity: Double, sensitivity: Double, specificity: Double, malignant: Int,
    benign: Int, split: String, command: String? = nil, minSpecificity: Double? = nil
  ) {
    self.threshold = threshold
    self.targetSensitivity = targetSensitivity
    self.sensitivity = sensitivity
    self.specificity = specificity
    self.malignant = malignant
    self.benign = benign
    self.split = split
    self.command = command
    self.minSpecificity = minSpecificity
  }

  enum CodingKeys: String, CodingKey {
    case threshold, sensitivity, specificity, malignant, benign, split, command
    case targetSensitivity = "target_sensitivity"
    case minSpecificity = "min_specificity"
  }

  /// The rule it was chosen by, in words: "sensitivity >= 0.995" or "sensitivity >= 0.995,
  /// specificity >= 0.950".
  public var rule: String {
    var r = String(format: "sensitivity >= %.3f", targetSensitivity)
    if let s = minSpecificity { r += String(format: ", specificity >= %.3f", s) }
    return r
  }

  /// Whether a P(malignant) is at or above the threshold.
  public func isPossiblyMalignant(_ pMalignant: Double) -> Bool { pMalignant >= threshold }

  /// The largest threshold whose sensitivity on these images is at least `target`: with the
  /// malignant images' scores sorted from highest, the k-th, k = ⌈target · n⌉. Tie rules: an
  /// image exactly at the threshold is called possibly malignant, so every image tied with the
  /// k-th score is caught (sensitivity may exceed the target) and a benign image tied with it is
  /// a false alarm; among thresholds meeting the target the largest has the highest specificity.
  ///
  /// With `minSpecificity` (issue 17: sensitivity ≥ 0.995 *at specificity ≥ 0.95*): on a
  /// validation split the model nearly separates, the sensitivity rule lands on the lowest
  /// malignant score, the argmax boundary in practice, and misses on new images whatever falls
  /// just below it. The specificity rule instead spends the false-alarm budget: with the benign
  /// scores sorted from highest, f = ⌊(1 − minSpecificity) · n⌋ of them may be false alarms, the
  /// (f+1)-th (x) must be cleared, and the threshold is halfway from x to the next distinct score
  /// of any image above it (1 if none), so no image between is lost and x keeps a margin. The
  /// point is the lower of the two thresholds: the sensitivity target always holds; when the
  /// specificity cannot be had at it, `specificity` says what was. Nil without a malignant image,
  /// or with a target or minimum outside (0, 1].
  public static func choose(
    pMalignant: [Double], isMalignant: [Bool], targetSensitivity target: Double, split: String,
    command: String? = nil, minSpecificity: Double? = nil
  ) -> OperatingPoint? {
    precondition(pMalignant.count == isMalignant.count)
    guard target > 0, target <= 1 else { return nil }
    if let s = minSpecificity, !(s > 0 && s <= 1) { return nil }
    let positives = zip(pMalignant, isMalignant).filter { $0.1 }.map(\.0).sorted(by: >)
    guard !positives.isEmpty else { return nil }
    // The 1e-9 keeps 0.995 · 200 = 199.00000000000003 from asking for 200.
    let k = min(positives.count, max(1, Int((target * Double(positives.count) - 1e-9).rounded(.up))))
    var threshold = positives[k - 1]
    if let s = minSpecificity,
      let t = specificityThreshold(pMalignant: pMalignant, isMalignant: isMalignant, minSpecificity: s)
    {
      threshold = min(threshold, t)
    }
    let at = ScreeningCounts(pMalignant: pMalignant, isMalignant: isMalignant, threshold: threshold)
    return OperatingPoint(
      threshold: threshold, targetSensitivity: target, sensitivity: at.sensitivity ?? 0,
      specificity: at.specificity ?? 0, malignant: at.malignant, benign: at.benign, split: split,
      command: command, minSpecificity: minSpecificity)
  }

  /// The lowest threshold (with its margin) whose specificity here is at least `minSpecificity`:
  /// see `choose`. Nil without a benign image.
  static func specificityThreshold(pMalignant: [Double], isMalignant: [Bool], minSpecificity s: Double)
    -> Double?
  {
    let negatives = zip(pMalignant, isMalignant).filter { !$0.1 }.map(\.0).sorted(by: >)
    guard !negatives.isEmpty else { return nil }
    // The 1e-9 keeps (1 − 0.95) · 40 = 2.0000000000000004 from rounding the budget the wrong way.
    let allowed = Int(((1 - s) * Double(negatives.count) + 1e-9).rounded(.down))
    guard allowed < negatives.count else { return 0 }
    let mustClear = negatives[allowed]
    let above = pMalignant.filter { $0 > mustClear }.min() ?? 1
    return (mustClear + above) / 2
  }

  public static func decode(_ text: String) -> OperatingPoint? {
    guard let p = try? JSONDecoder().decode(OperatingPoint.self, from: Data(text.utf8)),
      p.threshold.isFinite, p.threshold >= 0, p.threshold <= 1, p.targetSensitivity > 0,
      p.targetSensitivity <= 1, p.malignant >= 0, p.benign >= 0,
      p.minSpecificity.map({ $0 > 0 && $0 <= 1 }) ?? true
    else { return nil }
    return p
  }

  public func encoded() -> String {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: (try? enc.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
  }
}

/// Screening calls at one threshold against the truth: the four counts and the rates.
public struct ScreeningCounts: Equatable, Sendable, Encodable {
  public var threshold: Double
  /// Malignant images called possibly malignant / missed.
  public var caught: Int
  public var missed: Int
  /// Benign images called possibly malignant (false alarms) / cleared.
  public var falseAlarms: Int
  public var cleared: Int

  public init(pMalignant: [Double], isMalignant: [Bool], threshold: Double) {
    precondition(pMalignant.count == isMalignant.count)
    self.threshold = threshold
    caught = 0
    missed = 0
    falseAlarms = 0
    cleared = 0
    for (p, m) in zip(pMalignant, isMalignant) {
      switch (m, p >= threshold) {
      case (true, true): caught += 1
      case (true, false): missed += 1
      case (false, true): falseAlarms += 1
      case (false, false): cleared += 1
      }
    }
  }

  public var malignant: Int { caught + missed }
  public var benign: Int { falseAlarms + cleared }
  /// Nil without a malignant image.
  public var sensitivity: Double? { malignant == 0 ? nil : Double(caught) / Double(malignant) }
  /// Nil without a benign image.
  public var specificity: Double? { benign == 0 ? nil : Double(cleared) / Double(benign) }

  enum CodingKeys: String, CodingKey {
    case threshold, caught, missed, cleared, sensitivity, specificity, malignant, benign
    case falseAlarms = "false_alarms"
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(threshold, forKey: .threshold)
    try c.encode(caught, forKey: .caught)
    try c.encode(missed, forKey: .missed)
    try c.encode(falseAlarms, forKey: .falseAlarms)
    try c.encode(cleared, forKey: .cleared)
    try c.encode(malignant, forKey: .malignant)
    try c.encode(benign, forKey: .benign)
    try c.encode(sensitivity, forKey: .sensitivity)
    try c.encode(specificity, forKey: .specificity)
  }
}

/// ROC and precision-recall curves of P(malignant) against the truth, one point per distinct
/// score (every image at or above it called positive), from the strictest threshold down.
public struct ScreeningCurves: Equatable, Sendable {
  public struct Point: Equatable, Sendable {
    public var threshold: Double
    public var falsePositiveRate: Double
    public var truePositiveRate: Double
    /// Precision at this threshold (nil when nothing is called positive).
    public var precision: Double?
  }

  /// Starts at (0, 0) with threshold +∞ and ends at (1, 1).
  public var points: [Point]
  public var positives: Int
  public var negatives: Int

  /// Nil unless there is at least one malignant and one benign image.
  public init?(pMalignant: [Double], isMalignant: [Bool]) {
    precondition(pMalignant.count == isMalignant.count)
    positives = isMalignant.filter { $0 }.count
    negatives = isMalignant.count - positives
    guard positives > 0, negatives > 0 else { return nil }
    let order = pMalignant.indices.sorted { pMalignant[$0] > pMalignant[$1] }
    var pts = [Point(threshold: .infinity, falsePositiveRate: 0, truePositiveRate: 0, precision: nil)]
    var tp = 0
    var fp = 0
    var i = 0
    while i < order.count {
      let t = pMalignant[order[i]]
      // Tied scores move together: one threshold cannot separate them.
      while i < order.count && pMalignant[order[i]] == t {
        if isMalignant[order[i]] { tp += 1 } else { fp += 1 }
        i += 1
      }
      pts.append(
        Point(
          threshold: t, falsePositiveRate: Double(fp) / Double(negatives),
          truePositiveRate: Double(tp) / Double(positives), precision: Double(tp) / Double(tp + fp)))
    }
    points = pts
  }

  /// Area under the ROC curve by the trapezoid rule (ties count one half, as the Mann-Whitney U).
  public var rocAUC: Double {
    var a = 0.0
    for (p, q) in zip(points, points.dropFirst()) {
      a += (q.falsePositiveRate - p.falsePositiveRate) * (q.truePositiveRate + p.truePositiveRate) / 2
    }
    return a
  }

  /// Average precision: Σ (Rₙ − Rₙ₋₁) Pₙ over the thresholds (scikit-learn's definition).
  public var averagePrecision: Double {
    var a = 0.0
    for (p, q) in zip(points, points.dropFirst()) {
      a += (q.truePositiveRate - p.truePositiveRate) * (q.precision ?? 0)
    }
    return a
  }
}
