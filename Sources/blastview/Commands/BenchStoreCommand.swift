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
      run on the same images, then the browser's page query on --cases cases built alike in \
      both (every filter × sort × direction, first and middle page, as rater1 sees it), side \
      by side with PostgreSQL's ratio to SQLite. The run creates scratch databases and one \
      rater role on that server and drops them. --mode import or browse runs one part.
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
    o.runOperations = mode != "browse"
    o.runBrowse = mode != "import"
    o.browse.cases = cases
    o.browse.raters = raters
    o.browse.repetitions = repetitions
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
    let rows: [(String, SharedStoreBenchmark.Side?, String)] = [
      ("import (images/s)", report.importImagesPerSecond, "%.0f"),
      ("annotate round trip, median (ms)", report.annotateMedianMilliseconds, "%.3f"),
      ("annotate round trip, p95 (ms)", report.annotateP95Milliseconds, "%.3f"),
      ("case record, median (ms)", report.caseRecordMedianMilliseconds, "%.3f"),
      ("history, median (ms)", report.historyMedianMilliseconds, "%.3f"),
      ("image read + SHA-256 check, median (ms)", report.imageReadMedianMilliseconds, "%.3f"),
      ("case count, median (ms)", report.caseCountMedianMilliseconds, "%.3f"),
    ]
    if rows.contains(where: { $0.1 != nil }) {
      print("\n| operation | SQLite | PostgreSQL | PostgreSQL / SQLite |\n|---|---|---|---|")
    }
    for (name, side, format) in rows {
      guard let side else { continue }
      print(
        "| \(name) | \(String(format: format, side.sqlite)) | \(String(format: format, side.postgres)) | "
          + String(format: "%.2f", side.ratio) + " |")
    }
    if let b = report.browse { printBrowse(b) }
  }

  /// Per filter and sort: the slower direction and page of each backend's medians, its p95, the
  /// largest ratio of medians (milliseconds).
  func printBrowse(_ b: SharedBrowseBenchmark.Report) {
    print(
      "\nPage query (\(b.cases) cases, \(b.annotations) annotations, \(b.adjudications) adjudications; "
        + "worst of both directions, first and middle page):\n")
    print(
      "| filter | sort | SQLite median | PostgreSQL median | SQLite p95 | PostgreSQL p95 | ratio of medians |\n"
        + "|---|---|---:|---:|---:|---:|---:|")
    var seen: [String] = []
    for q in b.queries where !seen.contains(q.filter + "|" + q.sort) {
      seen.append(q.filter + "|" + q.sort)
      let group = b.queries.filter { $0.filter == q.filter && $0.sort == q.sort }
      func worst(_ f: (SharedBrowseBenchmark.QueryTiming) -> Double) -> Double { group.map(f).max() ?? 0 }
      print(
        String(
          format: "| %@ | %@ | %.2f | %.2f | %.2f | %.2f | %.2f |", q.filter as NSString, q.sort as NSString,
          worst { $0.medianMilliseconds.sqlite }, worst { $0.medianMilliseconds.postgres },
          worst { $0.p95Milliseconds.sqlite }, worst { $0.p95Milliseconds.postgres },
          worst { $0.medianMilliseconds.ratio }))
    }
    if let m = b.maxMedianMilliseconds, let r = b.maxMedianRatio {
      print(
        String(
          format:
            "\nslowest median: SQLite %.2f ms, PostgreSQL %.2f ms; largest ratio %.2f; pages differing: %d",
          m.sqlite, m.postgres, r, b.differingPages))
    }
  }
}
