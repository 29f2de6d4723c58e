import CaseStore
import Foundation
import TestSupport
import Testing

/// Issue 18, item 9, for real in tmux: what a hematologist saw of the cells. Labelling a case
/// in a model-hidden session blanked rows of the half-block picture (the panel grew by the
/// model's lines, curses scrolled the rows beside the picture and the picture with them);
/// hints offered keys that could not act.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux")))
struct SeeingTheCellsEndToEndTests {
  let bin = EndToEnd.binary ?? ""

  /// The 20 BCCD smears, a promoted model whose predictions carry the colour warning (two more
  /// panel lines once shown), and a blinded, model-hidden session over cases 1-6 that `lead`
  /// created for alice and bob.
  func workspace() throws -> (dir: URL, ws: String) {
    let dir = EndToEnd.temporaryDirectory()
    let ws = dir.appendingPathComponent("ws").path
    #expect(EndToEnd.run([bin, "init", "--workspace", ws, "--no-model"]).status == 0)
    let images = EndToEnd.repositoryRoot.appendingPathComponent("SampleData/bccd/JPEGImages").path
    #expect(EndToEnd.run([bin, "import", "--workspace", ws, images]).status == 0)
    let store = try Workspace.open(path: ws)
    let file = dir.appendingPathComponent("model.bin").path
    try Data("weights".utf8).write(to: URL(fileURLWithPath: file))
    let v = try store.registerModel(
      file: file, parent: nil, tasks: ["c"], trainedTasks: ["c"], frozenTasks: [])
    try store.savePredictions(
      (Int64(1)...20).map {
        NewPrediction(
          caseID: $0, probabilities: [0.85, 0.05, 0.05, 0.05], colourDistance: 9, colourUnusual: true)
      }, model: v.version)
    try store.promote(version: v.version)
    try store.close()
    let list = dir.appendingPathComponent("cases.txt").path
    try "1\n2\n3\n4\n5\n6\n".write(toFile: list, atomically: true, encoding: .utf8)
    let created = EndToEnd.run([
      bin, "session", "create", "s", "--workspace", ws, "--raters", "alice,bob", "--cases", list, "--blind",
      "--hide-model", "--created-by", "lead",
    ])
    #expect(created.status == 0, "\(created.output)")
    return (dir, ws)
  }

  func review(_ ws: String, rater: String, graphics: String = "blocks") throws -> TmuxSession {
    let command =
      "\(EndToEnd.shellQuote(bin)) review --workspace \(EndToEnd.shellQuote(ws)) --rater \(rater) --session s --graphics \(graphics)"
    return try #require(
      TmuxSession(
        columns: 120, rows: 40, command: "sh -c \(EndToEnd.shellQuote(command + "; echo EXIT=$?; sleep 60"))")
    )
  }

  /// The screen's rows now (no scroll-back).
  func rows(_ t: TmuxSession) -> [String] { t.capture().components(separatedBy: "\n") }

  /// The status line (the screen's last row).
  func statusLine(_ t: TmuxSession) -> String { rows(t).prefix(40).last ?? "" }

  @Test func labellingInAModelHiddenSessionKeepsThePictureWhole() throws {
    let (dir, ws) = try workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    let t = try review(ws, rater: "alice")
    #expect(t.waitFor("6 matching"))
    t.send("Enter")
    #expect(t.waitFor("Model hidden in this session"))
    let before = rows(t)
    // The half-block picture: the rows that start with an upper half block.
    let pictureRows = before.indices.filter { before[$0].hasPrefix("▀") }
    #expect(pictureRows.count > 20, "the picture fills most of the left side")
    t.send("1")
    #expect(t.waitFor("Saved: case #1 labelled B Benign"))
    #expect(t.waitFor("colour unlike the training data"), "the label reveals the model and the panel grows")
    usleep(300_000)
    let after = rows(t)
    let blank = pictureRows.filter { !after[$0].hasPrefix("▀") }
    #expect(blank.isEmpty, "picture rows \(blank) were blanked:\n\(after.joined(separator: "\n"))")
    // And the picture is the same picture, row for row (its text; the colours are the same cells).
    let width = before[pictureRows[0]].prefix { $0 == "▀" }.count
    for r in pictureRows {
      #expect(after[r].prefix(width) == before[r].prefix(width), "row \(r)")
    }
    t.send("q")
    #expect(t.waitFor("EXIT=0"))
  }

  @Test func hintsAppearOnlyWhereTheyCanAct() throws {
    let (dir, ws) = try workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    let alice = try review(ws, rater: "alice", graphics: "none")
    #expect(alice.waitFor("6 matching"))
    alice.send("Enter")
    #expect(alice.waitFor("Model hidden in this session"))
    #expect(statusLine(alice).contains("1/2/3/4 label"))
    #expect(!statusLine(alice).contains("accept model"), "the model is hidden: \(statusLine(alice))")
    alice.send("2")
    #expect(alice.waitFor("Saved: case #1 labelled E Early-B"))
    // The label reveals the model; the next case is hidden again.
    alice.send("n")
    #expect(alice.waitFor("Case #2"))
    alice.send("p")
    #expect(alice.waitFor("Model v1: B Benign 0.85"))
    #expect(statusLine(alice).contains("a accept model"), "the model is shown now: \(statusLine(alice))")
    // alice did not create the session: the dashboard offers no closing.
    alice.send("A")
    #expect(alice.waitFor("Tab next pair"))
    #expect(!statusLine(alice).contains("close session"), "\(statusLine(alice))")
    alice.send("q")
    #expect(alice.waitFor("EXIT=0"))
    // lead created it: the dashboard offers to close it.
    let lead = try review(ws, rater: "lead", graphics: "none")
    #expect(lead.waitFor("6 matching"))
    lead.send("A")
    #expect(lead.waitFor("Tab next pair"))
    #expect(statusLine(lead).contains("C close session"), "\(statusLine(lead))")
    lead.send("q")
    #expect(lead.waitFor("EXIT=0"))
  }
}
