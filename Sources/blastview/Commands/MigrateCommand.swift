import ArgumentParser
import CaseStore
import Foundation
import Terminal

/// `blastview migrate --from-sqlite DIR --workspace NEWDIR --database URL`: moves an embedded
/// workspace into a new shared one (`PostgresStore.importEmbedded`).
struct MigrateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "migrate",
    abstract: "Move an embedded (SQLite) workspace into a new shared (PostgreSQL) workspace.",
    discussion: """
      Run by the service role (the database role that will own the schema; it needs CREATEROLE). \
      The embedded workspace's audit chain is verified first; a broken chain is refused, naming \
      the link. Then, in one transaction: every rater becomes a PostgreSQL login role with its \
      group role, the cases and their images (into the database), masks, sessions, models and \
      their files, predictions, and every annotation, adjudication, promotion and session or role \
      event with its original id, rater and time. The database recomputes the audit chain from \
      the copied rows; the copy is committed only when its head equals the embedded workspace's. \
      Training jobs and per-user caches are not copied. The embedded workspace is left as it was. \
      --lead NAME gives NAME the lead role of the new workspace once the copy is committed (a \
      role event after the copied history); without it, the service role gives it later: \
      blastview rater add NAME --role lead.
      """)

  @Option(
    name: .customLong("from-sqlite"), help: ArgumentHelp("The embedded workspace to copy.", valueName: "dir"))
  var fromSQLite: String

  @OptionGroup var workspace: WorkspaceOptions

  @Option(
    name: .long,
    help: ArgumentHelp("The new shared workspace's PostgreSQL database (libpq URL).", valueName: "url"))
  var database: String

  @Option(
    name: .long,
    help: ArgumentHelp(
      "A lead of the new workspace (a database role, created if missing; repeatable).", valueName: "name"))
  var lead: [String] = []

  @Flag(name: .long, help: "Print JSON.")
  var json = false

  func run() throws {
    let summary: EmbeddedMigrationSummary
    let target: String
    do {
      let dir = workspace.resolved.directory
      if try SharedWorkspace.databaseURL(in: dir) != nil
        || FileManager.default.fileExists(atPath: Workspace(directory: dir).databasePath)
      {
        throw StoreError.workspaceExists(dir)
      }
      let source = try Workspace.open(path: Workspace.resolve(explicit: fromSQLite).directory)
      defer { try? source.close() }
      // Refused before anything is created in the database.
      _ = try PostgresStore.requireIntactChain(source)
      let store = try PostgresStore.create(database, schema: source.labelSchema)
      target = store.connection.displayTarget
      summary = try store.importEmbedded(source)
      // After the copy: its audit head must equal the embedded one, so the lead's role event
      // is the first link the shared workspace adds.
      for name in lead { try store.addRater(name, role: .lead) }
      try SharedWorkspace.attach(directory: dir, url: database)
    } catch {
      throw CLIError(error)
    }
    if json {
      try JSONOutput.print(summary)
      return
    }
    print(
      "Migrated into \(Sanitizer.sanitize(target)) (workspace \(Sanitizer.sanitize(workspace.resolved.directory))):"
    )
    print(
      "  \(summary.raters) rater(s), \(summary.cases) case(s) with their images, \(summary.masks) mask(s), "
        + "\(summary.sessions) session(s), \(summary.models) model(s), \(summary.predictions) prediction(s)")
    print(
      "  \(summary.annotations) annotation(s), \(summary.adjudications) adjudication(s), "
        + "\(summary.promotions) promotion(s), \(summary.events) session or role event(s)")
    print(
      "  audit chain intact: \(summary.links) link(s), head \(summary.head) (the embedded workspace's head)")
  }
}
