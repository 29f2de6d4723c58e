import ArgumentParser
import CaseStore
import Foundation

/// `--workspace DIR`, shared by every subcommand that uses a workspace (add it with
/// `@OptionGroup var workspace: WorkspaceOptions`). Selection order: the option, then
/// `$BLASTVIEW_WORKSPACE`, then `./.blastview`.
struct WorkspaceOptions: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "The workspace directory (default: $BLASTVIEW_WORKSPACE, else ./.blastview).", valueName: "dir"))
  var workspace: String?

  /// The chosen workspace (it may not exist yet).
  var resolved: Workspace { Workspace.resolve(explicit: workspace) }

  /// The shared (PostgreSQL) store when the chosen directory names a database, else nil.
  func openShared() throws -> PostgresStore? {
    do {
      guard let url = try SharedWorkspace.databaseURL(in: resolved.directory) else { return nil }
      let store = try PostgresStore.open(url)
      store.localWorkspace = resolved
      return store
    } catch {
      throw CLIError(error)
    }
  }

  /// The chosen workspace's store, whichever backend holds it: the commands that only need
  /// `WorkspaceStore` work on an embedded and a shared workspace alike.
  func openStore() throws -> any WorkspaceStore {
    if let shared = try openShared() { return shared }
    return try open()
  }

  /// The chosen workspace as a training source and destination (`train`, `predict
  /// --all-cases`), whichever backend holds it. On a shared workspace that is the service
  /// role's: the store, and PostgreSQL, refuse anyone else.
  func openRetrainingStore() throws -> any RetrainingStore {
    if let shared = try openShared() { return shared }
    return try open()
  }

  /// Opens the chosen workspace; failures become a `CLIError` with a sanitised message.
  func open() throws -> CaseStore {
    do {
      return try Workspace.open(path: resolved.directory)
    } catch {
      throw CLIError(error)
    }
  }
}

/// `--rater NAME`, defaulting to the Unix user.
struct RaterOption: ParsableArguments {
  @Option(name: .long, help: ArgumentHelp("Who is acting (default: the Unix user).", valueName: "name"))
  var rater: String?

  var name: String { rater ?? defaultRaterName() }
}
