import ArgumentParser

/// The `blastview` command. Subcommands live in files named for them.
@main
struct BlastView: ParsableCommand {
  static let version = "0.1.0"

  static let configuration = CommandConfiguration(
    commandName: "blastview",
    abstract: "Review acute lymphoblastic leukemia blood-smear images in the terminal.",
    version: version,
    subcommands: [
      DoctorCommand.self, SampleDataCommand.self, AgreeCommand.self, AgreeMasksCommand.self,
      BenchCommand.self, ReviewCommand.self, ShowImageCommand.self,
      InitCommand.self, ImportCommand.self, AnnotateCommand.self, LabelsCommand.self, HistoryCommand.self,
      SessionCommand.self, ExportCommand.self, BackupCommand.self, VerifyCommand.self,
      TrainCommand.self, EvalCommand.self, PredictCommand.self,
      RaterCommand.self, TriageCommand.self, AdjudicateCommand.self,
      ExplainCommand.self, AuditCommand.self,
    ]
  )
}
