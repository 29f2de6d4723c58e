import ArgumentParser
import Benchmarks
import CaseStore
import Foundation

/// `blastview bench store`: import throughput and the browser's page query (issue 5).
struct BenchStoreCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "store",
    abstract: "Time image import and the browser's page query on 100,000 cases.",
    discussion: """
      Import is reported in images/s beside a same-run baseline (the same files read, hashed \
      and decoded with no database). Each browser query (every filter × sort × direction, \
      first and middle page) is reported as median and 95th percentile milliseconds and as a \
      fraction of one full scan of the case table measured in the same run; --plans prints \
      each query's EXPLAIN QUERY PLAN. Everything is built in a temporary folder and removed.
      """)

  @Option(help: "Cases in the browsing workspace.")
  var cases = 100_000

  @Option(help: "Raters labelling them.")
  var raters = 3

  @Option(help: "Synthetic images to import.")
  var images = 10_000

  @Option(help: ArgumentHelp("Import this folder instead of synthetic images.", valueName: "dir"))
  var importFrom: String?

  @Option(help: "Timed repetitions of each query.")
  var repetitions = 25

  @Option(help: ArgumentHelp("Where to build the temporary workspaces.", valueName: "dir"))
  var workDirectory = FileManager.default.temporaryDirectory.path

  @Option(
    help: ArgumentHelp("Build the browsing workspace here and keep it (reused if present).", valueName: "dir")
  )
  var keepWorkspace: String?

  @Option(help: "What to run: import, browse or all.")
  var mode = "all"

  @Flag(help: "Print every query's EXPLAIN QUERY PLAN (markdown).")
  var plans = false

  @Flag(help: "Print the report as JSON.")
  var json = false

  func validate() throws {
    guard ["import", "browse", "all"].contains(mode) else {
      throw ValidationError("--mode must be import, browse or all")
    }
    guard cases >= 100, images >= 1, repetitions >= 3, raters >= 1 else {
      throw ValidationError("need --cases >= 100, --images >= 1, --repetitions >= 3, --raters >= 1")
    }
  }

  func run() throws {
    var o = StoreBenchmark.Options()
    o.cases = cases
    o.raters = raters
    o.importImages = images
    o.importFrom = importFrom
    o.repetitions = repetitions
    o.workDirectory = workDirectory
    o.runImport = mode != "browse"
    o.runBrowse = mode != "import"
    o.keepWorkspace = keepWorkspace
    let quiet = json
    let report: StoreBenchmark.Report
    do {
      report = try StoreBenchmark.run(o) { line in if !quiet { print(CLIText.safe(line)) } }
    } catch {
      throw CLIError(error)
    }
    if json {
      try CLIText.printJSON(report)
      return
    }
    if let m = report.maxMedianMilliseconds, let p = report.maxP95Milliseconds {
      print(
        String(
          format: "slowest page query: %.2f ms median; slowest p95 %.2f ms (%d queries)", m, p,
          report.queries.count))
    }
    if plans {
      print("\n| filter | sort | driven by | plan |\n|---|---|---|---|")
      for p in report.plans {
        print(
          "| \(p.filter) | \(p.sort) | \(p.driver) | " + p.plan.map { "`\($0)`" }.joined(separator: "<br>")
            + " |")
      }
    }
  }
}
