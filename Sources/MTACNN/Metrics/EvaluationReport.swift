import Agreement

/// Everything `blastview eval --json` prints, with issue 4's keys: `n`, `accuracy`, `kappa`,
/// `macro`, `per_class`, `confusion` at the top level (from one confusion matrix), `binary`
/// (benign against malignant, same metrics) for a hierarchical schema, `segmentation` when masks
/// were given, `calibration`, `robustness` when `--colour-shift all` was asked for, and
/// `undefined` (a figure that is null, with the reason, as `agree` reports it).
public struct EvaluationReport: Equatable, Sendable, Encodable {
  public var classification: ClassificationReport
  public var binary: ClassificationReport?
  public var segmentation: SegmentationReport?
  public var calibration: Calibration
  public var robustness: [RobustnessRow]?

  public struct Calibration: Equatable, Sendable, Codable {
    /// Expected calibration error over 15 equal-width confidence bins.
    public var ece: Double
    public var bins: Int
  }

  /// One colour shift's accuracy and macro-F1 (issue 10's robustness table).
  public struct RobustnessRow: Equatable, Sendable, Codable {
    public var shift: String
    public var accuracy: Double
    public var macroF1: Double
    public var n: Int

    enum CodingKeys: String, CodingKey {
      case shift, accuracy, n
      case macroF1 = "macro_f1"
    }

    public init(shift: ColourShift, report: ClassificationReport) {
      self.shift = shift.description
      accuracy = report.accuracy
      macroF1 = report.macro.f1
      n = report.n
    }
  }

  /// Builds the report from per-image predictions: `probabilities[i]` over the schema's classes,
  /// `truth[i]` the reference class.
  public init(
    schema: ClassSchema, probabilities: [[Double]], truth: [Int], segmentation: SegmentationReport? = nil,
    robustness: [RobustnessRow]? = nil
  ) {
    let predicted = probabilities.map { p in p.indices.max { p[$0] < p[$1] } ?? 0 }
    let m = ConfusionMatrix(k: schema.classes.count, truth: truth, predicted: predicted)
    classification = ClassificationReport(classes: schema.classes, matrix: m)
    binary =
      schema.hierarchical
      ? ClassificationReport(
        classes: [schema.classes[0], "Malignant"], matrix: m.merged(groups: 2) { schema.binaryGroup($0)! })
      : nil
    self.segmentation = segmentation
    calibration = Calibration(
      ece: expectedCalibrationError(probabilities: probabilities, truth: truth), bins: 15)
    self.robustness = robustness
  }

  enum CodingKeys: String, CodingKey {
    case n, accuracy, kappa, macro, classes, confusion, binary, segmentation, calibration, robustness
    case undefined
    case perClass = "per_class"
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    let r = classification
    try c.encode(r.n, forKey: .n)
    try c.encode(r.accuracy, forKey: .accuracy)
    try c.encode(r.kappa.value, forKey: .kappa)
    try c.encode(r.macro, forKey: .macro)
    try c.encode(r.perClass, forKey: .perClass)
    try c.encode(r.classes, forKey: .classes)
    try c.encode(r.confusion, forKey: .confusion)
    try c.encodeIfPresent(binary, forKey: .binary)
    try c.encodeIfPresent(segmentation, forKey: .segmentation)
    try c.encode(calibration, forKey: .calibration)
    try c.encodeIfPresent(robustness, forKey: .robustness)
    try c.encode(
      undefined.map { ["statistic": $0.statistic, "reason": $0.reason] }, forKey: .undefined)
  }

  /// Figures without a value, with the reason, named by their JSON path (`kappa`,
  /// `binary.kappa`): `agree`'s convention, so a script reads both reports the same way.
  public var undefined: [Undefined] {
    classification.undefined
      + (binary?.undefined ?? []).map { Undefined("binary." + $0.statistic, $0.reason) }
  }
}
