import Agreement
import ArgumentParser
import Foundation

/// `blastview agree`: the agreement report of raters' labels (DESIGN §5, issue 6).
struct AgreeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "agree",
    abstract: "Agreement between raters: Cohen's and weighted kappa, Fleiss, Krippendorff, Gwet's AC1.",
    discussion: """
      Reads a long CSV with the header item,rater,label (one rating per row; a missing \
      rating is an absent row). Category order comes from --categories; without it, labels \
      that are all among Benign, Early-B, Pre-B, Pro-B take that (all4) order, and any \
      other labels need --categories: ordinal statistics and weights depend on the order, \
      so it is never guessed or sorted.

      Two raters get the two-rater report (confusion matrix, Cohen's kappa with its \
      asymptotic SE and CI, weighted kappa, Scott's pi, Gwet's AC1, PABAK, specific \
      agreement); three or more get Fleiss' kappa, Krippendorff's alpha, Gwet's AC1, the \
      pairwise Cohen matrix and Light's kappa. Statistics the data do not define are \
      reported as undefined with the reason. See docs/agreement.md.
      """)

  @Option(
    name: .long, help: ArgumentHelp("Long CSV of ratings with header item,rater,label.", valueName: "csv"))
  var ratings: String

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Raters to compare, comma-separated, in this order (default: all).", valueName: "a,b,..."))
  var raters: String?

  @Option(
    name: .long,
    help: ArgumentHelp("Categories in their order, comma-separated.", valueName: "c1,c2,..."))
  var categories: String?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Weighted kappa: none, linear, quadratic, clinical (all4), or a CSV file of agreement weights.",
      valueName: "weights"))
  var weights: String = "none"

  @Option(name: .long, help: "Percentile bootstrap resamples for a 95% CI (0 = none).")
  var bootstrap: Int = 0

  @Option(name: .long, help: "Seed of the bootstrap's random resamples.")
  var seed: UInt64 = 1

  @Flag(name: .long, help: "Print JSON instead of the text report.")
  var json = false

  func validate() throws {
    guard (0...1_000_000).contains(bootstrap) else {
      throw ValidationError("--bootstrap must be between 0 and 1000000, got \(bootstrap)")
    }
  }

  func run() throws {
    let csv = try RatingsCSV(path: ratings)
    let selected = try raters.map { try Self.list($0, option: "--raters") }
    let order = try resolveCategories(csv, selected: selected)
    let table: RatingTable
    do {
      table = try RatingTable(long: csv.rows, categories: order, raters: selected)
    } catch {
      throw Self.describe(
        error, csv: csv, file: ratings, categoriesFrom: categories == nil ? "all4" : "--categories")
    }
    if let selected {
      let counts = table.ratingsPerRater
      let present = Set(csv.rows.map(\.rater))
      for (name, count) in zip(selected, counts) where count == 0 {
        throw AgreeInputError(
          ratings,
          "rater '\(name)' has no ratings (raters in the file: \(present.sorted().joined(separator: ", ")))")
      }
    }
    let options = AgreementOptions(
      weights: try resolveWeights(order), bootstrapSamples: bootstrap, seed: seed)
    let report = AgreementReport(table, options: options)
    if json {
      print(AgreeReport.json(report, options: options).render())
    } else {
      print(AgreeReport.text(report, options: options, source: ratings), terminator: "")
    }
  }

  /// The category order: --categories, else all4 when every label is an all4 class.
  func resolveCategories(_ csv: RatingsCSV, selected: [String]?) throws -> [String] {
    if let categories {
      let list = try Self.list(categories, option: "--categories")
      if let dup = Dictionary(grouping: list, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
        throw AgreeInputError(message: "--categories lists '\(dup)' twice")
      }
      return list
    }
    let keep = selected.map(Set.init)
    let all4 = ["Benign", "Early-B", "Pre-B", "Pro-B"]
    for (n, row) in csv.rows.enumerated()
    where (keep?.contains(row.rater) ?? true) && !all4.contains(row.label) {
      throw AgreeInputError(
        ratings, line: csv.lines[n],
        "label '\(row.label)' is not an all4 category (Benign, Early-B, Pre-B, Pro-B); for another label "
          + "set give the categories in their order with --categories (ordinal statistics and weights depend on it)"
      )
    }
    return all4
  }

  func resolveWeights(_ categories: [String]) throws -> AgreementWeights? {
    let k = categories.count
    switch weights {
    case "none": return nil
    case "linear", "quadratic":
      let r = weights == "linear" ? AgreementWeights.linear(k) : AgreementWeights.quadratic(k)
      guard let w = r.value else {
        throw AgreeInputError(message: "--weights \(weights): \(r.undefined!.reason)")
      }
      return w
    case "clinical":
      do {
        return try AgreementWeights.clinical(categories: categories)
      } catch {
        throw AgreeInputError(message: "--weights clinical: \(error)")
      }
    default:
      guard FileManager.default.fileExists(atPath: weights) else {
        throw AgreeInputError(
          message:
            "--weights '\(weights)' is not none, linear, quadratic or clinical, and no such file exists")
      }
      return try WeightsFile.read(weights, categories: categories)
    }
  }

  /// Splits a comma-separated option value, trimming spaces; empty entries are an error.
  static func list(_ value: String, option: String) throws -> [String] {
    let parts = value.split(separator: ",", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    guard !parts.contains(where: \.isEmpty) else {
      throw AgreeInputError(message: "\(option) '\(value)' has an empty entry")
    }
    return parts
  }

  /// Turns the module's row-indexed errors into messages naming the file line.
  static func describe(_ error: RatingInputError, csv: RatingsCSV, file: String, categoriesFrom: String)
    -> AgreeInputError
  {
    switch error {
    case .unknownLabel(let row, let label, let categories):
      return AgreeInputError(
        file, line: csv.lines[row],
        "label '\(label)' is not one of the categories " + categories.joined(separator: ", ")
          + " (from \(categoriesFrom))")
    case .duplicateRating(let row, let first, let item, let rater):
      return AgreeInputError(
        file, line: csv.lines[row],
        "rater '\(rater)' already rated item '\(item)' on line \(csv.lines[first]); keep one rating per rater and item"
      )
    default:
      return AgreeInputError(message: "\(error)")
    }
  }
}

/// A custom weight matrix for `--weights FILE`: a CSV whose header row is a corner cell and
/// the category names, and whose rows are a category name and its agreement weights
/// (1 = full agreement, 0 = none; diagonal 1). Names may come in any order; every category
/// must appear once as a row and once as a column.
enum WeightsFile {
  static func read(_ path: String, categories: [String]) throws -> AgreementWeights {
    guard let data = FileManager.default.contents(atPath: path),
      let text = String(validating: [UInt8](data), as: UTF8.self)
    else { throw AgreeInputError(path, "cannot be read as UTF-8 text") }
    let records = try CSVRecords.parse(
      text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text, name: path
    )
    .filter { !$0.isBlank }
    guard let header = records.first else { throw AgreeInputError(path, "is empty") }
    let k = categories.count
    let columns = Array(header.fields.dropFirst())
    guard Set(columns) == Set(categories), columns.count == k else {
      throw AgreeInputError(
        path, line: header.line,
        "the header must list the categories " + categories.joined(separator: ", ")
          + " after a corner cell; found "
          + columns.joined(separator: ", "))
    }
    var values = [Double](repeating: .nan, count: k * k)
    var seenRows = Set<String>()
    for record in records.dropFirst() {
      guard record.fields.count == k + 1 else {
        throw AgreeInputError(path, line: record.line, "expected a category and \(k) weights")
      }
      let name = record.fields[0]
      guard let i = categories.firstIndex(of: name), seenRows.insert(name).inserted else {
        throw AgreeInputError(path, line: record.line, "row '\(name)' is not a category or appears twice")
      }
      for (c, cell) in record.fields.dropFirst().enumerated() {
        guard let w = Double(cell) else {
          throw AgreeInputError(path, line: record.line, "'\(cell)' is not a number")
        }
        values[i * k + categories.firstIndex(of: columns[c])!] = w
      }
    }
    guard seenRows.count == k else {
      throw AgreeInputError(
        path, "missing rows for " + categories.filter { !seenRows.contains($0) }.joined(separator: ", "))
    }
    do {
      return try AgreementWeights(name: "custom", k: k, values: values)
    } catch {
      throw AgreeInputError(
        path, "\(error) (rows and columns in the order " + categories.joined(separator: ", ") + ")")
    }
  }
}
