import ArgumentParser

/// `blastview bench ...`: speed measurements (never timed unit tests). Each benchmark
/// reports its times beside a baseline measured in the same run, since the machine is shared.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Benchmarks, with same-run baselines.",
    subcommands: [
      BenchAgreementCommand.self, BenchEngineCommand.self, BenchStoreCommand.self, BenchRenderCommand.self,
      BenchReviewCommand.self,
      BenchExplainCommand.self,
    ])
}
