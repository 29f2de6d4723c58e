/// The rater × rater table of two raters' labels: `counts[i * k + j]` items that the row
/// rater labelled category i and the column rater labelled category j.
///
/// Every two-rater coefficient is a function of this table alone, which is why the module
/// computes them from it (and why the bootstrap can resample cells instead of strings).
public struct ConfusionMatrix: Sendable, Equatable, Hashable {
  /// Number of categories (rows = columns).
  public let k: Int
  /// Row-major k × k counts.
  public private(set) var counts: [Int]

  /// An empty k × k table.
  public init(k: Int) {
    precondition(k >= 0, "a confusion matrix needs a non-negative number of categories")
    self.k = k
    self.counts = [Int](repeating: 0, count: k * k)
  }

  /// A table from row-major counts; nil when the shape is wrong or a count is negative.
  public init?(k: Int, counts: [Int]) {
    guard k >= 0, counts.count == k * k, counts.allSatisfy({ $0 >= 0 }) else { return nil }
    self.k = k
    self.counts = counts
  }

  /// The table of two raters' codes, item by item. Items where either code is missing
  /// (negative) are skipped: only items both raters labelled enter a two-rater statistic.
  /// Codes must be below `k`.
  public init(k: Int, rows a: [Int32], cols b: [Int32]) {
    precondition(a.count == b.count, "the two raters' code arrays differ in length")
    self.init(k: k)
    counts.withUnsafeMutableBufferPointer { cells in
      a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
          for i in 0..<a.count {
            let x = Int(a[i])
            let y = Int(b[i])
            if x < 0 || y < 0 { continue }
            precondition(x < k && y < k, "category code out of range")
            cells[x * k + y] += 1
          }
        }
      }
    }
  }

  /// A classifier's table: rows the true class, columns the predicted one, item by item.
  public init(k: Int, truth: [Int], predicted: [Int]) {
    precondition(truth.count == predicted.count, "truth and predictions differ in length")
    self.init(k: k)
    for (t, p) in zip(truth, predicted) {
      precondition(t >= 0 && t < k && p >= 0 && p < k, "class index out of range")
      counts[t * k + p] += 1
    }
  }

  public subscript(row: Int, col: Int) -> Int {
    get { counts[row * k + col] }
    set {
      precondition(newValue >= 0)
      counts[row * k + col] = newValue
    }
  }

  /// Number of items (both raters labelled).
  public var n: Int { counts.reduce(0, +) }

  /// How often the row rater used each category.
  public var rowTotals: [Int] {
    (0..<k).map { i in (0..<k).reduce(0) { $0 + counts[i * k + $1] } }
  }

  /// How often the column rater used each category.
  public var columnTotals: [Int] {
    (0..<k).map { j in (0..<k).reduce(0) { $0 + counts[$1 * k + j] } }
  }

  /// Items on the diagonal (both raters gave the same category).
  public var agreements: Int { (0..<k).reduce(0) { $0 + counts[$1 * k + $1] } }

  /// The table with categories collapsed into `groups` groups (e.g. Benign against the
  /// malignant subtypes); `group(i)` is category i's group, below `groups`.
  public func merged(groups: Int, by group: (Int) -> Int) -> ConfusionMatrix {
    var m = ConfusionMatrix(k: groups)
    for i in 0..<k { for j in 0..<k { m.counts[group(i) * groups + group(j)] += counts[i * k + j] } }
    return m
  }

  /// Row i as an array (the table as nested arrays: `(0..<k).map(row)`).
  public func row(_ i: Int) -> [Int] { Array(counts[(i * k)..<((i + 1) * k)]) }

  /// The same table with the raters swapped.
  public var transposed: ConfusionMatrix {
    var t = ConfusionMatrix(k: k)
    for i in 0..<k { for j in 0..<k { t.counts[j * k + i] = counts[i * k + j] } }
    return t
  }
}
