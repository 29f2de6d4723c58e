import CaseStore
import Foundation
import TestSupport
import Testing

/// `blastview review` for real, in tmux (issue 7): start on a workspace, navigate, label three
/// cases, quit, and find exactly those annotations in the database; then kill -9 the process
/// in the middle of a session and find that nothing it had saved is lost.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux")))
struct ReviewEndToEndTests {
  /// A workspace with the 20 BCCD smears from SampleData, made with the CLI.
  func workspace() throws -> URL {
    let dir = EndToEnd.temporaryDirectory()
    let ws = dir.appendingPathComponent("ws").path
    let bin = EndToEnd.binary!
    #expect(EndToEnd.run([bin, "init", "--workspace", ws, "--no-model"]).status == 0)
    let images = EndToEnd.repositoryRoot.appendingPathComponent("SampleData/bccd/JPEGImages").path
    #expect(EndToEnd.run([bin, "import", "--workspace", ws, images]).status == 0)
    return dir
  }

  func review(_ ws: String) -> String {
    "\(EndToEnd.shellQuote(EndToEnd.binary!)) review --workspace \(EndToEnd.shellQuote(ws)) --rater alice --graphics blocks"
  }

  @Test func labelThreeCasesThenQuit() throws {
    let dir = try workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    let ws = dir.appendingPathComponent("ws").path
    let tmux = try #require(
      TmuxSession(
        columns: 120, rows: 40,
        command: "sh -c \(EndToEnd.shellQuote(review(ws) + "; echo EXIT=$?; sleep 60"))"))
    #expect(tmux.waitFor("20 matching"))
    #expect(tmux.capture().contains("▀▀▀▀"), "half-block thumbnails are drawn")
    // Case 2: move right, open, label Pre-B.
    tmux.send("l")
    tmux.send("Enter")
    #expect(tmux.waitFor("Case #2"))
    tmux.send("3")
    #expect(tmux.waitFor("Saved: case #2 labelled Pre-B"))
    // Next case (3): Benign; next (4): Pro-B, then change my mind to Early-B.
    tmux.send("n")
    #expect(tmux.waitFor("Case #3"))
    tmux.send("1")
    #expect(tmux.waitFor("Saved: case #3 labelled Benign"))
    tmux.send("n")
    #expect(tmux.waitFor("Case #4"))
    tmux.send("4")
    #expect(tmux.waitFor("Saved: case #4 labelled Pro-B"))
    tmux.send("2")
    #expect(tmux.waitFor("Saved: case #4 labelled Early-B"))
    // Paint a stroke in the mask editor and leave: the visit is saved once, with the label
    // carried forward.
    tmux.send("m")
    #expect(tmux.waitFor("Mask editor · case #4"))
    tmux.send("Space")
    tmux.send("L")
    tmux.send("L")
    tmux.send("Space")
    #expect(tmux.waitFor("Changed: saved when you leave (Esc)"))
    tmux.send("Escape")
    #expect(tmux.waitFor("Saved: mask of case #4"))
    #expect(tmux.waitFor("My label: Early-B"))
    // A second visit that paints and undoes leaves the mask as saved: nothing is recorded.
    tmux.send("m")
    #expect(tmux.waitFor("Started from: my last saved mask"))
    tmux.send("Space")
    tmux.send("J")
    tmux.send("Space")
    tmux.send("u")
    #expect(tmux.waitFor("Undo 0 · redo 1"))
    tmux.send("Escape")
    #expect(tmux.waitFor("My label: Early-B"))
    // Back to the browser: the tiles show my labels.
    tmux.send("Escape")
    #expect(tmux.waitFor("me:Early-B"))
    tmux.send("q")
    #expect(tmux.waitFor("EXIT=0"))

    let store = try Workspace.open(path: ws)
    let labels = try store.currentLabels(viewer: .system).map { "\($0.caseID) \($0.rater) \($0.label)" }
      .sorted()
    #expect(labels == ["2 alice Pre-B", "3 alice Benign", "4 alice Early-B"])
    // Case 4's history keeps the corrected Pro-B, then the one editing visit that changed the
    // mask (it carries the label forward).
    let history4 = try store.history(case: 4, viewer: .system)
    #expect(history4.map { $0.label ?? "-" } == ["Pro-B", "Early-B", "Early-B"])
    #expect(history4.map { $0.maskID != nil } == [false, false, true])
    let stroke = try store.mask(id: try #require(history4[2].maskID))
    #expect(stroke.values.filter { $0 >= 128 }.count > 100)
    #expect(try store.history(case: 1, viewer: .system).isEmpty)
  }

  @Test func killNineLosesNothingSaved() throws {
    let dir = try workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    let ws = dir.appendingPathComponent("ws").path
    let tmux = try #require(
      TmuxSession(
        columns: 120, rows: 40,
        command: "sh -c \(EndToEnd.shellQuote(review(ws) + "; echo EXIT=$?; sleep 60"))"))
    #expect(tmux.waitFor("20 matching"))
    tmux.send("Enter")
    #expect(tmux.waitFor("Case #1"))
    tmux.send("2")
    #expect(tmux.waitFor("Saved: case #1 labelled Early-B"))
    tmux.send("n")
    #expect(tmux.waitFor("Case #2"))
    tmux.send("4")
    #expect(tmux.waitFor("Saved: case #2 labelled Pro-B"))
    let shell = try #require(tmux.panePID)
    let child = EndToEnd.run(["ps", "--ppid", "\(shell)", "-o", "pid=,comm="]).output
      .split(separator: "\n").first { $0.contains("blastview") }
      .flatMap { Int32($0.split(separator: " ").first ?? "") }
    kill(try #require(child), SIGKILL)
    #expect(tmux.waitFor("EXIT=137"))

    let store = try Workspace.open(path: ws)
    let labels = try store.currentLabels(viewer: .system).map { "\($0.caseID) \($0.label)" }.sorted()
    #expect(labels == ["1 Early-B", "2 Pro-B"])
    #expect(EndToEnd.run([EndToEnd.binary!, "doctor", "--workspace", ws, "--json"]).status == 0)
  }
}
