import ArgumentParser
import Foundation

/// `--workspace PATH`, shared by every subcommand that uses a workspace.
///
/// The workspace is the folder holding the database, model files and caches (DESIGN §1).
/// Resolution order: `--workspace`, then `$BLASTVIEW_WORKSPACE`, then `./.blastview`.
struct WorkspaceOption: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "The workspace folder (database, models, caches).",
      discussion: "Default: $BLASTVIEW_WORKSPACE, else ./.blastview.", valueName: "path"))
  var workspace: String?

  /// Where the path came from, for messages.
  enum Source: String, Codable {
    case option = "--workspace"
    case environment = "BLASTVIEW_WORKSPACE"
    case defaultPath = "default"
  }

  /// The absolute workspace path and where it came from.
  func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) -> (
    path: String, source: Source
  ) {
    let (raw, source): (String, Source)
    if let w = workspace, !w.isEmpty {
      (raw, source) = (w, .option)
    } else if let w = environment["BLASTVIEW_WORKSPACE"], !w.isEmpty {
      (raw, source) = (w, .environment)
    } else {
      (raw, source) = ("./.blastview", .defaultPath)
    }
    let expanded = (raw as NSString).expandingTildeInPath
    let url = URL(
      fileURLWithPath: expanded, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
    return (url.standardizedFileURL.path, source)
  }
}
