import ArgumentParser
import Benchmarks
import CaseStore
import Foundation
import Terminal

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

      With --database URL (a shared workspace's server, as its service role): import, the \
      annotate round trip and the case view's reads, on PostgreSQL and on SQLite in the same \
      run on the same images, side by side with PostgreSQL's ratio to SQLite. The run creates \
      a scratch database and one rater role on that server and drops both.
      """)

  @Option(
    help: ArgumentHelp(
      "Compare a shared workspace's PostgreSQL server (libpq URL, service role) with SQLite.",
      valueName: "url"))
  var database: String?

  @Option(help: "With --database: annotations timed on each backend.")
  var annotations = 300

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
    guard cases >= 100, images >= 1, repetitions >= 3, raters >= 1, annotations >= 1 else {
      throw ValidationError(
        "need --cases >= 100, --images >= 1, --repetitions >= 3, --raters >= 1, --annotations >= 1")
    }
  }

  func run() throws {
    if let database {
      try runShared(database)
      return
    }
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
      report = try StoreBenchmark.run(o) { line in if !quiet { print(Sanitizer.sanitize(line)) } }
    } catch {
      throw CLIError(error)
    }
    if json {
      try JSONOutput.print(report)
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

  func runShared(_ url: String) throws {
    var o = SharedStoreBenchmark.Options()
    o.database = url
    o.images = images
    o.annotations = annotations
    o.repetitions = repetitions
    o.importFrom = importFrom
    o.workDirectory = workDirectory
    let quiet = json
    let report: SharedStoreBenchmark.Report
    do {
      report = try SharedStoreBenchmark.run(o) { line in if !quiet { print(Sanitizer.sanitize(line)) } }
    } catch {
      throw CLIError(error)
    }
    if json {
      try JSONOutput.print(report)
      return
    }
    print("\n| operation | SQLite | PostgreSQL | PostgreSQL / SQLite |\n|---|---|---|---|")
    let rows: [(String, SharedStoreBenchmark.Side?, String)] = [
      ("import (images/s)", report.importImagesPerSecond, "%.0f"),
      ("annotate round trip, median (ms)", report.annotateMedianMilliseconds, "%.3f"),
      ("annotate round trip, p95 (ms)", report.annotateP95Milliseconds, "%.3f"),
      ("case record, median (ms)", report.caseRecordMedianMilliseconds, "%.3f"),
      ("history, median (ms)", report.historyMedianMilliseconds, "%.3f"),
      ("image read + SHA-256 check, median (ms)", report.imageReadMedianMilliseconds, "%.3f"),
      ("case count, median (ms)", report.caseCountMedianMilliseconds, "%.3f"),
    ]
    for (name, side, format) in rows {
      guard let side else { continue }
      print(
        "| \(name) | \(String(format: format, side.sqlite)) | \(String(format: format, side.postgres)) | "
          + String(format: "%.2f", side.ratio) + " |")
    }
  }
}
