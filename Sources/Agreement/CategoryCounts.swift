/// How many raters put each item in each category, n_ik: the input of the multi-rater
/// coefficients (Fleiss, Krippendorff, Gwet), which do not care which rater said what.
///
/// Rows are patterns with a multiplicity, so that a confusion matrix (one pattern per cell)
/// and a rating table (one pattern per item) share the same formulas.
public struct CategoryCounts: Sendable, Equatable {
  /// Categories of the scale.
  public let q: Int
  /// Pattern-major counts: `counts[p * q + c]` raters put pattern p's items in category c.
  public let counts: [Int32]
  /// Items with pattern p.
  public let multiplicity: [Int]

  public init(q: Int, counts: [Int32], multiplicity: [Int]) {
    precondition(counts.count == q * multiplicity.count && counts.allSatisfy { $0 >= 0 })
    precondition(multiplicity.allSatisfy { $0 >= 0 })
    self.q = q
    self.counts = counts
    self.multiplicity = multiplicity
  }

  /// One pattern per item of `table` that has at least one rating; with `completeOnly`,
  /// only the items every rater of the table rated.
  public init(_ table: RatingTable, completeOnly: Bool = false) {
    let q = table.categories.count
    let m = table.raters.count
    var counts: [Int32] = []
    counts.reserveCapacity(table.items.count * q)
    var row = [Int32](repeating: 0, count: q)
    var kept = 0
    table.codes.withUnsafeBufferPointer { codes in
      for i in 0..<table.items.count {
        for c in 0..<q { row[c] = 0 }
        var r = 0
        for j in 0..<m {
          let code = codes[i * m + j]
          if code >= 0 {
            row[Int(code)] += 1
            r += 1
          }
        }
        if r == 0 || (completeOnly && r < m) { continue }
        counts.append(contentsOf: row)
        kept += 1
      }
    }
    self.init(q: q, counts: counts, multiplicity: [Int](repeating: 1, count: kept))
  }

  /// The items of a two-rater confusion matrix: one pattern per non-empty cell.
  public init(_ table: ConfusionMatrix) {
    let q = table.k
    var counts: [Int32] = []
    var multiplicity: [Int] = []
    for a in 0..<q {
      for b in 0..<q where table[a, b] > 0 {
        var row = [Int32](repeating: 0, count: q)
        row[a] += 1
        row[b] += 1
        counts.append(contentsOf: row)
        multiplicity.append(table[a, b])
      }
    }
    self.init(q: q, counts: counts, multiplicity: multiplicity)
  }

  public var patterns: Int { multiplicity.count }
  /// Items counted.
  public var n: Int { multiplicity.reduce(0, +) }

  /// Ratings of pattern p.
  func ratings(_ p: Int) -> Int {
    var r = 0
    for c in 0..<q { r += Int(counts[p * q + c]) }
    return r
  }

  /// π_k = (1/n) Σ_i n_ik / r_i: each item's share of its ratings per category, averaged.
  func categoryShares() -> [Double] {
    var pi = [Double](repeating: 0, count: q)
    for p in 0..<patterns {
      let r = ratings(p)
      guard r > 0 else { continue }
      let w = Double(multiplicity[p]) / Double(r)
      for c in 0..<q { pi[c] += w * Double(counts[p * q + c]) }
    }
    let n = Double(self.n)
    return pi.map { $0 / n }
  }

  /// Per-pattern pairwise agreement Σ_k n_ik (n_ik - 1) / (r_i (r_i - 1)); nil below 2 ratings.
  func pairAgreement(_ p: Int) -> Double? {
    let r = ratings(p)
    guard r >= 2 else { return nil }
    var s = 0
    for c in 0..<q {
      let x = Int(counts[p * q + c])
      s += x * (x - 1)
    }
    return Double(s) / Double(r * (r - 1))
  }
}
