import ArgumentParser
import Foundation
import Terminal

/// The `blastview` command. Subcommands live in files named for them.
@main
struct BlastView: ParsableCommand {
  static let version = "0.1.0"

  static let configuration = CommandConfiguration(
    commandName: "blastview",
    abstract: "Review acute lymphoblastic leukemia blood-smear images in the terminal.",
    version: "\(version) (commit \(BuildInfo.commit))",
    subcommands: [
      DoctorCommand.self, SampleDataCommand.self, AgreeCommand.self, AgreeMasksCommand.self,
      BenchCommand.self, ReviewCommand.self, ShowImageCommand.self,
      InitCommand.self, ImportCommand.self, AnnotateCommand.self, LabelsCommand.self, HistoryCommand.self,
      SessionCommand.self, ExportCommand.self, BackupCommand.self, RestoreCommand.self,
      VerifyCommand.self, MigrateCommand.self,
      TrainCommand.self, EvalCommand.self, PredictCommand.self,
      RaterCommand.self, TriageCommand.self, AdjudicateCommand.self,
      ExplainCommand.self, AuditCommand.self, ReportCommand.self, ModelCommand.self,
    ]
  )

  /// ArgumentParser's `main`, except that what it prints on an error goes through the
  /// `Sanitizer` first: its messages quote what the user typed (`Unknown option '...'`) and
  /// the error's own description, which may name a file.
  static func main() {
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      let code = exitCode(for: error)
      let message = Sanitizer.sanitize(fullMessage(for: error), mode: .text)
      if code == .success {
        if !message.isEmpty { print(message) }
      } else if !message.isEmpty {
        FileHandle.standardError.write(Data((message + "\n").utf8))
      }
      Foundation.exit(code.rawValue)
    }
  }
}
