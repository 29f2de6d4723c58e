import Foundation
import GRDB
import Imaging
import Testing

@testable import CaseStore

@Suite struct WorkspaceTests {
  @Test func selectionOrderIsOptionThenEnvironmentThenDotBlastview() {
    let env = ["BLASTVIEW_WORKSPACE": "/env/ws"]
    #expect(
      Workspace.resolve(explicit: "/opt/ws", environment: env, currentDirectory: "/home/a").directory
        == "/opt/ws")
    #expect(
      Workspace.resolve(explicit: "rel", environment: env, currentDirectory: "/home/a").directory
        == "/home/a/rel")
    #expect(
      Workspace.resolve(explicit: nil, environment: env, currentDirectory: "/home/a").directory == "/env/ws")
    #expect(
      Workspace.resolve(explicit: nil, environment: [:], currentDirectory: "/home/a").directory
        == "/home/a/.blastview")
    #expect(
      Workspace.resolve(explicit: "", environment: ["BLASTVIEW_WORKSPACE": ""], currentDirectory: "/x")
        .directory
        == "/x/.blastview")
  }

  @Test func createThenOpenKeepsSchemaAndUsesWAL() throws {
    let dir = TempDir()
    let s1 = try Workspace.create(at: dir.sub("ws"), schema: .wbc5, imageRoot: dir.path)
    #expect(s1.labelSchema == .wbc5)
    try s1.close()
    let s2 = try Workspace.open(path: dir.sub("ws"))
    #expect(s2.labelSchema == .wbc5)
    #expect(try s2.imageRoot() == dir.path)
    let mode = try s2.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
    #expect(mode == "wal")
    let fk = try s2.read { db in try Int.fetchOne(db, sql: "PRAGMA foreign_keys") }
    #expect(fk == 1)
    let sync = try s2.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
    #expect(sync == 2)  // FULL
    #expect(throws: StoreError.workspaceExists(dir.sub("ws"))) { try Workspace.create(at: dir.sub("ws")) }
  }

  @Test func missingWorkspaceSaysHowToCreateOne() {
    let dir = TempDir()
    do {
      _ = try Workspace.open(path: dir.sub("nothing"))
      Issue.record("opened a missing workspace")
    } catch {
      #expect(error == .workspaceMissing(dir.sub("nothing")))
      #expect(error.description.contains("blastview init"))
    }
  }

  /// Bytes and modification time of a file, to prove a refusal left it untouched.
  func fingerprint(_ path: String) throws -> (Data, Date) {
    let attrs = try FileManager.default.attributesOfItem(atPath: path)
    return (try Data(contentsOf: URL(fileURLWithPath: path)), attrs[.modificationDate] as! Date)
  }

  @Test func aFileThatIsNotSQLiteIsRefusedAndUntouched() throws {
    let dir = TempDir()
    try FileManager.default.createDirectory(atPath: dir.sub("ws"), withIntermediateDirectories: true)
    let db = dir.sub("ws/blastview.db")
    for content in [
      Data("this is a text file, not a database\n".utf8), Data(repeating: 0, count: 4096), Data(),
    ] {
      try content.write(to: URL(fileURLWithPath: db))
      let before = try fingerprint(db)
      #expect(throws: StoreError.notADatabase(db)) { try Workspace.open(path: dir.sub("ws")) }
      let after = try fingerprint(db)
      #expect(before.0 == after.0 && before.1 == after.1)
      #expect(!FileManager.default.fileExists(atPath: db + "-wal"))
    }
  }

  @Test func anotherApplicationsSQLiteDatabaseIsRefusedAndUntouched() throws {
    let dir = TempDir()
    try FileManager.default.createDirectory(atPath: dir.sub("ws"), withIntermediateDirectories: true)
    let db = dir.sub("ws/blastview.db")
    let q = try DatabaseQueue(path: db)
    try q.write { try $0.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)") }
    try q.close()
    let before = try fingerprint(db)
    #expect(throws: StoreError.notABlastViewDatabase(db)) { try Workspace.open(path: dir.sub("ws")) }
    let after = try fingerprint(db)
    #expect(before.0 == after.0 && before.1 == after.1)
  }

  @Test func aWorkspaceFromANewerSchemaIsRefusedAndUntouched() throws {
    let dir = TempDir()
    let store = try Workspace.create(at: dir.sub("ws"))
    try store.ensureRater("ana")
    try store.close()
    // What a future BlastView would leave: an extra migration and a new table.
    let q = try DatabaseQueue(path: dir.sub("ws/blastview.db"))
    try q.write { db in
      try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v9-future-feature')")
      try db.execute(sql: "CREATE TABLE future_thing (id INTEGER PRIMARY KEY)")
    }
    _ = try q.writeWithoutTransaction { try $0.checkpoint(.truncate) }
    try q.close()
    let db = dir.sub("ws/blastview.db")
    let before = try fingerprint(db)
    do {
      _ = try Workspace.open(path: dir.sub("ws"))
      Issue.record("opened a newer workspace")
    } catch {
      #expect(error == .newerSchema(path: db, unknownMigrations: ["v9-future-feature"]))
      #expect(error.description.contains("newer BlastView"))
    }
    let after = try fingerprint(db)
    #expect(before.0 == after.0 && before.1 == after.1)
  }

  /// Whether this machine can make a directory read-only for the current user: root
  /// ignores permission bits, so root needs the immutable attribute (chattr, ext4 and the
  /// like); anyone else uses chmod.
  static let canMakeReadOnly: Bool = {
    if geteuid() != 0 { return true }
    let probe = FileManager.default.temporaryDirectory.path + "/casestore-chattr-\(getpid())"
    try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: probe) }
    guard run("/usr/bin/chattr", ["+i", probe]) == 0 else { return false }
    _ = run("/usr/bin/chattr", ["-i", probe])
    return true
  }()

  @Test(.enabled(if: canMakeReadOnly, "root on a file system without the immutable attribute"))
  func aReadOnlyWorkspaceIsRefusedAndUntouched() throws {
    let dir = TempDir()
    let store = try Workspace.create(at: dir.sub("ws"))
    try store.close()
    let db = dir.sub("ws/blastview.db")
    let before = try fingerprint(db)
    // Root ignores permission bits; the immutable attribute binds root too. Use whichever
    // this machine and user allow, and say so if neither can be tested.
    let isRoot = geteuid() == 0
    var protected = false
    if isRoot {
      protected = run("/usr/bin/chattr", ["+i", dir.sub("ws")]) == 0
    } else {
      protected = chmod(dir.sub("ws"), 0o555) == 0 && chmod(db, 0o444) == 0
    }
    try #require(protected, "cannot make a read-only directory here (chattr missing?)")
    defer {
      if isRoot {
        _ = run("/usr/bin/chattr", ["-i", dir.sub("ws")])
      } else {
        chmod(dir.sub("ws"), 0o755)
        chmod(db, 0o644)
      }
    }
    do {
      _ = try Workspace.open(path: dir.sub("ws"))
      Issue.record("opened a read-only workspace")
    } catch {
      #expect(error == .readOnly(dir.sub("ws")))
      #expect(error.description.contains("read-only"))
    }
    let after = try fingerprint(db)
    #expect(before.0 == after.0 && before.1 == after.1)
  }

  @Test func aFullDiskRefusesTheWriteAndLosesNothingSaved() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 3)
    let first = try store.annotate(case: 1, rater: "ana", label: "Pre-B")
    // Simulate the disk filling: SQLite may not grow the file past its current pages.
    try store.pool.writeWithoutTransaction { db in
      let pages = try Int.fetchOne(db, sql: "PRAGMA page_count")!
      try db.execute(sql: "PRAGMA max_page_count = \(pages)")
    }
    var sawFull = false
    for i in 0..<200 {
      do {
        try store.annotate(
          case: 2, rater: "ana", label: "Benign", mask: squareMask(8, 8, x: i % 4, y: 0, size: 4),
          note: String(repeating: "x", count: 2000))
      } catch {
        #expect(error == .diskFull(store.workspace.databasePath))
        #expect(error.description.contains("full"))
        sawFull = true
        break
      }
    }
    #expect(sawFull)
    let h = try store.history(case: 1, viewer: .system)
    #expect(h == [first])
    let ok = try store.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
    #expect(ok == "ok")
  }

  /// A real full disk: a 3 MiB tmpfs (root only, where mounting is allowed).
  static let canMountTmpfs: Bool = {
    guard geteuid() == 0 else { return false }
    let probe = FileManager.default.temporaryDirectory.path + "/casestore-tmpfs-probe-\(getpid())"
    try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: probe) }
    guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]) == 0 else { return false }
    _ = run("/bin/umount", [probe])
    return true
  }()

  @Test(.enabled(if: canMountTmpfs, "needs root and permission to mount a tmpfs"))
  func aReallyFullDiskIsRefusedAndNothingSavedIsLost() throws {
    let dir = TempDir()
    let mnt = dir.sub("small")
    try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
    try #require(run("/bin/mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt]) == 0)
    defer { _ = run("/bin/umount", ["-l", mnt]) }

    let store = try Workspace.create(at: mnt + "/ws")
    var rng = SeededRandom(seed: 3)
    for i in 0..<20 { try store.addCase(path: "/img/\(i).png", sha256: fakeSHA(&rng), width: 64, height: 64) }
    var saved: [Annotation] = []
    var refusal: StoreError? = nil
    for i in 0..<10_000 {
      // Noise masks do not compress: each write takes real space.
      var m = Mask(width: 64, height: 64)
      for p in 0..<m.values.count where UInt8.random(in: 0...1, using: &rng) == 1 { m.values[p] = 255 }
      do {
        saved.append(try store.annotate(case: Int64(i % 20 + 1), rater: "ana", label: "Pre-B", mask: m))
      } catch {
        refusal = error
        break
      }
    }
    #expect(refusal == .diskFull(store.workspace.databasePath), "\(String(describing: refusal))")
    #expect(refusal?.description.contains("full") == true)
    #expect(saved.count > 10)
    try store.close()
    // Reopen on the still-full disk and check that nothing acknowledged was lost.
    let reopened = try? Workspace.open(path: mnt + "/ws")
    #expect(reopened != nil)
    if let reopened {
      #expect(try reopened.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
      let present = Set(try reopened.annotations(after: 0).map(\.id))
      #expect(saved.allSatisfy { present.contains($0.id) })
      try reopened.close()
    }
    // A new workspace on the full disk is refused and leaves nothing behind.
    let filler = mnt + "/filler"
    _ = FileManager.default.createFile(atPath: filler, contents: nil)
    if let h = FileHandle(forWritingAtPath: filler) {
      while (try? h.write(contentsOf: Data(repeating: 1, count: 65536))) != nil {}
      try? h.close()
    }
    do {
      _ = try Workspace.create(at: mnt + "/ws2")
      Issue.record("created a workspace on a full disk")
    } catch {
      #expect(error == .diskFull(mnt + "/ws2") || error == .diskFull(mnt + "/ws2/blastview.db"), "\(error)")
    }
    #expect(!FileManager.default.fileExists(atPath: mnt + "/ws2/blastview.db"))
  }
}

@discardableResult
func run(_ tool: String, _ args: [String]) -> Int32 {
  guard FileManager.default.isExecutableFile(atPath: tool) else { return -1 }
  let p = Process()
  p.executableURL = URL(fileURLWithPath: tool)
  p.arguments = args
  p.standardError = FileHandle.nullDevice
  p.standardOutput = FileHandle.nullDevice
  do { try p.run() } catch { return -1 }
  p.waitUntilExit()
  return p.terminationStatus
}
