import ArgumentParser
import CaseStore
import Foundation
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
      images can move together.

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
      try JSONOutput.print(
        Out(
          workspace: store.workspace.directory, database: store.workspace.databasePath, labelSchema: s,
          imageRoot: try store.imageRoot()))
      return
    }
    print("Created workspace \(Sanitizer.sanitize(store.workspace.directory))")
    print(
      "  labels (\(Sanitizer.sanitize(s.name))): "
        + s.classes.map { Sanitizer.sanitize("\($0.key)=\($0.name) [\($0.letter)]") }.joined(separator: ", "))
    if s.isHierarchical {
      let groups = s.groups.map { g in
        Sanitizer.sanitize(g) + ": "
          + s.classes.filter { $0.group == g }.map { Sanitizer.sanitize($0.name) }.joined(separator: ", ")
      }
      print("  groups: " + groups.joined(separator: " | "))
    }
    if let root = try store.imageRoot() { print("  image root: \(Sanitizer.sanitize(root))") }
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
    if json {
      struct Out: Encodable {
        var workspace: String
        var database: String
        var connectedAs: String?
        var role: String?
        var labelSchema: LabelSchema
      }
      try JSONOutput.print(
        Out(
          workspace: workspace.resolved.directory, database: store.connection.displayTarget,
          connectedAs: store.connectedRater, role: store.role, labelSchema: s))
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
  }
}
