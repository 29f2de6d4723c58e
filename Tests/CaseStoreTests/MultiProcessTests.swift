import Foundation
import GRDB
import Testing

@testable import CaseStore

/// Real processes against one workspace: the `casestore-writer` helper (built with the
/// tests) plays a rater's `blastview` process.
@Suite(.serialized) struct MultiProcessTests {
  static var writerPath: String {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return exe.deletingLastPathComponent().appendingPathComponent("casestore-writer").path
  }

  struct Ack: Hashable {
    var id: Int64
    var i: Int
    var caseID: Int64
    var label: String
  }

  static func parseAcks(_ text: String) -> [Ack] {
    text.split(separator: "\n").compactMap { line in
      let f = line.split(separator: " ")
      guard f.count == 5, f[0] == "ack", let id = Int64(f[1]), let i = Int(f[2]), let c = Int64(f[3]) else {
        return nil
      }
      return Ack(id: id, i: i, caseID: c, label: String(f[4]))
    }
  }

  final class Output: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock()
    func append(_ d: Data) {
      lock.lock()
      data.append(d)
      lock.unlock()
    }
    var text: String {
      lock.lock()
      defer { lock.unlock() }
      return String(decoding: data, as: UTF8.self)
    }
  }

  static func launch(_ args: [String]) throws -> (Process, Output, Output) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: writerPath)
    p.arguments = args
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let o = Output()
    let e = Output()
    out.fileHandleForReading.readabilityHandler = { h in o.append(h.availableData) }
    err.fileHandleForReading.readabilityHandler = { h in e.append(h.availableData) }
    try p.run()
    return (p, o, e)
  }

  /// Checks that each (case, rater) history is one unbroken chain.
  static func checkChains(_ store: CaseStore) throws {
    let rows = try store.read { db in
      try Row.fetchAll(db, sql: "SELECT id, case_id, rater_id, supersedes FROM annotation ORDER BY id")
    }
    var last: [String: Int64] = [:]
    for r in rows {
      let key = "\(r["case_id"] as Int64)/\(r["rater_id"] as Int64)"
      #expect((r["supersedes"] as Int64?) == last[key])
      last[key] = r["id"]
    }
  }

  @Test func eightRatersWritingAtOnceLoseNothingAndSeeNoError() throws {
    try #require(FileManager.default.isExecutableFile(atPath: Self.writerPath), "casestore-writer not built")
    let dir = TempDir()
    let store = try makeStore(dir, cases: 50)
    let raters = (0..<8).map { "rater\($0)" }
    let procs = try raters.map { try Self.launch([store.workspace.directory, $0, "500", "50"]) }
    for (p, _, _) in procs { p.waitUntilExit() }
    Thread.sleep(forTimeInterval: 0.2)  // let the pipe handlers drain
    var acked: [String: [Ack]] = [:]
    for (rater, (p, out, err)) in zip(raters, procs) {
      #expect(p.terminationStatus == 0, "\(rater) exited \(p.terminationStatus): \(err.text)")
      #expect(err.text.isEmpty, "\(rater) printed: \(err.text)")
      acked[rater] = Self.parseAcks(out.text)
      #expect(acked[rater]!.count == 500)
    }
    let all = try store.annotations(after: 0)
    #expect(all.count == 4000)
    let byID = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })
    for (rater, acks) in acked {
      #expect(Set(acks.map(\.i)) == Set(0..<500))
      for a in acks {
        let row = byID[a.id]
        #expect(
          row?.rater == rater && row?.caseID == a.caseID && row?.label == a.label
            && row?.note == "\(rater)-\(a.i)")
      }
    }
    try Self.checkChains(store)
    // Each rater's current label on each case is their last write there.
    let current = try store.currentLabels(viewer: .system)
    #expect(current.count == 8 * 50)
    for l in current {
      let last = acked[l.rater]!.filter { $0.caseID == l.caseID }.max { $0.i < $1.i }!
      #expect(l.label == last.label)
    }
  }

  @Test func killingAWriterAtRandomMomentsLosesNoAcknowledgedWrite() throws {
    try #require(FileManager.default.isExecutableFile(atPath: Self.writerPath), "casestore-writer not built")
    let dir = TempDir()
    let store = try makeStore(dir, cases: 20)
    try store.close()
    var rng = SeededRandom(seed: 2024)
    var allAcks: [Ack] = []
    for round in 0..<20 {
      let (p, out, _) = try Self.launch([dir.sub("ws"), "crash\(round % 3)", "0", "20", "--masks"])
      // Wait for the first acknowledgements, then kill at a random moment.
      let deadline = Date().addingTimeInterval(20)
      while Self.parseAcks(out.text).isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
      Thread.sleep(forTimeInterval: Double.random(in: 0.0...0.25, using: &rng))
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      #expect(p.terminationReason == .uncaughtSignal)
      Thread.sleep(forTimeInterval: 0.05)
      let acks = Self.parseAcks(out.text)
      #expect(!acks.isEmpty, "round \(round): no write was acknowledged")
      allAcks += acks

      let reopened = try Workspace.open(path: dir.sub("ws"))
      let check = try reopened.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
      #expect(check == ["ok"], "round \(round)")
      let fk = try reopened.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") }
      #expect(fk.isEmpty)
      let present = Dictionary(uniqueKeysWithValues: try reopened.annotations(after: 0).map { ($0.id, $0) })
      for a in allAcks {
        #expect(
          present[a.id]?.label == a.label && present[a.id]?.caseID == a.caseID, "round \(round): lost \(a)")
      }
      try Self.checkChains(reopened)
      try reopened.close()
    }
  }
}
