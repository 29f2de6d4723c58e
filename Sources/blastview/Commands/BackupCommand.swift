import ArgumentParser
import CaseStore
import Foundation
import Terminal

/// `blastview backup OUT.db`: a consistent copy while others keep working.
struct BackupCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "backup",
    abstract: "Copy the workspace database with SQLite's online backup (safe while raters are writing).",
    discussion:
      "The copy is checked with PRAGMA integrity_check before it is given its name; an existing file is never overwritten."
  )

  @OptionGroup var workspace: WorkspaceOptions

  @Argument(help: ArgumentHelp("The new database file.", valueName: "out.db"))
  var out: String

  func run() throws {
    let store = try workspace.open()
    do { try store.backup(to: out) } catch { throw CLIError(error) }
    let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
    print(
      "Backed up \(Sanitizer.sanitize(store.workspace.databasePath)) to \(Sanitizer.sanitize(out)) (\(CLIText.count(size)) bytes)"
    )
  }
}
