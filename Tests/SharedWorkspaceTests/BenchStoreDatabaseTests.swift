import CaseStore
import Foundation
import Testing

/// `blastview bench store --database URL` (issue 16) runs end to end on the test cluster: both
/// backends measured on the same images, every figure present on both sides, the browser's
/// page query on the same cases built in both with the same pages on both, and the scratch
/// databases and rater role it made on the server dropped afterwards. (Figures are not checked:
/// speed belongs to the benchmark itself, docs/benchmarks.md.)
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct BenchStoreDatabaseTests {
  @Test func comparesBothBackendsAndDropsItsScratchDatabase() throws {
    let pg = try PGTestCluster.require()
    let service = try PGConnection(pg.url("postgres", as: "blastview"))
    func leftovers() throws -> [String] {
      try service.query(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'blastview\\_bench\\_%' "
          + "UNION ALL SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'bvbench\\_%'"
      ).compactMap { $0[0] }
    }
    let before = Set(try leftovers())
    let work = NSTemporaryDirectory() + "bv-bench-db-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: work) }
    let run = try OSUsers.shell(
      OSUsers.builtBinary,
      [
        "bench", "store", "--database", pg.url("postgres", as: "blastview"), "--images", "12",
        "--annotations",
        "8", "--repetitions", "3", "--cases", "400", "--work-directory", work, "--json",
      ])
    #expect(run.status == 0, "\(run.err)")
    let report = try #require(
      try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any], "\(run.out)")
    #expect(report["images"] as? Int == 12)
    #expect(report["annotations"] as? Int == 8)
    #expect((report["server"] as? String)?.contains("postgresql://") == true, "\(report)")
    for key in [
      "importImagesPerSecond", "annotateMedianMilliseconds", "annotateP95Milliseconds",
      "caseRecordMedianMilliseconds", "historyMedianMilliseconds", "imageReadMedianMilliseconds",
      "caseCountMedianMilliseconds",
    ] {
      let side = try #require(report[key] as? [String: Double], "\(key) missing: \(report)")
      let sqlite = try #require(side["sqlite"])
      let postgres = try #require(side["postgres"])
      #expect(sqlite > 0 && postgres > 0, "\(key): \(side)")
      #expect(
        abs(try #require(side["ratio"]) - postgres / sqlite) < 1e-9 * max(1, postgres / sqlite), "\(key)")
    }
    // The page query on the same 400 cases built in both: every browser filter × sort ×
    // direction × position timed on both, and each pair of pages holds the same cases.
    let browse = try #require(report["browse"] as? [String: Any], "\(report)")
    #expect(browse["cases"] as? Int == 400)
    let queries = try #require(browse["queries"] as? [[String: Any]])
    #expect(queries.count == 12 * 4 * 2 * 2)
    #expect(Set(queries.compactMap { $0["filter"] as? String }).count == 12)
    for q in queries {
      let median = try #require(q["medianMilliseconds"] as? [String: Double], "\(q)")
      #expect((median["sqlite"] ?? 0) > 0 && (median["postgres"] ?? 0) > 0, "\(q)")
      #expect(q["samePage"] as? Bool == true, "the backends' pages differ: \(q)")
    }
    #expect(browse["differingPages"] as? Int == 0)
    #expect(
      queries.contains { ($0["rows"] as? Int ?? 0) == 50 } && queries.contains { ($0["rows"] as? Int) == 0 })
    #expect(Set(try leftovers()) == before, "the scratch database or role was left on the server")
  }

  @Test func anUnreachableServerIsNamedWithoutItsPassword() throws {
    let run = try OSUsers.shell(
      OSUsers.builtBinary,
      [
        "bench", "store", "--database", "postgresql://bench:s3cret-pw@127.0.0.1:1/none?connect_timeout=2",
        "--images", "1", "--repetitions", "3",
      ])
    #expect(run.status != 0)
    #expect(run.err.contains("127.0.0.1") && !run.err.contains("s3cret-pw"), "\(run.err)")
  }
}
