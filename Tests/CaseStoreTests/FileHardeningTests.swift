import Foundation
import Imaging
import Testing

@testable import CaseStore

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 15, files the program writes and reads: each test reproduces an attack that worked
/// before the fix (symbolic links planted in shared folders, predictable temporary names,
/// formula cells, colliding mask names, raw bidi controls, replaced images, FIFOs, names that
/// are not UTF-8, decompression bombs).
@Suite(.serialized) struct FileHardeningTests {
  static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  func victim(_ dir: TempDir, _ text: String = "victim's file\n") throws -> String {
    let path = dir.sub("victim-\(UInt32.random(in: 0...UInt32.max))")
    try text.write(toFile: path, atomically: false, encoding: .utf8)
    return path
  }

  // MARK: Item 2: predictable temporary names, outputs that are links

  @Test func exportNeverWritesThroughLinksPlantedAtItsNames() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 2)
    try store.annotate(case: 1, rater: "ana", label: "Pre-B")
    let out = dir.sub("out")
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let v = try victim(dir)
    // The old writer's temporary name: `annotations.csv.tmp-<pid>`, O_CREAT|O_TRUNC.
    try FileManager.default.createSymbolicLink(
      atPath: out + "/annotations.csv.tmp-\(getpid())", withDestinationPath: v)
    let s = try store.export(ExportOptions(format: .csv, outDirectory: out, viewer: .system))
    #expect(try String(contentsOfFile: v, encoding: .utf8) == "victim's file\n")
    #expect(try String(contentsOfFile: s.files[0], encoding: .utf8).contains("ana"))
    // An output name that is itself a link is refused, not followed or replaced.
    let out2 = dir.sub("out2")
    try FileManager.default.createDirectory(atPath: out2, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: out2 + "/annotations.csv", withDestinationPath: v)
    #expect(throws: StoreError.self) {
      try store.export(ExportOptions(format: .csv, outDirectory: out2, viewer: .system))
    }
    #expect(try String(contentsOfFile: v, encoding: .utf8) == "victim's file\n")
    // `masks` planted as a link into someone else's folder.
    let out3 = dir.sub("out3")
    let elsewhere = dir.sub("elsewhere")
    try FileManager.default.createDirectory(atPath: out3, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
    try store.annotate(case: 2, rater: "ana", mask: squareMask(8, 8, x: 0, y: 0, size: 2))
    try FileManager.default.createSymbolicLink(atPath: out3 + "/masks", withDestinationPath: elsewhere)
    #expect(throws: StoreError.self) {
      try store.export(ExportOptions(format: .masks, outDirectory: out3, viewer: .system))
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
  }

  @Test func backupNeverWipesADatabaseThroughAPlantedLinkNorLeavesALink() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 3)
    // Another rater's database, linked at the old predictable name `out.db.partial-<pid>`.
    let otherDir = TempDir("other")
    let other = try makeStore(otherDir, cases: 5)
    let otherPath = other.workspace.databasePath
    let before = try Data(contentsOf: URL(fileURLWithPath: otherPath))
    let dest = dir.sub("out.db")
    try FileManager.default.createSymbolicLink(
      atPath: dest + ".partial-\(getpid())", withDestinationPath: otherPath)
    try store.backup(to: dest)
    #expect(try Data(contentsOf: URL(fileURLWithPath: otherPath)) == before)
    var st = stat()
    #expect(lstat(dest, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG)
    #expect(try other.caseCount() == 5)
    // A destination that is a dangling link is refused; nothing is made where it points.
    let linked = dir.sub("linked.db")
    try FileManager.default.createSymbolicLink(atPath: linked, withDestinationPath: dir.sub("target.db"))
    #expect(throws: StoreError.self) { try store.backup(to: linked) }
    #expect(!FileManager.default.fileExists(atPath: dir.sub("target.db")))
    // No temporary folder or file is left beside the backup.
    let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
    #expect(left.isEmpty, "\(left)")
  }

  // MARK: Item 14: CSV formulas and colliding mask names; item 15: JSON controls

  @Test func csvCellsThatSpreadsheetsWouldEvaluateAreNeutralised() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 5)
    let hostile = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx", " =1+1"]
    for (i, text) in hostile.enumerated() {
      try store.annotate(case: Int64(i % 5 + 1), rater: "r\(i)", label: "Pre-B", note: text)
    }
    try store.annotate(case: 1, rater: "=cmd|' /C calc'!A0", label: "Benign", note: "plain")
    let s = try store.export(ExportOptions(format: .csv, outDirectory: dir.sub("o"), viewer: .system))
    let rows = CSV.parse(try String(contentsOfFile: s.files[0], encoding: .utf8)).dropFirst()
    let notes = rows.map { $0[11] }
    for text in hostile {
      #expect(notes.contains("'" + text), "\(text.debugDescription) not neutralised: \(notes)")
    }
    #expect(rows.contains { $0[3] == "'=cmd|' /C calc'!A0" })
    // Nothing a spreadsheet evaluates is left at the start of any cell.
    for row in rows {
      for cell in row { #expect(!ExportText.looksLikeFormula(cell) || cell.hasPrefix("'")) }
    }
    #expect(notes.contains("plain"))
  }

  @Test func maskExportNamesAreUniqueAndTheCountIsTrue() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 5)
    let raters = ["dr_a", "dr/a", "dr:a", "dr a", "dr%2Fa", "dr.a", ".hidden", "dr_a2", "ürsula", "dr\\a"]
    for (i, r) in raters.enumerated() {
      try store.annotate(case: 5, rater: r, mask: squareMask(8, 8, x: i % 6, y: 0, size: 2))
    }
    let s = try store.export(ExportOptions(format: .masks, outDirectory: dir.sub("m"), viewer: .system))
    let onDisk = try FileManager.default.contentsOfDirectory(atPath: dir.sub("m/masks"))
    #expect(s.masks == raters.count)
    #expect(onDisk.count == raters.count, "\(onDisk.sorted())")
    #expect(Set(s.files).count == raters.count)
    #expect(!onDisk.contains { $0.hasPrefix(".") })
  }

  @Test func jsonExportsEscapeC1AndBidiControls() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 2)
    let note = "ok \u{202E}gpj.exe\u{202C} \u{85}next \u{9B}31m \u{2066}iso\u{2069} \u{2028}"
    try store.annotate(
      case: 1, rater: "ana", label: "Pre-B", mask: squareMask(8, 8, x: 0, y: 0, size: 2), note: note)
    for format in [ExportFormat.json, .coco] {
      let s = try store.export(
        ExportOptions(format: format, outDirectory: dir.sub("\(format)"), viewer: .system))
      let bytes = try Data(contentsOf: URL(fileURLWithPath: s.files[0]))
      let text = String(decoding: bytes, as: UTF8.self)
      #expect(!text.unicodeScalars.contains { ExportText.needsJSONEscape($0.value) }, "\(format)")
      _ = try JSONSerialization.jsonObject(with: bytes)  // still valid JSON
      if format == .json {
        #expect(text.contains("\\u202E") && text.contains("\\u0085") && text.contains("\\u009B"))
        let doc = try JSONSerialization.jsonObject(with: bytes) as? [String: Any]
        let notes = (doc?["annotations"] as? [[String: Any]])?.compactMap { $0["note"] as? String }
        #expect(notes == [note])  // decodes back to the same text
      }
    }
  }

  // MARK: Item 3: files trusted by path after import

  @Test func anImageReplacedAfterImportIsRefusedNamingTheFile() throws {
    let dir = TempDir()
    let images = dir.sub("images")
    try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
    let sample = Self.repo + "/SampleData/wbc-seg/images"
    let first =
      sample + "/basophil/"
      + (try FileManager.default.contentsOfDirectory(atPath: sample + "/basophil").sorted()[0])
    let second =
      sample + "/eosinophil/"
      + (try FileManager.default.contentsOfDirectory(atPath: sample + "/eosinophil").sorted()[0])
    let a = images + "/a.png"
    try FileManager.default.copyItem(atPath: first, toPath: a)
    let store = try Workspace.create(at: dir.sub("ws"))
    let s = try store.importImages(ImportOptions(paths: [a]))
    let record = try store.caseRecord(id: s.caseIDs[0], viewer: .system)
    _ = try CaseStore.decodeVerifiedImage(record)
    let original = try Data(contentsOf: URL(fileURLWithPath: a))
    // Rewritten in place with another image, its mtime set back (the ctime still changes).
    let attributes = try FileManager.default.attributesOfItem(atPath: a)
    try Data(contentsOf: URL(fileURLWithPath: second)).write(to: URL(fileURLWithPath: a))
    try FileManager.default.setAttributes(
      [.modificationDate: attributes[.modificationDate]!], ofItemAtPath: a)
    do {
      _ = try CaseStore.decodeVerifiedImage(record)
      Issue.record("a replaced image was decoded as the case")
    } catch {
      guard case .changedSinceImport(let recorded, _) = error.reason else {
        Issue.record("wrong error: \(error)")
        return
      }
      #expect(recorded == record.sha256)
      #expect(error.description.contains(a) && error.description.contains("changed since it was imported"))
    }
    // The original back in place is accepted again.
    try original.write(to: URL(fileURLWithPath: a))
    _ = try CaseStore.decodeVerifiedImage(record)
  }

  @Test func aRegisteredModelReplacedInPlaceIsRefused() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 1)
    let file = dir.sub("m.safetensors")
    try Data("first model bytes".utf8).write(to: URL(fileURLWithPath: file))
    let m = try store.registerModel(
      file: file, parent: nil, tasks: ["cls"], trainedTasks: ["cls"], frozenTasks: [])
    try store.verifyModelFile(m)
    try Data("other model bytes".utf8).write(to: URL(fileURLWithPath: m.file))
    #expect(throws: StoreError.modelFileMismatch(version: m.version, path: m.file)) {
      try store.verifyModelFile(m)
    }
  }

  // MARK: Item 7 and item 6 through the real binary

  struct Run {
    var status: Int32
    var timedOut: Bool
    var maxRSSKiB: Int
    var output: String
  }

  /// Runs the binary with a deadline, its output in a file, and its own peak RSS (wait4).
  static func run(_ args: [String], seconds: Double = 60) throws -> Run {
    let outFile = NSTemporaryDirectory() + "bv-run-\(UUID().uuidString).txt"
    defer { unlink(outFile) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv = ([CLITests.binary] + args).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, CLITests.binary, &actions, nil, argv, environ)
    try #require(rc == 0, "cannot start \(CLITests.binary)")
    var status: Int32 = 0
    var usage = rusage()
    var timedOut = false
    let deadline = Date().addingTimeInterval(seconds)
    while wait4(pid, &status, WNOHANG, &usage) == 0 {
      if Date() > deadline {
        timedOut = true
        kill(pid, SIGKILL)
        _ = wait4(pid, &status, 0, &usage)
        break
      }
      usleep(20_000)
    }
    let output = (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
    let exited = (status & 0x7f) == 0
    return Run(
      status: exited ? (status >> 8) & 0xff : -1, timedOut: timedOut, maxRSSKiB: Int(usage.ru_maxrss),
      output: output)
  }

  func workspaceWithImages(_ dir: TempDir) throws -> (ws: String, images: String) {
    let ws = dir.sub("ws")
    let images = dir.sub("in")
    try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
    let sample = Self.repo + "/SampleData/wbc-seg/images/basophil"
    let first = try FileManager.default.contentsOfDirectory(atPath: sample).sorted()[0]
    try FileManager.default.copyItem(atPath: sample + "/" + first, toPath: images + "/ok.png")
    #expect(try Self.run(["init", "--workspace", ws]).status == 0)
    return (ws, images)
  }

  @Test func aFIFOGivenByNameIsAnErrorNotAHang() throws {
    try #require(FileManager.default.isExecutableFile(atPath: CLITests.binary), "blastview not built")
    let dir = TempDir()
    let (ws, images) = try workspaceWithImages(dir)
    let fifo = dir.sub("fifo.png")
    #expect(mkfifo(fifo, 0o600) == 0)
    let r = try Self.run(["import", fifo, images + "/ok.png", "--workspace", ws], seconds: 30)
    #expect(!r.timedOut, "import hung on a FIFO")
    #expect(r.status != 0, "\(r.output)")
    #expect(r.output.contains("fifo.png") && r.output.contains("FIFO"), "\(r.output)")
    #expect(r.output.contains("Imported 1 image"), "\(r.output)")  // the rest is still imported
    // The same FIFO as a labels CSV or a model file: refused at once.
    let labels = try Self.run(["labels", "import", fifo, "--workspace", ws], seconds: 30)
    #expect(!labels.timedOut && labels.status != 0, "\(labels.output)")
  }

  @Test func aFileNameThatIsNotUTF8IsReportedAndFailsTheImport() throws {
    try #require(FileManager.default.isExecutableFile(atPath: CLITests.binary), "blastview not built")
    let dir = TempDir()
    let (ws, images) = try workspaceWithImages(dir)
    // A name with a Latin-1 byte (0xE9), made with the raw system call.
    var raw = Array((images + "/caf").utf8) + [0xE9] + Array(".png".utf8) + [0]
    let source = try Data(contentsOf: URL(fileURLWithPath: images + "/ok.png"))
    let fd = raw.withUnsafeMutableBufferPointer { p in
      p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) {
        open($0, O_WRONLY | O_CREAT | O_EXCL, 0o644)
      }
    }
    try #require(fd >= 0)
    _ = source.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
    close(fd)
    let r = try Self.run(["import", images, "--workspace", ws], seconds: 60)
    #expect(!r.timedOut)
    #expect(r.status != 0, "\(r.output)")
    #expect(r.output.contains("not valid UTF-8") && r.output.contains("caf\\xE9.png"), "\(r.output)")
    #expect(!r.output.contains("Directories not read"), "\(r.output)")
  }

  /// A 81-byte PNG whose tEXt (or zTXt, iTXt, sPLT) chunk declares ~2 GiB cost 2.1 GB of RSS
  /// at import (libpng zero-filled a buffer of the declared length). Now the chunk is skipped
  /// unread; the whole import stays near the binary's own size.
  @Test func aChunkLengthBombDoesNotCostMemoryAtImport() throws {
    try #require(FileManager.default.isExecutableFile(atPath: CLITests.binary), "blastview not built")
    let dir = TempDir()
    let (ws, _) = try workspaceWithImages(dir)
    let baseline = try Self.run(["import", dir.sub("in/ok.png"), "--workspace", ws])
    #expect(baseline.status == 0, "\(baseline.output)")
    for type in ["tEXt", "zTXt", "iTXt", "sPLT", "iCCP", "eXIf", "abCd"] {
      let bomb = dir.sub("bomb-\(type).png")
      try Data(PNGBombs.declaredLength(type: type, length: 0x7FFF_FFF0)).write(to: URL(fileURLWithPath: bomb))
      let r = try Self.run(["import", bomb, "--workspace", ws])
      #expect(!r.timedOut)
      #expect(r.output.contains("bomb-\(type).png"), "\(r.output)")
      // Bounded: at most 64 MiB above importing a real image (before the fix: +2 GB).
      #expect(
        r.maxRSSKiB < baseline.maxRSSKiB + 64 * 1024, "\(type): \(r.maxRSSKiB) KiB vs \(baseline.maxRSSKiB)")
    }
  }
}

/// Crafted PNGs, made in the test (nothing large is committed).
enum PNGBombs {
  static func chunk(_ type: String, _ data: [UInt8], length: UInt32? = nil) -> [UInt8] {
    let t = Array(type.utf8)
    var out = be(length ?? UInt32(data.count)) + t + data
    out += be(crc32(t + data))
    return out
  }

  static func be(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)]
  }

  static func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
      c ^= UInt32(b)
      for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }
    return ~c
  }

  /// Signature, a 1×1 RGB IHDR, then a chunk header declaring `length` bytes of `type` with
  /// four bytes of it present, then a valid IDAT and IEND.
  static func declaredLength(type: String, length: UInt32) -> [UInt8] {
    let sig: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    let ihdr = chunk("IHDR", be(1) + be(1) + [8, 2, 0, 0, 0])
    // zlib stream of one filter byte and an RGB pixel (stored block).
    let raw: [UInt8] = [0, 0, 0, 0]
    var adlerA: UInt32 = 1
    var adlerB: UInt32 = 0
    for b in raw {
      adlerA = (adlerA + UInt32(b)) % 65521
      adlerB = (adlerB + adlerA) % 65521
    }
    let zlib: [UInt8] = [0x78, 0x01, 0x01, 4, 0, 0xFB, 0xFF] + raw + be(adlerB << 16 | adlerA)
    return sig + ihdr + be(length) + Array(type.utf8) + [0, 0, 0, 0] + chunk("IDAT", zlib) + chunk("IEND", [])
  }
}
