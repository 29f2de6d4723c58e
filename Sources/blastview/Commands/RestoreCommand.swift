import ArgumentParser
import CaseStore
import Foundation
import Terminal

/// `blastview restore BACKUP.db`: the way back from a damaged workspace database.
struct RestoreCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "restore",
    abstract: "Put a backup (made with `blastview backup`) in place of the workspace database.",
    discussion: """
      The backup must be a BlastView workspace database this version can read that passes \
      PRAGMA integrity_check. A current database that is newer (a schema migration the backup \
      lacks, or a later annotation) is not replaced without --force. The replaced database is \
      kept aside as blastview.db.replaced-<time>, never deleted. Stop every other BlastView \
      process on the workspace (reviews, trainers) first.
      """)

  @OptionGroup var workspace: WorkspaceOptions

  @Argument(help: ArgumentHelp("The backup file.", valueName: "backup.db"))
  var backup: String

  @Flag(help: "Replace a current database that is newer than the backup (it is kept aside).")
  var force = false

  func run() throws {
    let ws = workspace.resolved
    let report: Restore.Report
    do { report = try Restore.run(backup: backup, into: ws, force: force) } catch { throw CLIError(error) }
    var lines = [
      "Restored \(Sanitizer.sanitize(backup)) into \(Sanitizer.sanitize(ws.databasePath)) "
        + "(\(CLIText.count(report.annotations)) annotations, last \(Sanitizer.sanitize(report.lastAnnotation ?? "none")))"
    ]
    if let aside = report.keptAside {
      lines.append(
        "The replaced database is kept as \(Sanitizer.sanitize(aside))\(report.forced ? " (it was newer: --force)" : "")"
      )
    }
    print(lines.joined(separator: "\n"))
  }
}
