import FileSafety
import Foundation
import Review
import Testing
import Workflows

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 15 item 1: the background predictor's and trainer's logs in a workspace another user
/// can write, and names that must never reach a shell.
@Suite struct LauncherHardeningTests {
  func workspace() throws -> String {
    let ws = NSTemporaryDirectory() + "launcher-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: ws + "/logs", withIntermediateDirectories: true)
    chmod(ws + "/logs", 0o777)  // a shared workspace: every rater can write logs/
    return ws
  }

  func waitForExit(_ pid: Int32) {
    var status: Int32 = 0
    _ = waitpid(pid, &status, 0)
  }

  @Test func aLogPlantedAsALinkToTheVictimsBashrcIsNotWritten() throws {
    let ws = try workspace()
    let bashrc = ws + "/victim-bashrc"
    try "# victim's bashrc\n".write(toFile: bashrc, atomically: false, encoding: .utf8)
    // The old log name, and the new one inside the user's folder (planted by this user here,
    // since nobody else can write into it).
    try FileManager.default.createSymbolicLink(
      atPath: ws + "/logs/predict-v2.log", withDestinationPath: bashrc)
    let dir = try ProcessLauncher.logDirectory(workspace: ws)
    try FileManager.default.createSymbolicLink(atPath: dir + "/predict-v2.log", withDestinationPath: bashrc)
    let launcher = ProcessLauncher(executable: "/bin/echo")
    let result = launcher.spawn(["$(touch \(ws)/pwned)"], workspace: ws, log: "predict-v2.log")
    guard case .failure(let e) = result else {
      if case .success(let pid) = result { waitForExit(pid) }
      Issue.record("the launcher wrote through a planted link")
      return
    }
    #expect(e.message.contains("symbolic link"))
    #expect(try String(contentsOfFile: bashrc, encoding: .utf8) == "# victim's bashrc\n")
  }

  @Test func namesReachTheProcessAsArgumentsNeverAsShellCode() throws {
    let ws = try workspace()
    let hostile = "$(touch \(ws)/pwned); `touch \(ws)/pwned2`"
    let launcher = ProcessLauncher(executable: "/bin/echo")
    guard case .success(let pid) = launcher.spawn([hostile], workspace: ws, log: "predict-v3.log") else {
      Issue.record("launch failed")
      return
    }
    waitForExit(pid)
    let log = try String(
      contentsOfFile: ws + "/logs/\(SafeFile.userFolderName)/predict-v3.log", encoding: .utf8)
    #expect(log == hostile + "\n")
    #expect(!FileManager.default.fileExists(atPath: ws + "/pwned"))
    #expect(!FileManager.default.fileExists(atPath: ws + "/pwned2"))
    var st = stat()
    #expect(stat(ws + "/logs/\(SafeFile.userFolderName)", &st) == 0 && st.st_mode & 0o777 == 0o700)
  }
}

/// Issue 15 item 3 in the review app: a case whose image was replaced after import shows the
/// error where the image would be, and a label key records nothing.
@Suite struct ReplacedImageReviewTests {
  @Test func aReplacedImageShowsTheErrorAndRefusesLabels() throws {
    let (app, store, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    let record = try store.caseRecord(id: 1, viewer: .system)
    let other = try Data(
      contentsOf: URL(fileURLWithPath: try store.caseRecord(id: 2, viewer: .system).imagePath))
    try other.write(to: URL(fileURLWithPath: record.imagePath))
    app.dispatch(key(.enter))  // open case 1
    let f = app.frame
    #expect(f.contains("The image cannot be shown"), "\(f)")
    #expect(f.contains("changed since it was imported"))
    #expect(!f.images.contains { $0.key.hasPrefix("case:1") })
    app.dispatch(key("1"))  // Benign
    #expect(try store.currentAnnotations(case: 1, viewer: .system).isEmpty)
  }
}
