import Benchmarks
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `bench store` (and `bench store --database`) built their scratch workspaces at
/// `<work>/blastview-bench-<pid>` (`-shared-<pid>`), in `/tmp` by default: a name anyone can
/// make first. They deleted whatever was there, and where it could not be deleted (another
/// user's folder in the sticky `/tmp`) went on inside it, writing images and SQLite files
/// where that user can plant links. Each run now makes a fresh folder of its own (`mkdtemp`,
/// 0700) and removes only that.
@Suite(.serialized) struct BenchScratchFolderTests {
  /// A folder at the old predictable name, holding someone's file.
  func plantFolder(in work: String, named name: String) throws -> String {
    let planted = work + "/" + name
    try FileManager.default.createDirectory(atPath: planted, withIntermediateDirectories: true)
    try "not the benchmark's\n".write(toFile: planted + "/keep.txt", atomically: false, encoding: .utf8)
    return planted
  }

  func workFolder() throws -> String {
    let work = NSTemporaryDirectory() + "bv-bench-scratch-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    return work
  }

  /// While the benchmark runs, its scratch folder is the only new entry in `work`, a folder
  /// (not a link) this user owns and only this user can enter.
  func checkScratch(in work: String, besides planted: String, seen: inout Bool) {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: work)) ?? []
    for name in names where work + "/" + name != planted {
      var st = stat()
      #expect(lstat(work + "/" + name, &st) == 0)
      #expect((st.st_mode & S_IFMT) == S_IFDIR, "\(name)")
      #expect(
        st.st_uid == geteuid() && st.st_mode & 0o777 == 0o700, "\(name): \(String(st.st_mode, radix: 8))")
      seen = true
    }
  }

  /// Runs a benchmark (checking its scratch folder at each log line), then: a scratch folder was
  /// made, the planted folder is as it was, and nothing but it is left in `work`.
  func expectOwnScratchOnly(
    in work: String, besides planted: String, run: ((String) -> Void) throws -> Void
  ) throws {
    var seen = false
    try run { _ in checkScratch(in: work, besides: planted, seen: &seen) }
    #expect(seen, "no scratch folder was made")
    #expect(
      (try? String(contentsOfFile: planted + "/keep.txt", encoding: .utf8)) == "not the benchmark's\n",
      "the benchmark deleted or rewrote a folder it did not make")
    #expect((try? FileManager.default.contentsOfDirectory(atPath: planted)) == ["keep.txt"])
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: work) == [(planted as NSString).lastPathComponent])
  }

  @Test func theStoreBenchmarkNeverTakesOverAFolderMadeBeforeIt() throws {
    let work = try workFolder()
    defer { try? FileManager.default.removeItem(atPath: work) }
    let planted = try plantFolder(in: work, named: "blastview-bench-\(getpid())")
    var o = StoreBenchmark.Options()
    o.cases = 300
    o.raters = 1
    o.pageSize = 10
    o.repetitions = 1
    o.importImages = 4
    o.workDirectory = work
    try expectOwnScratchOnly(in: work, besides: planted) { log in _ = try StoreBenchmark.run(o, log: log) }
  }

  @Test(.enabled(if: PGTestCluster.shouldRun)) func theSharedStoreBenchmarkNeverTakesOverAFolderMadeBeforeIt()
    throws
  {
    let pg = try PGTestCluster.require()
    let work = try workFolder()
    defer { try? FileManager.default.removeItem(atPath: work) }
    let planted = try plantFolder(in: work, named: "blastview-bench-shared-\(getpid())")
    var o = SharedStoreBenchmark.Options()
    o.database = pg.url("postgres", as: "blastview")
    o.images = 4
    o.annotations = 2
    o.repetitions = 1
    o.browse.cases = 200
    o.browse.raters = 1
    o.browse.pageSize = 10
    o.browse.repetitions = 1
    o.workDirectory = work
    try expectOwnScratchOnly(in: work, besides: planted) { log in
      _ = try SharedStoreBenchmark.run(o, log: log)
    }
  }
}
