import FileSafety
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The attacks of issue 15 items 1 and 2 on the one helper every write goes through: another
/// user who can write a shared folder plants symbolic links (or files) at the names we write.
@Suite struct SafeFileTests {
  let dir: String

  init() throws {
    dir = NSTemporaryDirectory() + "safefile-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  }

  func victim(_ text: String = "victim's own file\n") throws -> String {
    let path = dir + "/victim-\(UUID().uuidString)"
    try text.write(toFile: path, atomically: false, encoding: .utf8)
    return path
  }

  func contents(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

  @Test func writeRefusesAnOutputPathThatIsASymbolicLink() throws {
    let v = try victim()
    let out = dir + "/annotations.csv"
    try FileManager.default.createSymbolicLink(atPath: out, withDestinationPath: v)
    #expect(throws: SafeFileError(path: out, reason: .symbolicLink)) {
      try SafeFile.write(Array("=cmd|' /C calc'!A0\n".utf8), to: out)
    }
    #expect(contents(v) == "victim's own file\n")
    var st = stat()
    #expect(lstat(out, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)
  }

  /// The old writers used `path.tmp-<pid>` (export), `.name.tmp-<pid>` (checkpoints) and
  /// `out.db.partial-<pid>` (backup): all predictable. Links planted at every such name for
  /// this process are never written through.
  @Test func plantedLinksAtPredictableTemporaryNamesAreNotFollowed() throws {
    let v = try victim()
    let out = dir + "/model.safetensors"
    let pid = getpid()
    for name in [
      "model.safetensors.tmp-\(pid)", ".model.safetensors.tmp-\(pid)", "model.safetensors.partial-\(pid)",
    ] {
      try FileManager.default.createSymbolicLink(atPath: dir + "/" + name, withDestinationPath: v)
    }
    try SafeFile.write(Array("new".utf8), to: out)
    #expect(contents(v) == "victim's own file\n")
    #expect(contents(out) == "new")
    // No temporary file is left behind.
    let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
      $0.contains(".tmp-") && !$0.hasSuffix("\(pid)")
    }
    #expect(left.isEmpty, "\(left)")
  }

  @Test func writeReplacesARegularFileAtomicallyAndKeepsTheMode() throws {
    let out = dir + "/a.csv"
    try SafeFile.write(Array("one".utf8), to: out)
    try SafeFile.write(Array("two".utf8), to: out, mode: 0o640)
    #expect(contents(out) == "two")
    var st = stat()
    #expect(stat(out, &st) == 0 && st.st_mode & 0o777 == 0o640)
  }

  @Test func noReplaceRefusesExistingNamesAndDanglingLinks() throws {
    let existing = try victim()
    #expect(throws: SafeFileError(path: existing, reason: .exists)) {
      try SafeFile.write(Array("x".utf8), to: existing, replace: false)
    }
    let dangling = dir + "/out.db"
    try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: dir + "/nowhere")
    #expect(throws: SafeFileError(path: dangling, reason: .symbolicLink)) {
      try SafeFile.write(Array("x".utf8), to: dangling, replace: false)
    }
    #expect(!FileManager.default.fileExists(atPath: dir + "/nowhere"))
  }

  /// Item 1: a log name planted as a link to the victim's `~/.bashrc`; a case file name
  /// holding `$(...)` would otherwise be appended there.
  /// Scratch files (a benchmark's synthetic images): created only where no name exists, a link
  /// to someone's file included, and never written through it.
  @Test func createNewRefusesExistingNamesAndLinks() throws {
    let v = try victim()
    let linked = dir + "/img_00000.png"
    try FileManager.default.createSymbolicLink(atPath: linked, withDestinationPath: v)
    #expect(throws: SafeFileError(path: linked, reason: .exists)) {
      try SafeFile.createNew(Array("png".utf8), at: linked)
    }
    let dangling = dir + "/img_00001.png"
    try FileManager.default.createSymbolicLink(
      atPath: dangling, withDestinationPath: dir + "/made-through-link")
    #expect(throws: SafeFileError(path: dangling, reason: .exists)) {
      try SafeFile.createNew(Array("png".utf8), at: dangling)
    }
    #expect(!FileManager.default.fileExists(atPath: dir + "/made-through-link"))
    #expect(throws: SafeFileError(path: v, reason: .exists)) {
      try SafeFile.createNew(Array("png".utf8), at: v)
    }
    #expect(contents(v) == "victim's own file\n")
    let fresh = dir + "/img_00002.png"
    try SafeFile.createNew(Array("png bytes".utf8), at: fresh, mode: 0o600)
    #expect(contents(fresh) == "png bytes")
    var st = stat()
    #expect(lstat(fresh, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && st.st_mode & 0o777 == 0o600)
  }

  @Test func appendRefusesALinkedLog() throws {
    let bashrc = try victim("# bashrc\n")
    let log = dir + "/predict-v2.log"
    try FileManager.default.createSymbolicLink(atPath: log, withDestinationPath: bashrc)
    #expect(throws: SafeFileError(path: log, reason: .symbolicLink)) { try SafeFile.openForAppend(log) }
    #expect(contents(bashrc) == "# bashrc\n")
  }

  @Test func appendCreatesPrivateLogsAndAppendsToOwnOnes() throws {
    let log = dir + "/train-job-1.log"
    for line in ["first\n", "second\n"] {
      let fd = try SafeFile.openForAppend(log)
      _ = line.withCString { write(fd, $0, strlen($0)) }
      close(fd)
    }
    #expect(contents(log) == "first\nsecond\n")
    var st = stat()
    #expect(stat(log, &st) == 0 && st.st_mode & 0o777 == 0o600)
  }

  @Test(.enabled(if: geteuid() == 0, "needs root to make a file of another user"))
  func appendAndPrivateFoldersRefuseAnotherUsersFiles() throws {
    let log = dir + "/planted.log"
    FileManager.default.createFile(atPath: log, contents: Data())
    chown(log, 4242, 4242)
    #expect(throws: SafeFileError(path: log, reason: .foreignOwner(uid: 4242))) {
      try SafeFile.openForAppend(log)
    }
    let logs = dir + "/logs"
    mkdir(logs, 0o777)
    let mine = logs + "/" + SafeFile.userFolderName
    mkdir(mine, 0o700)
    chown(mine, 4242, 4242)
    #expect(throws: SafeFileError(path: mine, reason: .foreignOwner(uid: 4242))) {
      try SafeFile.privateDirectory(in: logs)
    }
  }

  @Test func privateFolderRefusesALinkAndAGroupWritableFolder() throws {
    let logs = dir + "/logs"
    mkdir(logs, 0o777)
    let elsewhere = dir + "/elsewhere"
    mkdir(elsewhere, 0o700)
    let mine = logs + "/" + SafeFile.userFolderName
    try FileManager.default.createSymbolicLink(atPath: mine, withDestinationPath: elsewhere)
    #expect(throws: SafeFileError(path: mine, reason: .symbolicLink)) {
      try SafeFile.privateDirectory(in: logs)
    }
    unlink(mine)
    mkdir(mine, 0o700)
    chmod(mine, 0o777)
    #expect(throws: SafeFileError.self) { try SafeFile.privateDirectory(in: logs) }
    chmod(mine, 0o700)
    #expect(try SafeFile.privateDirectory(in: logs) == mine)
  }

  /// Item 7's sibling: a FIFO named where a file is read is refused at once, not waited on.
  @Test func readRefusesAFIFOWithoutWaiting() throws {
    let fifo = dir + "/labels.csv"
    #expect(mkfifo(fifo, 0o600) == 0)
    #expect(throws: SafeFileError(path: fifo, reason: .notRegularFile("is a FIFO (named pipe), not a file")))
    {
      try SafeFile.read(fifo, maxBytes: 1 << 20)
    }
    let big = dir + "/big"
    FileManager.default.createFile(atPath: big, contents: Data(count: 2048))
    #expect(throws: SafeFileError(path: big, reason: .tooLarge(size: 2048, limit: 1024))) {
      try SafeFile.read(big, maxBytes: 1024)
    }
  }
}
