import ArgumentParser
import CaseStore
import Foundation
import Terminal

/// `blastview labels ...`: label files from other tools.
struct LabelsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "labels",
    abstract: "Bring in labels made in other tools.",
    subcommands: [LabelsImportCommand.self])
}

/// `blastview labels import CSV`: one transaction, all rows or none.
struct LabelsImportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import",
    abstract: "Import labels from a CSV with columns case,rater,label.",
    discussion: """
      case is a case id, image path or SHA-256 prefix. Every row is checked before anything \
      is written; a bad row is reported with its line number and nothing is imported.
      """)

  @OptionGroup var workspace: WorkspaceOptions

  @Argument(help: ArgumentHelp("The CSV file.", valueName: "csv"))
  var csv: String

  @Option(name: .long, help: ArgumentHelp("Record the labels in this session.", valueName: "name"))
  var session: String?

  @Flag(name: .long, help: "Print the annotations created as JSON.")
  var json = false

  func run() throws {
    let store = try workspace.open()
    let made: [Annotation]
    do { made = try store.importLabels(csvPath: csv, session: session) } catch { throw CLIError(error) }
    if json {
      try JSONOutput.print(made)
      return
    }
    let raters = Set(made.map(\.rater)).sorted().map(Sanitizer.sanitize(_:)).joined(separator: ", ")
    print(
      "Imported \(CLIText.count(made.count)) label(s) from \(Sanitizer.sanitize(csv)) (raters: \(raters))")
  }
}
