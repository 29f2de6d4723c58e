import FileSafety
import Foundation
import Review
import Testing

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
    try FileManager.default.createSymbolicLink(atPath: ws + "/logs/predict-v2.log", withDestinationPath: bashrc)
    let dir = try TrainerLauncher.logDirectory(workspace: ws)
    try FileManager.default.createSymbolicLink(atPath: dir + "/predict-v2.log", withDestinationPath: bashrc)
    let launcher = TrainerLauncher(executable: "/bin/echo")
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
    let launcher = TrainerLauncher(executable: "/bin/echo")
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
