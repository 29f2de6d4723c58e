/// Agreement weights for weighted kappa: `values[i * k + j]` is how much credit a pair
/// (category i, category j) earns, 1 on the diagonal (full agreement) and 0 for complete
/// disagreement. This is Cohen's (1968) w; sklearn and statsmodels take disagreement
/// weights, which are 1 - w here (kappa does not change under that rescaling).
public struct AgreementWeights: Sendable, Equatable, Hashable {
  /// "identity", "linear", "quadratic", "clinical" or "custom"; reported as `weighted.weights`.
  public let name: String
  public let k: Int
  public let values: [Double]

  /// A custom matrix, checked: k × k, finite, within [0, 1], 1 on the diagonal.
  public init(name: String = "custom", k: Int, values: [Double]) throws(WeightError) {
    guard k >= 1 else { throw .empty }
    guard values.count == k * k else { throw .shape(expected: k, count: values.count) }
    for i in 0..<k {
      for j in 0..<k {
        let w = values[i * k + j]
        guard w.isFinite, w >= 0, w <= 1 else { throw .outOfRange(row: i, col: j, value: w) }
        if i == j && w != 1 { throw .diagonal(index: i, value: w) }
      }
    }
    self.name = name
    self.k = k
    self.values = values
  }

  private init(unchecked name: String, k: Int, values: [Double]) {
    self.name = name
    self.k = k
    self.values = values
  }

  public subscript(i: Int, j: Int) -> Double { values[i * k + j] }

  /// 1 on the diagonal, 0 elsewhere: plain Cohen's kappa.
  public static func identity(_ k: Int) -> AgreementWeights {
    var v = [Double](repeating: 0, count: k * k)
    for i in 0..<k { v[i * k + i] = 1 }
    return AgreementWeights(unchecked: "identity", k: k, values: v)
  }

  /// w = 1 - |i - j| / (k - 1) (Cicchetti & Allison), on the category order given.
  public static func linear(_ k: Int) -> Result<AgreementWeights, Undefined> {
    guard k >= 2 else {
      return .failure(Undefined("weighted.kappa", "linear weights need at least two categories"))
    }
    let d = Double(k - 1)
    var v = [Double](repeating: 0, count: k * k)
    for i in 0..<k { for j in 0..<k { v[i * k + j] = 1 - Double(abs(i - j)) / d } }
    return .success(AgreementWeights(unchecked: "linear", k: k, values: v))
  }

  /// w = 1 - (i - j)² / (k - 1)² (Fleiss & Cohen), on the category order given.
  public static func quadratic(_ k: Int) -> Result<AgreementWeights, Undefined> {
    guard k >= 2 else {
      return .failure(Undefined("weighted.kappa", "quadratic weights need at least two categories"))
    }
    let d = Double((k - 1) * (k - 1))
    var v = [Double](repeating: 0, count: k * k)
    for i in 0..<k { for j in 0..<k { v[i * k + j] = 1 - Double((i - j) * (i - j)) / d } }
    return .success(AgreementWeights(unchecked: "quadratic", k: k, values: v))
  }

  /// The malignant classes of the `all4` schema in maturation order, as the clinical
  /// weights rank them.
  public static let clinicalMalignantOrder = ["Pro-B", "Early-B", "Pre-B"]
  /// The benign class of the `all4` schema.
  public static let clinicalBenign = "Benign"

  /// The clinical matrix for the `all4` schema, built from category names so any category
  /// order works:
  /// - Benign against Benign 1; Benign against any malignant class 0 (calling a leukemia
  ///   benign, or the reverse, earns nothing);
  /// - the malignant classes ranked Pro-B = 0 < Early-B = 1 < Pre-B = 2, with linear
  ///   weights between them, w = 1 - |rank_i - rank_j| / 2: Pro-B/Early-B 0.5,
  ///   Early-B/Pre-B 0.5, Pro-B/Pre-B 0, same class 1.
  /// Names match case-insensitively; the categories must be exactly these four.
  public static func clinical(categories: [String]) throws(WeightError) -> AgreementWeights {
    let expected = [clinicalBenign] + clinicalMalignantOrder
    let lower = categories.map { $0.lowercased() }
    guard lower.count == 4, Set(lower) == Set(expected.map { $0.lowercased() }) else {
      throw .clinicalNeedsAll4(categories)
    }
    // rank: nil for Benign, 0...2 for the malignant classes.
    let rank: [Int?] = lower.map { name in
      clinicalMalignantOrder.firstIndex { $0.lowercased() == name }
    }
    let k = 4
    var v = [Double](repeating: 0, count: k * k)
    for i in 0..<k {
      for j in 0..<k {
        switch (rank[i], rank[j]) {
        case (nil, nil): v[i * k + j] = 1
        case (let a?, let b?): v[i * k + j] = 1 - Double(abs(a - b)) / 2
        default: v[i * k + j] = 0
        }
      }
    }
    return AgreementWeights(unchecked: "clinical", k: k, values: v)
  }
}

/// What is wrong with a weight matrix.
public enum WeightError: Error, Sendable, Equatable, CustomStringConvertible {
  case empty
  case shape(expected: Int, count: Int)
  case outOfRange(row: Int, col: Int, value: Double)
  case diagonal(index: Int, value: Double)
  case clinicalNeedsAll4([String])

  public var description: String {
    switch self {
    case .empty: return "the weight matrix is empty"
    case .shape(let k, let count): return "expected a \(k)×\(k) weight matrix, found \(count) values"
    case .outOfRange(let i, let j, let w):
      return "weight at row \(i + 1), column \(j + 1) is \(w); agreement weights lie in [0, 1]"
    case .diagonal(let i, let w):
      return "diagonal weight \(i + 1) is \(w); a category agrees fully with itself (1)"
    case .clinicalNeedsAll4(let c):
      return "clinical weights are defined for the all4 categories Benign, Pro-B, Early-B, Pre-B; "
        + "the categories are " + c.joined(separator: ", ")
    }
  }
}
