/// A square confusion matrix: rows are the truth, columns the prediction, in schema order.
public struct ConfusionMatrix: Equatable, Sendable, Codable {
  public let classes: [String]
  public private(set) var counts: [[Int]]

  public init(classes: [String]) {
    self.classes = classes
    counts = Array(repeating: Array(repeating: 0, count: classes.count), count: classes.count)
  }

  public init(classes: [String], counts: [[Int]]) {
    precondition(counts.count == classes.count && counts.allSatisfy { $0.count == classes.count })
    self.classes = classes
    self.counts = counts
  }

  public init(classes: [String], truth: [Int], predicted: [Int]) {
    precondition(truth.count == predicted.count)
    self.init(classes: classes)
    for (t, p) in zip(truth, predicted) { add(truth: t, predicted: p) }
  }

  public mutating func add(truth: Int, predicted: Int) { counts[truth][predicted] += 1 }

  public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }

  /// Collapses classes into groups (e.g. Benign vs the malignant subtypes).
  public func merged(into names: [String], group: (Int) -> Int) -> ConfusionMatrix {
    var m = ConfusionMatrix(classes: names)
    for t in 0..<classes.count {
      for p in 0..<classes.count { m.counts[group(t)][group(p)] += counts[t][p] }
    }
    return m
  }
}

/// Precision, recall, F1, specificity and NPV of one class (one-vs-rest), or their macro average.
/// A ratio with a zero denominator is 0 (scikit-learn's `zero_division=0`).
public struct ClassMetrics: Equatable, Sendable, Codable {
  public var precision: Double
  public var recall: Double
  public var f1: Double
  public var specificity: Double
  public var npv: Double
  /// Images of this class (per class); all images (macro).
  public var support: Int
}

/// Every classification figure of `blastview eval`, computed from one confusion matrix. The JSON
/// keys are issue 4's: n, accuracy, kappa, macro, per_class, confusion.
public struct ClassificationReport: Equatable, Sendable, Codable {
  public var n: Int
  public var accuracy: Double
  /// Cohen's kappa, the standard multi-class formula: (p_o - p_e) / (1 - p_e),
  /// p_e = sum_k p_k+ p_+k. When p_e = 1 (one class only, everywhere), kappa is 1 if p_o = 1, else 0.
  public var kappa: Double
  public var macro: ClassMetrics
  public var perClass: [String: ClassMetrics]
  /// Class names in schema order (the order of `confusion`'s rows and columns).
  public var classes: [String]
  public var confusion: [[Int]]

  enum CodingKeys: String, CodingKey {
    case n, accuracy, kappa, macro, classes, confusion
    case perClass = "per_class"
  }

  public init(_ m: ConfusionMatrix) {
    let c = m.counts
    let k = m.classes.count
    let n = m.total
    let rows = c.map { $0.reduce(0, +) }
    let cols = (0..<k).map { j in c.reduce(0) { $0 + $1[j] } }
    let diag = (0..<k).reduce(0) { $0 + c[$1][$1] }
    let po = ratio(diag, n)
    let pe = (0..<k).reduce(0.0) { $0 + ratio(rows[$1], n) * ratio(cols[$1], n) }
    let kappa = pe == 1 ? (po == 1 ? 1 : 0) : (po - pe) / (1 - pe)
    var per: [String: ClassMetrics] = [:]
    var list: [ClassMetrics] = []
    for i in 0..<k {
      let tp = c[i][i]
      let fn = rows[i] - tp
      let fp = cols[i] - tp
      let tn = n - tp - fn - fp
      let p = ratio(tp, tp + fp)
      let r = ratio(tp, tp + fn)
      let f = p + r > 0 ? 2 * p * r / (p + r) : 0
      let cm = ClassMetrics(
        precision: p, recall: r, f1: f, specificity: ratio(tn, tn + fp), npv: ratio(tn, tn + fn),
        support: rows[i])
      per[m.classes[i]] = cm
      list.append(cm)
    }
    func mean(_ f: (ClassMetrics) -> Double) -> Double {
      list.isEmpty ? 0 : list.reduce(0) { $0 + f($1) } / Double(list.count)
    }
    self.n = n
    accuracy = po
    self.kappa = kappa
    macro = ClassMetrics(
      precision: mean(\.precision), recall: mean(\.recall), f1: mean(\.f1),
      specificity: mean(\.specificity), npv: mean(\.npv), support: n)
    perClass = per
    classes = m.classes
    confusion = c
  }
}

/// Expected calibration error: confidence = the largest class probability, 15 equal-width bins on
/// (0, 1] (a confidence of exactly b/15 falls in bin b), ECE = sum over bins of
/// (share of images) * |accuracy - mean confidence|.
public func expectedCalibrationError(probabilities: [[Double]], truth: [Int], bins: Int = 15) -> Double {
  precondition(probabilities.count == truth.count && bins > 0)
  guard !truth.isEmpty else { return 0 }
  var count = [Int](repeating: 0, count: bins)
  var correct = [Int](repeating: 0, count: bins)
  var confidence = [Double](repeating: 0, count: bins)
  for (p, t) in zip(probabilities, truth) {
    var best = 0
    for j in p.indices where p[j] > p[best] { best = j }
    let conf = p[best]
    let b = min(bins - 1, max(0, Int((conf * Double(bins)).rounded(.up)) - 1))
    count[b] += 1
    confidence[b] += conf
    if best == t { correct[b] += 1 }
  }
  let n = Double(truth.count)
  var e = 0.0
  for b in 0..<bins where count[b] > 0 {
    let c = Double(count[b])
    e += c / n * abs(Double(correct[b]) / c - confidence[b] / c)
  }
  return e
}

@inline(__always) func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
