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

  /// The items of `table` that have at least one rating (with `completeOnly`, only those
  /// every rater of the table rated), identical count patterns merged: the coefficients
  /// then cost O(patterns) instead of O(items), and a 100,000-item session with a few
  /// raters has only tens of patterns. Patterns keep the order they first appear in.
  public init(_ table: RatingTable, completeOnly: Bool = false) {
    let q = table.categories.count
    let m = table.raters.count
    var counts: [Int32] = []
    var multiplicity: [Int] = []
    // A pattern's key is its counts in base m + 1, i.e. Σ over the item's ratings of
    // (m + 1)^code; small key spaces use a direct table, others a dictionary of rows.
    var power: [Int] = []
    var limit: Int? = 1
    for _ in 0..<q {
      power.append(limit ?? 0)
      if let l = limit {
        let (p, overflow) = l.multipliedReportingOverflow(by: m + 1)
        limit = overflow || p > 1 << 16 ? nil : p
      }
    }
    var direct = [Int32](repeating: -1, count: limit ?? 0)
    var hashed: [[Int32]: Int] = [:]
    var row = [Int32](repeating: 0, count: q)
    table.codes.withUnsafeBufferPointer { codes in
      for i in 0..<table.items.count {
        var r = 0
        var key = 0
        for j in 0..<m {
          let code = codes[i * m + j]
          if code >= 0 {
            r += 1
            if limit != nil { key += power[Int(code)] }
          }
        }
        if r == 0 || (completeOnly && r < m) { continue }
        if limit != nil, direct[key] >= 0 {
          multiplicity[Int(direct[key])] += 1
          continue
        }
        for c in 0..<q { row[c] = 0 }
        for j in 0..<m {
          let code = codes[i * m + j]
          if code >= 0 { row[Int(code)] += 1 }
        }
        if limit != nil {
          direct[key] = Int32(multiplicity.count)
        } else if let p = hashed[row] {
          multiplicity[p] += 1
          continue
        } else {
          hashed[row] = multiplicity.count
        }
        counts.append(contentsOf: row)
        multiplicity.append(1)
      }
    }
    self.init(q: q, counts: counts, multiplicity: multiplicity)
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
