import ArgumentParser
import CaseStore
import Foundation
import Review
import Terminal

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
      and promoted, so `review` fills in predictions at once (--no-model: start without one). \
      The shipped wbc5 model is a demo trained on 299 white-cell crops of one lab, of which one \
      is a basophil: it has not learned basophils and will call one something else; its \
      basophil probability means nothing (docs/model-card.md).


      --database URL makes a shared workspace instead: the store is the PostgreSQL database \
      at URL (a libpq URL or connection string: postgresql:///blastview?host=/var/run/postgresql \
      for the local socket; ~/.pgpass, service files and sslmode work), and DIR keeps only the \
      URL and local caches. Run by the service role (it needs CREATEROLE; it owns the schema), \
      it creates the schema; run by anyone else, it attaches DIR to the existing workspace. \
      See docs/deployment.md.
      """)

  @OptionGroup var workspace: WorkspaceOptions

  @Option(name: .long, help: ArgumentHelp("all4, wbc5, or a label schema JSON file.", valueName: "schema"))
  var schema: String = "all4"

  @Option(name: .long, help: ArgumentHelp("Store image paths relative to this folder.", valueName: "dir"))
  var imageRoot: String?

  @Option(
    name: .long,
    help: ArgumentHelp("A shared workspace in this PostgreSQL database (libpq URL).", valueName: "url"))
  var database: String?

  @Option(
    name: .long, parsing: .singleValue,
    help: ArgumentHelp("With --database: give this role the lead role (repeatable).", valueName: "name"))
  var lead: [String] = []

  @Flag(name: .long, help: "Do not register the shipped model for all4 or wbc5.")
  var noModel = false

  @Flag(name: .long, help: "Print JSON.")
  var json = false

  func run() throws {
    if let database { return try runShared(database) }
    if !lead.isEmpty {
      throw CLIError(message: "--lead needs --database: leads exist only in a shared workspace")
    }
    let store: CaseStore
    do {
      let labels = try LabelSchema.named(schema)
      try KeyMap.checkSchemaKeys(labels)
      store = try Workspace.create(at: workspace.resolved.directory, schema: labels, imageRoot: imageRoot)
    } catch {
      throw CLIError(error)
    }
    let s = store.labelSchema
    // A shipped schema starts with its shipped model registered and promoted (issue 18).
    let shipped = try registerShippedModel(store, by: defaultRaterName())
    let (model, modelSource) = (shipped?.version, shipped?.file)
    if json {
      struct Out: Encodable {
        var workspace: String
        var database: String
        var labelSchema: LabelSchema
        var imageRoot: String?
        var model: Int64?
        var modelSource: String?
      }
      try JSONOutput.print(
        Out(
          workspace: store.workspace.directory, database: store.workspace.databasePath, labelSchema: s,
          imageRoot: try store.imageRoot(), model: model?.version, modelSource: modelSource))
      return
    }
    print("Created workspace \(Sanitizer.sanitize(store.workspace.directory))")
    print(
      "  labels (\(Sanitizer.sanitize(s.name))): "
        + s.classes.map { Sanitizer.sanitize("\($0.key)=\($0.name)") }.joined(separator: ", "))
    if s.isHierarchical {
      let groups = s.groups.map { g in
        Sanitizer.sanitize(g) + ": "
          + s.classes.filter { $0.group == g }.map { Sanitizer.sanitize($0.name) }.joined(separator: ", ")
      }
      print("  groups: " + groups.joined(separator: " | "))
    }
    if let root = try store.imageRoot() { print("  image root: \(Sanitizer.sanitize(root))") }
    if let model, let modelSource {
      print(
        "  model: v\(model.version) registered and promoted (the shipped \(schema) model, \(Sanitizer.sanitize(modelSource)))"
      )
    } else if !noModel && ["all4", "wbc5"].contains(schema) {
      print("  model: none (no shipped \(schema) model found beside the binary or in a source tree)")
    }
    let ws = Sanitizer.sanitize(shellWord(workspace.resolved.directory))
    print("Next: blastview import --workspace \(ws) FOLDER-OF-IMAGES")
  }
}

extension InitCommand {
  /// Creates (or attaches to) the shared workspace at `url` and records it in DIR.
  func runShared(_ url: String) throws {
    if imageRoot != nil {
      throw CLIError(
        message:
          "--image-root is for embedded workspaces: a shared workspace keeps its images in the database")
    }
    let store: PostgresStore
    do {
      let labels = try LabelSchema.named(schema)
      let dir = workspace.resolved.directory
      if try SharedWorkspace.databaseURL(in: dir) != nil
        || FileManager.default.fileExists(atPath: Workspace(directory: dir).databasePath)
      {
        throw StoreError.workspaceExists(dir)
      }
      store = try PostgresStore.create(url, schema: labels, leads: lead)
      try SharedWorkspace.attach(directory: dir, url: url)
    } catch {
      throw CLIError(error)
    }
    let s = store.labelSchema
    // As on an embedded workspace (issue 18), a shipped schema starts with its shipped model,
    // registered into the database and promoted; only the service role registers models, so
    // it happens when the service role creates the workspace (a later `init`, by anyone, only
    // attaches or upgrades, and adds no model). `train --watch` fills predictions.
    let firstByService =
      store.createdNow && store.role == "service" && (try? store.registeredModels().isEmpty) == true
    let shipped = firstByService ? try registerShippedModel(store, by: nil) : nil
    let (model, modelSource) = (shipped?.version, shipped?.file)
    if json {
      struct Out: Encodable {
        var workspace: String
        var database: String
        var connectedAs: String?
        var role: String?
        var labelSchema: LabelSchema
        var model: Int64?
        var modelSource: String?
      }
      try JSONOutput.print(
        Out(
          workspace: workspace.resolved.directory, database: store.connection.displayTarget,
          connectedAs: store.connectedRater, role: store.role, labelSchema: s, model: model?.version,
          modelSource: modelSource))
      return
    }
    print(
      "Shared workspace \(Sanitizer.sanitize(workspace.resolved.directory)) on \(Sanitizer.sanitize(store.connection.displayTarget)), "
        + "connected as \(Sanitizer.sanitize(store.connectedRater ?? "?")) (\(Sanitizer.sanitize(store.role ?? "no role")))"
    )
    print(
      "  labels (\(Sanitizer.sanitize(s.name))): "
        + s.classes.map { Sanitizer.sanitize("\($0.key)=\($0.name)") }.joined(separator: ", "))
    for l in lead { print("  lead: \(Sanitizer.sanitize(l))") }
    if let model, let modelSource {
      print(
        "  model: v\(model.version) registered into the database and promoted (the shipped \(schema) model, "
          + "\(Sanitizer.sanitize(modelSource))); the trainer (train --watch) predicts new cases with it")
    }
  }
}

extension InitCommand {
  /// The shipped model of a shipped schema, registered and promoted (issue 18): the version and
  /// the file, or nil with `--no-model`, another schema or no shipped file found. `by` nil lets
  /// a shared workspace's server record its own session user.
  func registerShippedModel(_ store: any RetrainingStore, by: String?) throws -> (
    version: ModelVersion, file: String
  )? {
    guard !noModel, ["all4", "wbc5"].contains(schema), let file = ShippedFiles.model(forSchema: schema) else {
      return nil
    }
    let v = try ModelRegistration.register(
      store: store, file: file,
      notes: "the shipped \(schema) model, registered by blastview init from \(file)")
    do {
      try store.promote(version: v.version, by: by, reason: "shipped model for \(schema)")
    } catch {
      throw CLIError(error)
    }
    return (version: v, file: file)
  }
}
