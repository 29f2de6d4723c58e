import CaseStore
import Dispatch
import Foundation
import GRDB
import Imaging

/// `blastview bench store`: the case store's two measured quantities (issue 5).
///
/// 1. Import throughput: N synthetic 224×224 PNG smears (or a real folder) imported into a
///    fresh workspace, in images/s, beside a baseline measured in the same run: the same
///    files read, hashed and decoded on the same threads with no database (so the ratio is
///    the store's own overhead).
/// 2. The browser's page query on a workspace of 100,000 cases × 3 raters with a promoted
///    model's predictions, for every filter and sort, first page and a page from the
///    middle (keyset cursors), median and 95th percentile over repetitions, beside a
///    baseline of one full scan of the case table (`SELECT count(*)`), and each query's
///    `EXPLAIN QUERY PLAN`.
public enum StoreBenchmark {
  public struct Options: Sendable {
    public var cases = 100_000
    public var raters = 3
    public var pageSize = 50
    public var repetitions = 25
    public var importImages = 10_000
    /// Import this folder instead of synthetic images.
    public var importFrom: String?
    public var workDirectory = FileManager.default.temporaryDirectory.path
    public var runImport = true
    public var runBrowse = true
    /// Build the browsing workspace here and keep it; reuse it when it already exists.
    public var keepWorkspace: String?
    public init() {}
  }

  public struct QueryTiming: Sendable, Codable {
    public var filter: String
    public var sort: String
    public var ascending: Bool
    public var page: String
    public var rows: Int
    public var medianMilliseconds: Double
    public var p95Milliseconds: Double
    /// Median CPU time of the process: wall time less the waits a loaded, shared machine adds.
    public var cpuMedianMilliseconds: Double
    /// Median as a fraction of one full scan of the case table in the same run.
    public var ofFullScan: Double
  }

  public struct QueryPlan: Sendable, Codable {
    public var filter: String
    public var sort: String
    /// The index that drove the query (a filter's, or the sort order's).
    public var driver: String
    public var plan: [String]
  }

  public struct Report: Sendable, Codable {
    public var importImages: Int?
    public var importSeconds: Double?
    public var importImagesPerSecond: Double?
    public var importBaselineImagesPerSecond: Double?
    public var importRatioToBaseline: Double?
    public var cases: Int?
    public var annotations: Int?
    public var buildSeconds: Double?
    public var fullScanMilliseconds: Double?
    public var fullScanCPUMilliseconds: Double?
    public var countMilliseconds: [String: Double] = [:]
    public var queries: [QueryTiming] = []
    public var plans: [QueryPlan] = []
    public var maxMedianMilliseconds: Double?
    public var maxCPUMedianMilliseconds: Double?
    public var maxP95Milliseconds: Double?
  }

  static let filters: [(String, CaseFilter)] = [
    ("none", CaseFilter()),
    ("predicted Pre-B", CaseFilter(predictedLabel: "Pre-B")),
    ("my label Benign", CaseFilter(myLabel: "Benign")),
    ("unreviewed", CaseFilter(unreviewed: true)),
    ("disagreement", CaseFilter(disagreement: true)),
    ("split test", CaseFilter(split: .test)),
    ("confidence < 0.4", CaseFilter(confidenceBelow: 0.4)),
    ("search file name", CaseFilter(search: "img_0421")),
    ("search id", CaseFilter(search: "#77777")),
    ("unreviewed + split val + conf < 0.6", CaseFilter(unreviewed: true, split: .val, confidenceBelow: 0.6)),
  ]

  public static func run(_ o: Options, log: (String) -> Void) throws -> Report {
    var report = Report()
    let base = try ScratchFolder.make(in: o.workDirectory, for: "blastview-bench")
    defer { ScratchFolder.remove(base) }
    if o.runImport { try benchImport(o, base: base, report: &report, log: log) }
    if o.runBrowse { try benchBrowse(o, base: base, report: &report, log: log) }
    return report
  }

  // MARK: Import

  static func benchImport(_ o: Options, base: String, report: inout Report, log: (String) -> Void) throws {
    let folder: String
    if let from = o.importFrom {
      folder = from
    } else {
      folder = base + "/images"
      log("writing \(o.importImages) synthetic 224×224 PNG smears...")
      try writeSyntheticImages(count: o.importImages, to: folder)
    }
    // Baseline: read, hash and decode every file on the same threads, no database.
    let t0 = Date()
    let decoded = CaseStore.inspectImages(under: folder)
    let baseline = Date().timeIntervalSince(t0)
    let store = try Workspace.create(at: base + "/import-ws")
    let t1 = Date()
    let summary = try store.importImages(ImportOptions(paths: [folder], labelsFromFolders: true))
    let seconds = Date().timeIntervalSince(t1)
    try store.close()
    report.importImages = summary.imported
    report.importSeconds = seconds
    report.importImagesPerSecond = Double(summary.found) / seconds
    report.importBaselineImagesPerSecond = Double(decoded) / baseline
    report.importRatioToBaseline = report.importImagesPerSecond! / report.importBaselineImagesPerSecond!
    log(
      String(
        format:
          "import: %d images in %.2f s = %.0f images/s; baseline (read+hash+decode, no database) %.0f images/s; "
          + "ratio %.2f", summary.imported, seconds, report.importImagesPerSecond!,
        report.importBaselineImagesPerSecond!,
        report.importRatioToBaseline!))
  }

  /// Smear-like images: a pale background with a few purple discs, varied per file so each
  /// has its own SHA-256; split over the four all4 class folders.
  static func writeSyntheticImages(count: Int, to folder: String) throws {
    let classes = ["Benign", "Early", "Pre", "Pro"]
    for c in classes {
      try FileManager.default.createDirectory(atPath: folder + "/" + c, withIntermediateDirectories: true)
    }
    let failures = ResultCounter()
    DispatchQueue.concurrentPerform(iterations: count) { i in
      // A scrambled start per image: consecutive states would share shifted sequences.
      var seeder = SplitMix(state: UInt64(i))
      var rng = SplitMix(state: seeder.next())
      let w = 224
      var img = RGBImage(width: w, height: w, fill: (230, 215, 220))
      for _ in 0..<(3 + Int(rng.next() % 4)) {
        let cx = Int(rng.next() % UInt64(w))
        let cy = Int(rng.next() % UInt64(w))
        let r = 10 + Int(rng.next() % 30)
        let shade = UInt8(80 + rng.next() % 60)
        for y in max(0, cy - r)..<min(w, cy + r) {
          for x in max(0, cx - r)..<min(w, cx + r) where (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r {
            img[x, y] = (shade, UInt8(40 + (x + y) % 30), 150)
          }
        }
      }
      let path = "\(folder)/\(classes[i % 4])/img_\(String(format: "%05d", i)).png"
      if (try? ScratchFolder.write(encodePNG(img), to: path)) == nil { failures.add() }
    }
    if failures.value > 0 {
      throw StoreError.io(path: folder, reason: "\(failures.value) synthetic images not written")
    }
  }

  // MARK: Browse

  static func benchBrowse(_ o: Options, base: String, report: inout Report, log: (String) -> Void) throws {
    let now = CaseStore.timestamp(Date())
    if let keep = o.keepWorkspace,
      FileManager.default.fileExists(atPath: keep + "/" + Workspace.databaseFileName)
    {
      let store = try Workspace.open(path: keep)
      log("reusing \(keep)")
      report.cases = try store.caseCount()
      report.annotations = Int(try store.latestAnnotationID())
      try measureBrowse(
        store, o: o, now: try store.setting("bench_built_at") ?? now, report: &report, log: log)
      return
    }
    let store = try Workspace.create(at: o.keepWorkspace ?? base + "/browse-ws")
    let t0 = Date()
    log("building \(o.cases) cases × \(o.raters) raters with predictions...")
    var rng = SplitMix(state: 42)
    let classes = store.labelSchema.classNames
    var rows: [CaseStore.NewCase] = []
    rows.reserveCapacity(o.cases)
    for i in 0..<o.cases {
      var bytes = [UInt8](repeating: 0, count: 32)
      for k in 0..<4 {
        let v = rng.next()
        for b in 0..<8 { bytes[k * 8 + b] = UInt8(truncatingIfNeeded: v >> (8 * b)) }
      }
      let sha = bytes.map { String(format: "%02x", $0) }.joined()
      rows.append(
        CaseStore.NewCase(
          path: "aria/\(classes[i % 4])/img_\(String(format: "%06d", i)).jpg", relative: false, sha256: sha,
          format: "jpeg", width: 224, height: 224, referenceLabel: classes[i % 4],
          split: Split.of(sha256Hex: sha)))
    }
    for s in stride(from: 0, to: rows.count, by: 10_000) {
      _ = try store.insertCases(Array(rows[s..<min(s + 10_000, rows.count)]))
    }
    let modelFile = base + "/model.bin"
    try ScratchFolder.write(Array("benchmark model".utf8), to: modelFile)
    let model = try store.registerModel(
      file: modelFile, parent: nil, tasks: ["classification"], trainedTasks: [], frozenTasks: [])
    try store.promote(version: model.version)
    var preds: [NewPrediction] = []
    for id in 1...Int64(o.cases) {
      var p = (0..<4).map { _ in Double(rng.next() % 1000 + 1) }
      let s = p.reduce(0, +)
      p = p.map { $0 / s }
      preds.append(NewPrediction(caseID: id, probabilities: p))
      if preds.count == 10_000 {
        try store.savePredictions(preds, model: model.version)
        preds.removeAll(keepingCapacity: true)
      }
    }
    if !preds.isEmpty { try store.savePredictions(preds, model: model.version) }
    // Each rater labels about 60% of the cases, agreeing with the reference 85% of the time.
    var annotations = 0
    try store.setSetting("bench_built_at", now)
    for r in 0..<o.raters {
      let rater = "rater\(r + 1)"
      var batch: [(Int64, String)] = []
      for id in 1...Int64(o.cases) where rng.next() % 10 < 6 {
        let ref = classes[Int((id - 1) % 4)]
        batch.append((id, rng.next() % 100 < 85 ? ref : classes[Int(rng.next() % 4)]))
      }
      for s in stride(from: 0, to: batch.count, by: 20_000) {
        let chunk = Array(batch[s..<min(s + 20_000, batch.count)])
        try store.appendLabels(chunk.map { (caseID: $0.0, label: $0.1) }, rater: rater, now: now)
      }
      annotations += batch.count
    }
    try store.optimize()
    report.cases = o.cases
    report.annotations = annotations
    report.buildSeconds = Date().timeIntervalSince(t0)
    log(String(format: "built in %.1f s (%d annotations)", report.buildSeconds!, annotations))
    try measureBrowse(store, o: o, now: now, report: &report, log: log)
  }

  static func measureBrowse(
    _ store: CaseStore, o: Options, now: String, report: inout Report, log: (String) -> Void
  )
    throws
  {

    func cpuNow() -> Double {
      var ts = timespec()
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
      return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) / 1e6
    }
    func time(_ body: () throws -> Void) rethrows -> (median: Double, p95: Double, cpu: Double) {
      var samples: [Double] = []
      var cpu: [Double] = []
      for _ in 0..<o.repetitions {
        let c = cpuNow()
        let t = DispatchTime.now().uptimeNanoseconds
        try body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
        cpu.append(cpuNow() - c)
      }
      samples.sort()
      cpu.sort()
      return (
        samples[samples.count / 2], samples[min(samples.count - 1, Int(Double(samples.count) * 0.95))],
        cpu[cpu.count / 2]
      )
    }
    let scan = try time {
      _ = try store.scanCaseTable()
    }
    let fullScan = scan.median
    report.fullScanMilliseconds = fullScan
    report.fullScanCPUMilliseconds = scan.cpu
    log(
      String(
        format: "baseline: one full scan of the case table %.2f ms (median; CPU %.2f ms)", fullScan, scan.cpu)
    )
    let viewer = Viewer.rater("rater1")
    for (name, filter) in filters {
      report.countMilliseconds[name] = try time { _ = try store.caseCount(filter, viewer: viewer) }.median
      for sort in [CaseSort.id, .confidence, .added, .myLastEdit] {
        for ascending in [true, false] {
          var request = CasePageRequest(filter: filter, sort: sort, ascending: ascending, limit: o.pageSize)
          var first: CasePage? = nil
          let t1 = try time { first = try store.casePage(request, viewer: viewer) }
          report.queries.append(
            QueryTiming(
              filter: name, sort: sort.rawValue, ascending: ascending, page: "first", rows: first!.rows.count,
              medianMilliseconds: t1.median, p95Milliseconds: t1.p95, cpuMedianMilliseconds: t1.cpu,
              ofFullScan: t1.median / fullScan))
          // A page from the middle: a cursor at the median case of the listing.
          let midID = Int64((report.cases ?? o.cases) / 2)
          let key: CaseCursor.Key
          switch sort {
          case .confidence: key = .number(0.4)
          case .added: key = .text(now)
          case .myLastEdit: key = .text(now)
          default: key = .null
          }
          request.cursor = CaseCursor(key: key, caseID: midID)
          var mid: CasePage? = nil
          let t2 = try time { mid = try store.casePage(request, viewer: viewer) }
          report.queries.append(
            QueryTiming(
              filter: name, sort: sort.rawValue, ascending: ascending, page: "middle", rows: mid!.rows.count,
              medianMilliseconds: t2.median, p95Milliseconds: t2.p95, cpuMedianMilliseconds: t2.cpu,
              ofFullScan: t2.median / fullScan))
          if ascending {
            let plan = try store.explainCasePage(
              CasePageRequest(filter: filter, sort: sort, limit: o.pageSize), viewer: viewer)
            report.plans.append(
              QueryPlan(
                filter: name, sort: sort.rawValue, driver: plan.driver,
                plan: plan.statements.enumerated().flatMap { i, s in
                  s.plan.map { (plan.statements.count > 1 ? "part \(i + 1): " : "") + $0 }
                }))
          }
        }
      }
      let worst = report.queries.filter { $0.filter == name }.max {
        $0.medianMilliseconds < $1.medianMilliseconds
      }!
      log(
        String(
          format:
            "%-38@ worst page %.2f ms median (CPU %.2f), %.2f ms p95, %.3f of a full scan (%@ %@, %@ page); count %.2f ms",
          name as NSString, worst.medianMilliseconds, worst.cpuMedianMilliseconds, worst.p95Milliseconds,
          worst.ofFullScan,
          worst.sort as NSString, worst.ascending ? "asc" : "desc", worst.page as NSString,
          report.countMilliseconds[name]!))
    }
    report.maxMedianMilliseconds = report.queries.map(\.medianMilliseconds).max()
    report.maxCPUMedianMilliseconds = report.queries.map(\.cpuMedianMilliseconds).max()
    report.maxP95Milliseconds = report.queries.map(\.p95Milliseconds).max()
    try store.close()
  }
}

struct SplitMix {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

private final class ResultCounter: @unchecked Sendable {
  private var n = 0
  private let lock = NSLock()
  func add() {
    lock.lock()
    n += 1
    lock.unlock()
  }
  var value: Int {
    lock.lock()
    defer { lock.unlock() }
    return n
  }
}
