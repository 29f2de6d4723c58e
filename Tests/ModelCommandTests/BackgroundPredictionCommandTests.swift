import CaseStore
import FileSafety
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 7's background predictions for real: `blastview review` on a workspace whose promoted
/// model has not predicted its cases starts `blastview predict --all-cases`, which fills them;
/// and a second predictor for the same version finds the lock held and does nothing.
@Suite(.serialized) struct BackgroundPredictionCommandTests {
  typealias M = ModelCommandTests

  @Test func reviewFillsMissingPredictionsInTheBackground() throws {
    guard EndToEnd.has("tmux") else { return }
    let dir = M.folder()
    let ws = dir + "/ws"
    let model = dir + "/m.safetensors"
    #expect(try M.run(["init", "--workspace", ws, "--schema", "wbc5", "--no-model"]).status == 0)
    let t = try M.run(
      ["train", "--data", M.images, "--masks", M.masks, "--schema", "wbc5", "--epochs", "1", "--out", model]
        + M.quick)
    #expect(t.status == 0, "\(t.err)")
    // Registered and promoted while the workspace is empty; then the cases arrive.
    #expect(try M.run(["predict", "--all-cases", "--workspace", ws, "--model", model]).status == 0)
    #expect(try M.run(["import", "--workspace", ws, M.images, "--labels-from-folders"]).status == 0)
    let store = try Workspace.open(path: ws)
    let version = try #require(try store.promotedModel()).version
    let total = try store.caseCount()
    #expect(total == 299)
    #expect(try store.predictionCoverage(model: version) == (0, total))

    // Another predictor holds the version's lock: this one does nothing.
    let lockPath = ws + "/cache/predict-v\(version).lock"
    try FileManager.default.createDirectory(atPath: ws + "/cache", withIntermediateDirectories: true)
    // O_CLOEXEC: a child another test thread spawns meanwhile must not inherit the lock and
    // hold it after we close ours (seen once in a full run: the background predictor found the
    // version still locked and did nothing).
    let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    #expect(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
    let blocked = try M.run(["predict", "--all-cases", "--workspace", ws])
    #expect(blocked.status == 0)
    #expect(blocked.out.contains("another process is already predicting"))
    #expect(try store.predictionCoverage(model: version).predicted == 0)
    close(fd)

    let command = [M.binary, "review", "--workspace", ws, "--graphics", "none", "--rater", "ana"]
      .map(EndToEnd.shellQuote).joined(separator: " ")
    let tmux = try #require(TmuxSession(columns: 100, rows: 30, command: command))
    #expect(tmux.waitFor("in the background", seconds: 20), "\(tmux.capture())")
    let filled = EndToEnd.waitUntil(seconds: 120) {
      (try? store.predictionCoverage(model: version).predicted) == total
    }
    #expect(filled)
    // The status item goes once every case has its prediction; the list shows them.
    #expect(
      EndToEnd.waitUntil(seconds: 10) { !tmux.capture().contains("⟳ predictions") }, "\(tmux.capture())")
    tmux.send("q")
    let log = try String(
      contentsOfFile: ws + "/logs/\(SafeFile.userFolderName)/predict-v\(version).log", encoding: .utf8)
    #expect(log.contains("\(total) cases predicted"))
  }
}
