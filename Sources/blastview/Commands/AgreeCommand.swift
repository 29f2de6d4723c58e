import Agreement
import ArgumentParser
import CaseStore
import Foundation
import Workflows

/// `blastview agree`: the agreement report of raters' labels (DESIGN §5, issue 6).
struct AgreeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "agree",
    abstract: "Agreement between raters: Cohen's and weighted kappa, Fleiss, Krippendorff, Gwet's AC1.",
    discussion: """
      Reads a workspace session's current labels (--session), or a long CSV with the header \
      item,rater,label (--ratings; one rating per row, a missing rating is an absent row).

      Category order: --categories, else the workspace's label schema (for a CSV, when the \
      workspace exists), else, for a CSV whose labels are all among Benign, Early-B, Pre-B, \
      Pro-B, that all4 order; other labels need --categories. Ordinal statistics and weights \
      depend on the order, so it is never guessed or sorted.

      A session is read as --rater sees it (default: the Unix user): in a blinded session a \
      rater sees other raters' labels only on cases they have labelled themselves.

      Two raters get the two-rater report (confusion matrix, Cohen's kappa with its \
      asymptotic SE and CI, weighted kappa, Scott's pi, Gwet's AC1, PABAK, specific \
      agreement); three or more get Fleiss' kappa, Krippendorff's alpha, Gwet's AC1, the \
      pairwise Cohen matrix and Light's kappa. Statistics the data do not define are \
      reported as undefined with the reason. See docs/agreement.md.
      """)

  @OptionGroup var workspace: WorkspaceOptions
  @OptionGroup var reader: RaterOption

  @Option(name: .long, help: ArgumentHelp("An agreement session of the workspace.", valueName: "name"))
  var session: String?

  @Option(
    name: .long, help: ArgumentHelp("Long CSV of ratings with header item,rater,label.", valueName: "csv"))
  var ratings: String?

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
      discussion: """
        clinical (the all4 schema only) credits what matters at the microscope: Benign against \
        any leukemia (Early-B, Pre-B, Pro-B) 0, either way round; between the leukemia subtypes, \
        ranked by maturation Pro-B < Early-B < Pre-B, 1 - (rank distance)/2: Pro-B/Early-B and \
        Early-B/Pre-B 0.5, Pro-B/Pre-B 0; the same class 1.
        """,
      valueName: "weights"))
  var weights: String = "none"

  @Option(name: .long, help: "Percentile bootstrap resamples for a 95% CI (0 = none).")
  var bootstrap: Int = 0

  @Option(name: .long, help: "Seed of the bootstrap's random resamples.")
  var seed: UInt64 = 1

  @Flag(name: .long, help: "Print JSON instead of the text report.")
  var json = false

  func validate() throws {
    guard (session == nil) != (ratings == nil) else {
      throw ValidationError("give either --session NAME or --ratings CSV")
    }
    guard (0...1_000_000).contains(bootstrap) else {
      throw ValidationError("--bootstrap must be between 0 and 1000000, got \(bootstrap)")
    }
  }

  func run() throws {
    let selected = try raters.map { try Self.list($0, option: "--raters") }
    if let session { return try runSession(session, selected: selected) }
    let (table, source) = try csvTable(ratings!, selected: selected)
    let options = AgreementOptions(
      weights: try resolveWeights(table.categories), bootstrapSamples: bootstrap, seed: seed)
    let report = AgreementReport(table, options: options)
    if json {
      print(AgreeReport.json(report, options: options).render())
    } else {
      print(AgreeReport.text(report, options: options, source: source), terminator: "")
    }
  }

  /// A session's current labels as `reader` may see them, raters in session order, through
  /// `SessionAgreementReport`: the code the review dashboard shows, so both print the same
  /// numbers. The session adds mask agreement between the raters and the promoted model
  /// against the consensus label.
  func runSession(_ name: String, selected: [String]?) throws {
    // Either backend: a shared workspace reads as the connected role (the server blinds).
    let store: any SessionAgreementSource
    let readAs: String
    let location: String
    if let shared = try workspace.openShared() {
      do { readAs = try shared.actingRater(claimed: reader.rater) } catch { throw CLIError(error) }
      store = shared
      location = "the shared workspace \(shared.connection.displayTarget)"
    } else {
      store = try workspace.open()
      readAs = reader.name
      location = workspace.resolved.directory
    }
    let order = try categories.map { try Self.categoryList($0) } ?? store.labelSchema.classNames
    let options = SessionAgreementOptions(
      raters: selected, categories: order, weights: try resolveWeights(order), bootstrapSamples: bootstrap,
      seed: seed)
    let report: SessionAgreementReport
    do {
      report = try SessionAgreementReport.compute(
        store: store, session: name, viewer: Viewer(rater: readAs), options: options)
    } catch {
      switch error {
      case .store(let e): throw CLIError(e)
      case .input(let m): throw AgreeInputError(message: m)
      }
    }
    let labelOptions = AgreementOptions(weights: options.weights, bootstrapSamples: bootstrap, seed: seed)
    if json {
      print(AgreeSessionReport.json(report, options: labelOptions).render())
      return
    }
    let info = report.session
    let source =
      "session \(name) in \(location), read as \(readAs)"
      + (info.blinded ? " (blinded: a rater sees others' labels only on cases they labelled)" : "")
      + "; \(report.visibleCases) of \(info.caseCount) cases have a visible label"
      + (info.isOpen ? "" : "; closed")
    print(AgreeReport.text(report.labels, options: labelOptions, source: source), terminator: "")
    print(AgreeSessionReport.text(report), terminator: "")
  }

  /// A ratings CSV, categories from --categories, the workspace schema, or all4.
  func csvTable(_ path: String, selected: [String]?) throws -> (RatingTable, String) {
    let csv: RatingsCSV
    do { csv = try RatingsCSV(path: path) } catch { throw AgreeInputError(error) }
    let (order, from) = try resolveCategories(csv, selected: selected)
    let table: RatingTable
    do {
      table = try RatingTable(long: csv.rows, categories: order, raters: selected)
    } catch {
      throw Self.describe(error, csv: csv, file: path, categoriesFrom: from)
    }
    if let selected {
      let present = Set(csv.rows.map(\.rater))
      for (name, count) in zip(selected, table.ratingsPerRater) where count == 0 {
        throw AgreeInputError(
          path,
          "rater '\(name)' has no ratings (raters in the file: \(present.sorted().joined(separator: ", ")))")
      }
    }
    return (table, path)
  }

  /// The category order for a CSV and where it came from: --categories, else the
  /// workspace's schema when a workspace exists, else all4 when every label is an all4 class.
  func resolveCategories(_ csv: RatingsCSV, selected: [String]?) throws -> ([String], String) {
    if let categories { return (try Self.categoryList(categories), "--categories") }
    if FileManager.default.fileExists(atPath: workspace.resolved.databasePath) {
      let schema = try workspace.open().labelSchema
      return (schema.classNames, "the workspace schema \(schema.name)")
    }
    let keep = selected.map(Set.init)
    let all4 = ["Benign", "Early-B", "Pre-B", "Pro-B"]
    for (n, row) in csv.rows.enumerated()
    where (keep?.contains(row.rater) ?? true) && !all4.contains(row.label) {
      throw AgreeInputError(
        ratings ?? "", line: csv.lines[n],
        "label '\(row.label)' is not an all4 category (Benign, Early-B, Pre-B, Pro-B), and there is no "
          + "workspace to take a schema from; give the categories in their order with --categories "
          + "(ordinal statistics and weights depend on it)")
    }
    return (all4, "all4")
  }

  static func categoryList(_ value: String) throws -> [String] {
    let list = try list(value, option: "--categories")
    if let dup = Dictionary(grouping: list, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
      throw AgreeInputError(message: "--categories lists '\(dup)' twice")
    }
    return list
  }

  func resolveWeights(_ categories: [String]) throws -> AgreementWeights? {
    try Self.resolveWeights(weights, categories: categories)
  }

  /// `--weights` as `agree` reads it (the study report reads it the same way).
  static func resolveWeights(_ weights: String, categories: [String]) throws -> AgreementWeights? {
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
      do { return try WeightsFile.read(weights, categories: categories) } catch {
        throw AgreeInputError(error)
      }
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
