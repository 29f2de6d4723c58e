import CaseStore
import Foundation
import Imaging
import TestSupport
import Testing

/// Issue 18, item 6, for real in tmux: the mask editor as a hematologist met it. A mouse drag
/// left the pen down; the editor opened empty; every stroke, undo and redo was a history row.
/// The mouse reports are the SGR bytes xterm and tmux send (press `M`, motion with a button
/// held, release `m`), typed into the pane as they would arrive from the terminal.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux")))
struct MaskEditorEndToEndTests {
  let bin = EndToEnd.binary ?? ""

  /// 52 wbc-seg lymphocyte crops (120 × 120) with their experts' masks as reference masks, and
  /// a promoted model whose prediction for case 2 carries a nucleus mask (a 30 × 30 square).
  func workspace() throws -> (dir: URL, ws: String) {
    let dir = EndToEnd.temporaryDirectory()
    let ws = dir.appendingPathComponent("ws").path
    #expect(EndToEnd.run([bin, "init", "--workspace", ws, "--no-model"]).status == 0)
    let seg = EndToEnd.repositoryRoot.appendingPathComponent("SampleData/wbc-seg")
    let imported = EndToEnd.run([
      bin, "import", "--workspace", ws, seg.appendingPathComponent("images/lymphocyte").path, "--masks",
      seg.appendingPathComponent("masks").path,
    ])
    #expect(imported.status == 0 && imported.output.contains("with mask: 52"), "\(imported.output)")
    let store = try Workspace.open(path: ws)
    let file = dir.appendingPathComponent("model.bin").path
    try Data("weights".utf8).write(to: URL(fileURLWithPath: file))
    let v = try store.registerModel(
      file: file, parent: nil, tasks: ["c"], trainedTasks: ["c"], frozenTasks: [])
    let d2 = try store.caseDetail(id: 2, viewer: .system).record
    var square = Mask(width: d2.width, height: d2.height)
    for y in 40..<70 { for x in 40..<70 { square[x, y] = 255 } }
    // Every case has a prediction, so review starts no background predictor.
    try store.savePredictions(
      (Int64(1)...52).map {
        NewPrediction(caseID: $0, probabilities: [0.7, 0.1, 0.1, 0.1], mask: $0 == 2 ? square : nil)
      }, model: v.version)
    try store.promote(version: v.version)
    try store.close()
    return (dir, ws)
  }

  func review(_ ws: String) throws -> TmuxSession {
    let command =
      "\(EndToEnd.shellQuote(bin)) review --workspace \(EndToEnd.shellQuote(ws)) --rater alice --graphics blocks"
    return try #require(
      TmuxSession(
        columns: 120, rows: 40, command: "sh -c \(EndToEnd.shellQuote(command + "; echo EXIT=$?; sleep 60"))")
    )
  }

  /// The panel line that starts with `prefix`, as shown now.
  func panel(_ t: TmuxSession, _ prefix: String) -> String? {
    for line in t.capture().split(separator: "\n") {
      if let r = line.range(of: prefix) {
        return String(line[r.lowerBound...]).trimmingCharacters(in: .whitespaces)
      }
    }
    return nil
  }

  func waitForPanel(_ t: TmuxSession, _ prefix: String, _ expected: String) -> Bool {
    EndToEnd.waitUntil(seconds: 10) { panel(t, prefix) == expected }
  }

  /// From the browser: the first tile, then right to case `id` (cases are in id order).
  func openEditor(_ t: TmuxSession, case id: Int) {
    t.send("g")
    for _ in 1..<id { t.send("l") }
    t.send("Enter")
    #expect(t.waitFor("Case #\(id)"))
    t.send("m")
    #expect(t.waitFor("Mask editor · case #\(id)"))
  }

  @Test func aMouseDragLiftsThePenOnReleaseAndCountsOneUndo() throws {
    let (dir, ws) = try workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    let t = try review(ws)
    #expect(t.waitFor("52 matching"))
    openEditor(t, case: 1)
    t.send("c")  // start from nothing, so the stroke's pixels are all its own
    #expect(waitForPanel(t, "Nucleus pixels:", "Nucleus pixels: 0"))
    // Press at cell (11, 6), drag to (21, 9) and (31, 12), release there (1-based, as sent).
    t.send("-l", "\u{1B}[<0;11;6M\u{1B}[<32;21;9M\u{1B}[<32;31;12M")
    #expect(waitForPanel(t, "Pen:", "Pen: down (Space lifts it)"))
    t.send("-l", "\u{1B}[<0;31;12m")
    #expect(waitForPanel(t, "Pen:", "Pen: up (Space puts it down)"), "the release lifts the pen")
    #expect(waitForPanel(t, "Undo", "Undo 2 · redo 0"), "clear, then the stroke")
    let painted = try #require(panel(t, "Nucleus pixels:").flatMap { Int($0.split(separator: " ").last!) })
    #expect(painted > 100)
    // The pen is up: moving the cursor paints nothing more.
    t.send("L")
    t.send("J")
    #expect(t.waitFor("Cursor:"))
    usleep(300_000)
    #expect(panel(t, "Nucleus pixels:") == "Nucleus pixels: \(painted)")
    t.send("Escape")
    #expect(t.waitFor("Saved: mask of case #1 (\(painted) nucleus pixels)"), "\(t.capture())")
    t.send("q")
    #expect(t.waitFor("EXIT=0"))
    let store = try Workspace.open(path: ws)
    let history = try store.history(case: 1, viewer: .system)
    #expect(history.count == 1)
    let saved = try store.mask(id: try #require(history.last?.maskID))
    #expect(saved.values.filter { $0 >= 128 }.count == painted)
  }

  @Test func theEditorOpensOnMyMaskElseTheModelsElseTheReferenceAndSaysWhich() throws {
    let (dir, ws) = try workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try Workspace.open(path: ws)
    let reference1 = try store.mask(
      id: try #require(store.caseDetail(id: 1, viewer: .system).referenceMaskID))
    let referencePixels = reference1.values.filter { $0 >= 128 }.count
    try store.close()
    #expect(referencePixels > 500)
    let t = try review(ws)
    #expect(t.waitFor("52 matching"))
    // Case 2: the model's mask (900 pixels) comes before the reference.
    openEditor(t, case: 2)
    #expect(waitForPanel(t, "Started from:", "Started from: the model's mask (v1)"))
    #expect(panel(t, "Nucleus pixels:") == "Nucleus pixels: 900")
    t.send("Escape")
    #expect(t.waitFor("My label:"))
    t.send("Escape")
    #expect(t.waitFor("52 matching"))
    // Case 1: no model mask, so the reference.
    openEditor(t, case: 1)
    #expect(waitForPanel(t, "Started from:", "Started from: the reference mask (imported)"))
    #expect(panel(t, "Nucleus pixels:") == "Nucleus pixels: \(referencePixels)")
    // An edit, saved when the visit ends; the next visit starts from it.
    t.send("d")  // delete the nucleus under the cursor (the image centre)
    #expect(waitForPanel(t, "Changed:", "Changed: saved when you leave (Esc)"))
    let edited = try #require(panel(t, "Nucleus pixels:").flatMap { Int($0.split(separator: " ").last!) })
    #expect(edited < referencePixels)
    t.send("Escape")
    #expect(t.waitFor("Saved: mask of case #1 (\(edited) nucleus pixels)"))
    t.send("m")
    #expect(waitForPanel(t, "Started from:", "Started from: my last saved mask"))
    #expect(panel(t, "Nucleus pixels:") == "Nucleus pixels: \(edited)")
    t.send("q")
    #expect(t.waitFor("EXIT=0"))
  }

  @Test func oneEditingVisitIsOneHistoryEntryWithItsPixelCount() throws {
    let (dir, ws) = try workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    let t = try review(ws)
    #expect(t.waitFor("52 matching"))
    openEditor(t, case: 3)
    t.send("c")
    // Two strokes, an undo, a redo, a third stroke: five edits, one visit.
    for _ in 0..<2 {
      t.send("Space")
      t.send("L")
      t.send("Space")
      t.send("J")
    }
    t.send("u")
    t.send("C-r")
    t.send("Space")
    t.send("H")
    t.send("Space")
    #expect(waitForPanel(t, "Undo", "Undo 4 · redo 0"))
    let pixels = try #require(panel(t, "Nucleus pixels:").flatMap { Int($0.split(separator: " ").last!) })
    var store = try Workspace.open(path: ws)
    #expect(try store.history(case: 3, viewer: .system).isEmpty, "nothing is recorded mid-visit")
    try store.close()
    t.send("Escape")
    #expect(t.waitFor("Saved: mask of case #3 (\(pixels) nucleus pixels)"))
    #expect(t.waitFor("alice: mask (\(pixels) px)"), "the case view's history names the visit and its size")
    // A visit that changes nothing records nothing.
    t.send("m")
    #expect(waitForPanel(t, "Started from:", "Started from: my last saved mask"))
    t.send("Space")
    t.send("Space")
    t.send("u")
    t.send("Escape")
    #expect(t.waitFor("Case #3"))
    t.send("q")
    #expect(t.waitFor("EXIT=0"))
    store = try Workspace.open(path: ws)
    let history = try store.history(case: 3, viewer: .system)
    #expect(history.count == 1)
    #expect(
      try store.mask(id: try #require(history.first?.maskID)).values.filter { $0 >= 128 }.count == pixels)
  }
}
