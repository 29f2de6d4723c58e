import ArgumentParser
import CaseStore
import Foundation

/// `blastview init`: creates a workspace (directory, database, label schema).
struct InitCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "init",
    abstract: "Create a workspace: the SQLite database, model and cache folders.",
    discussion: """
      --schema chooses the labels: all4 (Benign | Early-B, Pre-B, Pro-B, the default), wbc5 \
      (neutrophil, lymphocyte, monocyte, eosinophil, basophil) or a JSON file (see README). \
      --image-root makes imported paths relative to that folder, so the workspace and its \
      images can move together. With all4 or wbc5 the shipped model for the schema (from \
      ../share/blastview/Models beside the binary, or the source tree's Models/) is registered \
      and promoted, so `review` fills in predictions at once (--no-model: start without one).
      """)

  @OptionGroup var workspace: WorkspaceOptions

  @Option(name: .long, help: ArgumentHelp("all4, wbc5, or a label schema JSON file.", valueName: "schema"))
  var schema: String = "all4"

  @Option(name: .long, help: ArgumentHelp("Store image paths relative to this folder.", valueName: "dir"))
  var imageRoot: String?

  @Flag(name: .long, help: "Do not register the shipped model for all4 or wbc5.")
  var noModel = false

  @Flag(name: .long, help: "Print JSON.")
  var json = false

  func run() throws {
    let store: CaseStore
    do {
      let labels = try LabelSchema.named(schema)
      store = try Workspace.create(at: workspace.resolved.directory, schema: labels, imageRoot: imageRoot)
    } catch {
      throw CLIError(error)
    }
    let s = store.labelSchema
    // A shipped schema starts with its shipped model registered and promoted (issue 18).
    var model: ModelVersion? = nil
    var modelSource: String? = nil
    if !noModel, ["all4", "wbc5"].contains(schema), let file = ShippedFiles.model(forSchema: schema) {
      let v = try ModelRegistration.register(
        store: store, file: file,
        notes: "the shipped \(schema) model, registered by blastview init from \(file)")
      do {
        try store.promote(version: v.version, by: defaultRaterName(), reason: "shipped model for \(schema)")
      } catch {
        throw CLIError(error)
      }
      model = v
      modelSource = file
    }
    if json {
      struct Out: Encodable {
        var workspace: String
        var database: String
        var labelSchema: LabelSchema
        var imageRoot: String?
        var model: Int64?
        var modelSource: String?
      }
      try CLIText.printJSON(
        Out(
          workspace: store.workspace.directory, database: store.workspace.databasePath, labelSchema: s,
          imageRoot: try store.imageRoot(), model: model?.version, modelSource: modelSource))
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
    if let model, let modelSource {
      print(
        "  model: v\(model.version) registered and promoted (the shipped \(schema) model, \(CLIText.safe(modelSource)))"
      )
    } else if !noModel && ["all4", "wbc5"].contains(schema) {
      print("  model: none (no shipped \(schema) model found beside the binary or in a source tree)")
    }
    let ws = CLIText.safe(shellWord(store.workspace.directory))
    print("Next: blastview import --workspace \(ws) FOLDER-OF-IMAGES")
  }
}
