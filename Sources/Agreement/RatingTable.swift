/// Ratings of items by raters, as category codes: the input of every multi-rater statistic.
///
/// Codes index `categories`, whose order is the user's (from `--categories` or the label
/// schema), never an alphabetical one: ordinal statistics and weights depend on it.
/// A rating a rater did not give is `RatingTable.missing`.
public struct RatingTable: Sendable, Equatable {
  /// The code of a missing rating.
  public static let missing: Int32 = -1

  public let categories: [String]
  public let raters: [String]
  public let items: [String]
  /// Item-major codes: `codes[item * raters.count + rater]`, `missing` where absent.
  public let codes: [Int32]

  /// A table from codes. Programmer errors (wrong count, code out of range) trap; user input
  /// comes through `init(long:categories:raters:)`, which reports what is wrong instead.
  public init(categories: [String], raters: [String], items: [String], codes: [Int32]) {
    precondition(codes.count == items.count * raters.count, "codes must hold items × raters entries")
    precondition(
      codes.allSatisfy { $0 == RatingTable.missing || ($0 >= 0 && Int($0) < categories.count) },
      "category code out of range")
    self.categories = categories
    self.raters = raters
    self.items = items
    self.codes = codes
  }

  /// A table from long rows (item, rater, label), e.g. a CSV or the case store's current
  /// labels. Items keep the order they first appear in. When `raters` is given, rows of
  /// other raters are skipped and the table's raters are exactly those, in that order;
  /// otherwise raters keep the order they first appear in.
  ///
  /// - Throws: `RatingInputError` naming the row (0-based index into `rows`) of an unknown
  ///   label or of a second rating of the same item by the same rater.
  public init(long rows: [LongRating], categories: [String], raters: [String]? = nil)
    throws(RatingInputError)
  {
    guard !categories.isEmpty else { throw .noCategories }
    var categoryIndex: [String: Int32] = [:]
    for (i, c) in categories.enumerated() {
      if categoryIndex.updateValue(Int32(i), forKey: c) != nil { throw .duplicateCategory(c) }
    }
    var raterIndex: [String: Int] = [:]
    var raterNames: [String] = []
    if let raters {
      for r in raters {
        if raterIndex.updateValue(raterNames.count, forKey: r) != nil { throw .duplicateRater(r) }
        raterNames.append(r)
      }
    } else {
      for row in rows where raterIndex[row.rater] == nil {
        raterIndex[row.rater] = raterNames.count
        raterNames.append(row.rater)
      }
    }
    var itemIndex: [String: Int] = [:]
    itemIndex.reserveCapacity(rows.count)
    var itemNames: [String] = []
    // Each kept row as (item, rater, code); the table is filled once items are known.
    var kept: [(item: Int, rater: Int, code: Int32, row: Int)] = []
    kept.reserveCapacity(rows.count)
    // Rows usually repeat the previous row's rater and use a handful of labels: compare
    // with the last match before hashing (string equality of short names is two words).
    var lastRater: (name: String, index: Int?)? = nil
    var lastLabel: (name: String, code: Int32)? = nil
    var lastItem: (name: String, index: Int)? = nil
    for (n, row) in rows.enumerated() {
      let r: Int?
      if let last = lastRater, last.name == row.rater {
        r = last.index
      } else {
        r = raterIndex[row.rater]
        lastRater = (row.rater, r)
      }
      guard let r else { continue }
      let code: Int32
      if let last = lastLabel, last.name == row.label {
        code = last.code
      } else if let c = Self.lookup(row.label, categories, categoryIndex) {
        code = c
        lastLabel = (row.label, c)
      } else {
        throw .unknownLabel(row: n, label: row.label, categories: categories)
      }
      // Rows of one item are usually adjacent (a CSV grouped by item, the store's rows
      // ordered by case); otherwise one hash: the inout access inserts the next index.
      let item: Int
      if let last = lastItem, last.name == row.item {
        item = last.index
      } else {
        item = Self.index(of: row.item, in: &itemIndex[row.item, default: itemNames.count])
        if item == itemNames.count { itemNames.append(row.item) }
        lastItem = (row.item, item)
      }
      kept.append((item, r, code, n))
    }
    let m = raterNames.count
    var codes = [Int32](repeating: RatingTable.missing, count: itemNames.count * m)
    var firstRow = [Int](repeating: -1, count: itemNames.count * m)
    for k in kept {
      let slot = k.item * m + k.rater
      if firstRow[slot] >= 0 {
        throw .duplicateRating(
          row: k.row, firstRow: firstRow[slot], item: itemNames[k.item], rater: raterNames[k.rater])
      }
      firstRow[slot] = k.row
      codes[slot] = k.code
    }
    self.init(categories: categories, raters: raterNames, items: itemNames, codes: codes)
  }

  private static func index(of _: String, in slot: inout Int) -> Int { slot }

  /// A category's code: a linear scan for short schemas (cheaper than hashing a string),
  /// the dictionary otherwise.
  private static func lookup(_ label: String, _ categories: [String], _ index: [String: Int32]) -> Int32? {
    if categories.count <= 16 {
      for (i, c) in categories.enumerated() where c == label { return Int32(i) }
      return nil
    }
    return index[label]
  }

  /// The code rater `rater` gave item `item`, or nil.
  public func code(item: Int, rater: Int) -> Int32? {
    let c = codes[item * raters.count + rater]
    return c == RatingTable.missing ? nil : c
  }

  /// One rater's codes over all items, `missing` where absent.
  public func column(_ rater: Int) -> [Int32] {
    let m = raters.count
    return (0..<items.count).map { codes[$0 * m + rater] }
  }

  /// Number of ratings each rater gave.
  public var ratingsPerRater: [Int] {
    let m = raters.count
    var counts = [Int](repeating: 0, count: m)
    codes.withUnsafeBufferPointer { codes in
      for i in 0..<items.count {
        for j in 0..<m where codes[i * m + j] != RatingTable.missing { counts[j] += 1 }
      }
    }
    return counts
  }

  /// The table restricted to some raters (by index, in the order given); items no kept
  /// rater rated are dropped.
  public func selecting(raters keep: [Int]) -> RatingTable {
    let m = raters.count
    var newCodes: [Int32] = []
    var newItems: [String] = []
    for i in 0..<items.count {
      let row = keep.map { codes[i * m + $0] }
      if row.contains(where: { $0 != RatingTable.missing }) {
        newItems.append(items[i])
        newCodes.append(contentsOf: row)
      }
    }
    return RatingTable(
      categories: categories, raters: keep.map { raters[$0] }, items: newItems, codes: newCodes)
  }

  /// The confusion matrix of two raters over the items both rated.
  public func confusion(_ a: Int, _ b: Int) -> ConfusionMatrix {
    ConfusionMatrix(k: categories.count, rows: column(a), cols: column(b))
  }
}

/// One rating in long form: what `--ratings` CSV rows and the case store's current labels give.
public struct LongRating: Sendable, Equatable, Hashable {
  public let item: String
  public let rater: String
  public let label: String

  public init(item: String, rater: String, label: String) {
    self.item = item
    self.rater = rater
    self.label = label
  }
}

/// What is wrong with long-form ratings. Rows are 0-based indices into the input array; the
/// CLI turns them into file line numbers.
public enum RatingInputError: Error, Sendable, Equatable, CustomStringConvertible {
  case noCategories
  case duplicateCategory(String)
  case duplicateRater(String)
  case unknownLabel(row: Int, label: String, categories: [String])
  case duplicateRating(row: Int, firstRow: Int, item: String, rater: String)

  public var description: String {
    switch self {
    case .noCategories: return "no categories given"
    case .duplicateCategory(let c): return "category '\(c)' is listed twice"
    case .duplicateRater(let r): return "rater '\(r)' is listed twice"
    case .unknownLabel(let row, let label, let categories):
      return "rating \(row + 1): label '\(label)' is not one of the categories "
        + categories.joined(separator: ", ")
    case .duplicateRating(let row, let first, let item, let rater):
      return "rating \(row + 1): rater '\(rater)' already rated item '\(item)' (rating \(first + 1))"
    }
  }
}
