import ArgumentParser
import CaseStore
import Foundation
import Review

/// `blastview init`: creates a workspace (directory, database, label schema).
struct InitCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "init",
    abstract: "Create a workspace: the SQLite database, model and cache folders.",
    discussion: """
      --schema chooses the labels: all4 (Benign | Early-B, Pre-B, Pro-B, the default), wbc5 \
      (neutrophil, lymphocyte, monocyte, eosinophil, basophil) or a JSON file (see README). \
      --image-root makes imported paths relative to that folder, so the workspace and its \
      images can move together.
      """)

  @OptionGroup var workspace: WorkspaceOptions

  @Option(name: .long, help: ArgumentHelp("all4, wbc5, or a label schema JSON file.", valueName: "schema"))
  var schema: String = "all4"

  @Option(name: .long, help: ArgumentHelp("Store image paths relative to this folder.", valueName: "dir"))
  var imageRoot: String?

  @Flag(name: .long, help: "Print JSON.")
  var json = false

  func run() throws {
    let store: CaseStore
    do {
      let labels = try LabelSchema.named(schema)
      try KeyMap.checkSchemaKeys(labels)
      store = try Workspace.create(at: workspace.resolved.directory, schema: labels, imageRoot: imageRoot)
    } catch {
      throw CLIError(error)
    }
    let s = store.labelSchema
    if json {
      struct Out: Encodable {
        var workspace: String
        var database: String
        var labelSchema: LabelSchema
        var imageRoot: String?
      }
      try CLIText.printJSON(
        Out(
          workspace: store.workspace.directory, database: store.workspace.databasePath, labelSchema: s,
          imageRoot: try store.imageRoot()))
      return
    }
    print("Created workspace \(CLIText.safe(store.workspace.directory))")
    print(
      "  labels (\(CLIText.safe(s.name))): "
        + s.classes.map { CLIText.safe("\($0.key)=\($0.name) [\($0.letter)]") }.joined(separator: ", "))
    if s.isHierarchical {
      let groups = s.groups.map { g in
        CLIText.safe(g) + ": "
          + s.classes.filter { $0.group == g }.map { CLIText.safe($0.name) }.joined(separator: ", ")
      }
      print("  groups: " + groups.joined(separator: " | "))
    }
    if let root = try store.imageRoot() { print("  image root: \(CLIText.safe(root))") }
  }
}
