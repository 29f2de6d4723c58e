import CaseStore
import Dispatch
import Foundation

/// `blastview bench store --database URL`: what a shared workspace costs against the embedded
/// one (issue 16). The same operations, on the same images, in the same run, through the one
/// `WorkspaceStore` contract: once on a fresh SQLite workspace (the baseline) and once on a
/// fresh PostgreSQL database made for the run on the server at URL (dropped afterwards), each
/// reported side by side with PostgreSQL's ratio to SQLite.
///
/// Measured: import (images/s; the shared store also stores each image's bytes), the annotate
/// round trip (one acknowledged, committed annotation per call: what a rater waits for on each
/// key press), and the reads the case view makes (the case record, its history, its image
/// checked against its SHA-256) and the case count.
///
/// Then the browser's page query on a workspace of `cases` cases (100,000 by default) built in
/// both backends, under every filter and sort (`SharedBrowseBenchmark`).
///
/// The role in URL must be able to create a database and roles (the workspace's service role,
/// `blastview`): the run creates `blastview_bench_<pid>_*` databases and one rater role, and
/// drops them.
public enum SharedStoreBenchmark {
  public struct Options: Sendable {
    public var database = ""
    public var images = 1_000
    public var annotations = 300
    public var repetitions = 25
    public var importFrom: String?
    public var workDirectory = FileManager.default.temporaryDirectory.path
    /// Import, annotate and the case view's reads.
    public var runOperations = true
    /// The browser's page query (`SharedBrowseBenchmark`) on `browse.cases` cases.
    public var runBrowse = true
    public var browse = SharedBrowseBenchmark.Options()
    public init() {}
  }

  /// One quantity on both backends. `ratio` is PostgreSQL over SQLite (for a time, above 1
  /// means PostgreSQL is slower; for a rate, below 1).
  public struct Side: Sendable, Codable {
    public var sqlite: Double
    public var postgres: Double
    public var ratio: Double
    init(sqlite: Double, postgres: Double) {
      self.sqlite = sqlite
      self.postgres = postgres
      ratio = postgres / sqlite
    }
  }

  public struct Report: Sendable, Codable {
    /// The server, without any password.
    public var server = ""
    public var images = 0
    public var importImagesPerSecond: Side?
    public var annotations = 0
    public var annotateMedianMilliseconds: Side?
    public var annotateP95Milliseconds: Side?
    public var caseRecordMedianMilliseconds: Side?
    public var historyMedianMilliseconds: Side?
    public var imageReadMedianMilliseconds: Side?
    public var caseCountMedianMilliseconds: Side?
    public var browse: SharedBrowseBenchmark.Report?
  }

  struct Failed: Error, CustomStringConvertible {
    let description: String
  }

  public static func run(_ o: Options, log: (String) -> Void) throws -> Report {
    var report = Report()
    let base = try ScratchFolder.make(in: o.workDirectory, for: "blastview-bench-shared")
    defer { ScratchFolder.remove(base) }
    // The scratch database and rater role, on the server at URL; both dropped however the run ends.
    let admin = try PGConnection(o.database)
    report.server = admin.displayTarget
    if o.runOperations { try runOperations(o, admin: admin, base: base, report: &report, log: log) }
    if o.runBrowse {
      // A database and a SQLite workspace of their own: the browsing cases keep their ids.
      let database = "blastview_bench_\(getpid())_\(UInt32.random(in: 0...UInt32.max))_browse"
      try admin.query("CREATE DATABASE \(database)")
      log("created the scratch database \(database) on \(admin.displayTarget)")
      defer { _ = try? admin.query("DROP DATABASE IF EXISTS \(database) WITH (FORCE)") }
      let embedded = try Workspace.create(at: base + "/sqlite-browse")
      defer { try? embedded.close() }
      var shared: PostgresStore? = try PostgresStore.create(
        o.database, database: database, schema: embedded.labelSchema)
      defer { shared = nil }
      report.browse = try SharedBrowseBenchmark.run(o.browse, sqlite: embedded, postgres: shared!, log: log)
    }
    return report
  }

  /// Import, annotate round trips and the case view's reads on a fresh store of each backend.
  static func runOperations(
    _ o: Options, admin: PGConnection, base: String, report: inout Report, log: (String) -> Void
  ) throws {
    let folder: String
    if let from = o.importFrom {
      folder = from
    } else {
      folder = base + "/images"
      log("writing \(o.images) synthetic 224×224 PNG smears...")
      try StoreBenchmark.writeSyntheticImages(count: o.images, to: folder)
    }
    let tag = "\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
    let database = "blastview_bench_\(tag)"
    let raterRole = "bvbench_\(tag)"
    try admin.query("CREATE DATABASE \(database)")
    log("created the scratch database \(database) on \(admin.displayTarget)")
    var shared: PostgresStore?
    defer {
      shared = nil
      _ = try? admin.query("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
      _ = try? admin.query("DROP ROLE IF EXISTS \(raterRole)")
    }
    let embedded = try Workspace.create(at: base + "/sqlite-ws")
    defer { try? embedded.close() }
    shared = try PostgresStore.create(o.database, database: database, schema: embedded.labelSchema)
    let stores: [(String, any WorkspaceStore)] = [("SQLite", embedded), ("PostgreSQL", shared!)]

    // Import.
    var rates: [Double] = []
    for (name, store) in stores {
      let t = Date()
      let summary = try store.importImages(ImportOptions(paths: [folder], labelsFromFolders: true)) { _ in }
      let seconds = Date().timeIntervalSince(t)
      guard summary.imported > 0 else {
        throw Failed(description: "\(name): nothing imported from \(folder)")
      }
      report.images = summary.imported
      rates.append(Double(summary.imported) / seconds)
      log(
        String(
          format: "%@ import: %d images in %.2f s = %.0f images/s", name, summary.imported, seconds,
          rates.last!))
    }
    report.importImagesPerSecond = Side(sqlite: rates[0], postgres: rates[1])
    let cases = try stores.map { try $0.1.caseCount() }
    guard cases[0] == cases[1] else {
      throw Failed(description: "the backends imported \(cases[0]) and \(cases[1]) cases")
    }

    // Annotate: the same cases and labels on both, one committed annotation per call.
    let classes = embedded.labelSchema.classNames
    var rng = SplitMix(state: 16)
    let plan = (0..<o.annotations).map { _ in
      (Int64(1 + rng.next() % UInt64(cases[0])), classes[Int(rng.next() % UInt64(classes.count))])
    }
    report.annotations = plan.count
    var annotate: [(median: Double, p95: Double)] = []
    for (name, store) in stores {
      try store.addRater(raterRole, role: .rater)
      var samples: [Double] = []
      for (caseID, label) in plan {
        let t = DispatchTime.now().uptimeNanoseconds
        try store.annotate(
          case: caseID, rater: raterRole, label: label, mask: nil, session: nil, clear: [], note: nil)
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
      }
      annotate.append((percentile(samples, 0.5), percentile(samples, 0.95)))
      log(
        String(
          format: "%@ annotate round trip: %.3f ms median, %.3f ms p95 (%d calls)", name,
          annotate.last!.median, annotate.last!.p95, samples.count))
    }
    report.annotateMedianMilliseconds = Side(sqlite: annotate[0].median, postgres: annotate[1].median)
    report.annotateP95Milliseconds = Side(sqlite: annotate[0].p95, postgres: annotate[1].p95)

    // Reads the case view makes, on the same random cases.
    let probe = (0..<o.repetitions).map { _ in Int64(1 + rng.next() % UInt64(cases[0])) }
    func measure(_ what: String, _ body: (any WorkspaceStore, Int64) throws -> Void) throws -> Side {
      var medians: [Double] = []
      for (name, store) in stores {
        var samples: [Double] = []
        for id in probe {
          let t = DispatchTime.now().uptimeNanoseconds
          try body(store, id)
          samples.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        }
        medians.append(percentile(samples, 0.5))
        log(String(format: "%@ %@: %.3f ms median", name, what, medians.last!))
      }
      return Side(sqlite: medians[0], postgres: medians[1])
    }
    report.caseRecordMedianMilliseconds = try measure("case record") { s, id in
      _ = try s.caseRecord(id: id, viewer: .system)
    }
    report.historyMedianMilliseconds = try measure("history") { s, id in
      _ = try s.history(case: id, viewer: .system)
    }
    report.imageReadMedianMilliseconds = try measure("image read (SHA-256 checked)") { s, id in
      _ = try s.imageBytes(case: id)
    }
    report.caseCountMedianMilliseconds = try measure("case count") { s, _ in _ = try s.caseCount() }
  }

  static func percentile(_ samples: [Double], _ q: Double) -> Double {
    let s = samples.sorted()
    return s[min(s.count - 1, Int(Double(s.count) * q))]
  }
}
