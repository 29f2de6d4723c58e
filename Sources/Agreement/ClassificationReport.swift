/// Precision, recall, F1, specificity and NPV of one class (one-vs-rest), or their macro average.
/// A ratio with a zero denominator is 0 (scikit-learn's `zero_division=0`): a class nobody
/// predicted has precision 0, which is how the model-evaluation literature tabulates it.
public struct ClassMetrics: Equatable, Sendable, Codable {
  public var precision: Double
  public var recall: Double
  public var f1: Double
  public var specificity: Double
  public var npv: Double
  /// Items of this class (per class); all items (macro).
  public var support: Int

  public init(precision: Double, recall: Double, f1: Double, specificity: Double, npv: Double, support: Int) {
    self.precision = precision
    self.recall = recall
    self.f1 = f1
    self.specificity = specificity
    self.npv = npv
    self.support = support
  }
}

/// A classifier against the truth, every figure from one confusion matrix (rows the truth,
/// columns the prediction): accuracy, Cohen's kappa, per-class and macro precision, recall, F1,
/// specificity and NPV. `blastview eval`, the validation gate, training's validation pass and
/// the session dashboard's model-against-consensus line all report a model through it.
///
/// Kappa is `cohenKappa` of the same table, so it is undefined exactly when `agree` says so:
/// when chance agreement p_e is 1 (the truth and the predictions are all one and the same
/// class), kappa is 0/0, and the report says so rather than printing 1 or 0.
public struct ClassificationReport: Equatable, Sendable {
  /// Class names in the order of the matrix's rows and columns.
  public let classes: [String]
  public let matrix: ConfusionMatrix
  public let n: Int
  public let accuracy: Double
  public let kappa: Result<Double, Undefined>
  public let macro: ClassMetrics
  public let perClass: [String: ClassMetrics]

  public init(classes: [String], matrix m: ConfusionMatrix) {
    precondition(classes.count == m.k, "one class name per row of the confusion matrix")
    let k = m.k
    let n = m.n
    let rows = m.rowTotals
    let cols = m.columnTotals
    var per: [String: ClassMetrics] = [:]
    var list: [ClassMetrics] = []
    for i in 0..<k {
      let tp = m[i, i]
      let fn = rows[i] - tp
      let fp = cols[i] - tp
      let tn = n - tp - fn - fp
      let p = ratio(tp, tp + fp)
      let r = ratio(tp, tp + fn)
      let f = p + r > 0 ? 2 * p * r / (p + r) : 0
      let cm = ClassMetrics(
        precision: p, recall: r, f1: f, specificity: ratio(tn, tn + fp), npv: ratio(tn, tn + fn),
        support: rows[i])
      per[classes[i]] = cm
      list.append(cm)
    }
    func mean(_ f: (ClassMetrics) -> Double) -> Double {
      list.isEmpty ? 0 : list.reduce(0) { $0 + f($1) } / Double(list.count)
    }
    self.classes = classes
    matrix = m
    self.n = n
    accuracy = ratio(m.agreements, n)
    kappa = cohenKappa(m).map(\.kappa).mapError { _ in
      Undefined(
        "kappa",
        n == 0
          ? "there are no items to compare"
          : "the truth and the predictions are all one and the same class, so chance agreement p_e = 1 and kappa is 0/0"
      )
    }
    macro = ClassMetrics(
      precision: mean(\.precision), recall: mean(\.recall), f1: mean(\.f1),
      specificity: mean(\.specificity), npv: mean(\.npv), support: n)
    perClass = per
  }

  /// A classifier's report from per-item class indices.
  public init(classes: [String], truth: [Int], predicted: [Int]) {
    self.init(
      classes: classes, matrix: ConfusionMatrix(k: classes.count, truth: truth, predicted: predicted))
  }

  /// The confusion matrix as nested arrays (rows the truth), as the JSON reports print it.
  public var confusion: [[Int]] { (0..<matrix.k).map(matrix.row) }

  /// Figures without a value, with the reason (kappa, when p_e = 1).
  public var undefined: [Undefined] { kappa.undefined.map { [$0] } ?? [] }
}

extension ClassificationReport: Encodable {
  enum CodingKeys: String, CodingKey {
    case n, accuracy, kappa, macro, classes, confusion
    case perClass = "per_class"
  }

  /// The keys of `blastview eval --json` (issue 4): an undefined kappa is null, as in `agree`;
  /// the reason goes in the report's `undefined` list.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(n, forKey: .n)
    try c.encode(accuracy, forKey: .accuracy)
    try c.encode(kappa.value, forKey: .kappa)
    try c.encode(macro, forKey: .macro)
    try c.encode(perClass, forKey: .perClass)
    try c.encode(classes, forKey: .classes)
    try c.encode(confusion, forKey: .confusion)
  }
}

/// a / b, or 0 when b is 0 (scikit-learn's `zero_division=0`).
@inline(__always) private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
