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
    // Stay on the case after labelling (a session's queue moves on by default).
    t.send("N")
    usleep(200_000)
    t.send("1")
    #expect(t.waitFor("Saved: case #1 labelled Benign"))
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
    // Stay on the case after labelling (a session's queue moves on by default).
    alice.send("N")
    usleep(200_000)
    alice.send("2")
    #expect(alice.waitFor("Saved: case #1 labelled Early-B"))
    // The label reveals the model; the next case is hidden again.
    alice.send("n")
    #expect(alice.waitFor("Case #2"))
    alice.send("p")
    #expect(alice.waitFor("Model v1: Benign 0.85"))
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

  /// Colour runs along a half-block picture row of `capture-pane -e`: how many times the
  /// colours change over its first `cells` picture cells.
  func colourRuns(_ row: String, cells: Int) -> Int {
    var runs = 0
    var changed = true
    var seen = 0
    var inEscape = false
    for c in row {
      if inEscape {
        if c == "m" { inEscape = false }
        continue
      }
      if c == "\u{1B}" {
        inEscape = true
        changed = true
        continue
      }
      guard c == "▀" else { continue }
      if changed { runs += 1 }
      changed = false
      seen += 1
      if seen == cells { break }
    }
    return runs
  }

  /// The panel line starting with `prefix`.
  func panel(_ t: TmuxSession, _ prefix: String) -> String? {
    for line in rows(t) {
      if let r = line.range(of: prefix) {
        return String(line[r.lowerBound...]).trimmingCharacters(in: .whitespaces)
      }
    }
    return nil
  }

  @Test func zoomAndPanShowTheImagesOwnPixelsInTheCaseViewAndTheMaskEditor() throws {
    let dir = EndToEnd.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let ws = dir.appendingPathComponent("ws").path
    #expect(EndToEnd.run([bin, "init", "--workspace", ws, "--no-model"]).status == 0)
    // A 120 × 120 wbc-seg crop: on a 71-column half-block view it is blown up about 4.6×.
    let image = EndToEnd.repositoryRoot.appendingPathComponent("SampleData/wbc-seg/images/lymphocyte/001.png")
    #expect(EndToEnd.run([bin, "import", "--workspace", ws, image.path]).status == 0)
    let command =
      "\(EndToEnd.shellQuote(bin)) review --workspace \(EndToEnd.shellQuote(ws)) --rater alice --graphics blocks"
    let t = try #require(
      TmuxSession(
        columns: 120, rows: 40, command: "sh -c \(EndToEnd.shellQuote(command + "; echo EXIT=$?; sleep 60"))")
    )
    #expect(t.waitFor("1 matching"))
    t.send("Enter")
    #expect(t.waitFor("Case #1"))
    usleep(300_000)
    func pictureRow() -> String { t.capture(escapes: true).components(separatedBy: "\n")[20] }
    let whole = pictureRow()
    let cells = rows(t)[20].prefix { $0 == "▀" }.count
    #expect(cells > 60)
    // Fitted, the image is resampled: nearly every cell has its own colour.
    #expect(colourRuns(whole, cells: cells) > 25)
    #expect(panel(t, "Zoom") == nil, "no zoom line while the whole image is shown")
    t.send("+")
    #expect(t.waitFor("Zoom 2×: x 30–89, y 30–89"))
    // The wheel zooms in at the pointer: at the view's top-left cell, the view's top-left
    // image pixel stays where it is.
    t.send("-l", "\u{1B}[<64;1;2M")
    #expect(EndToEnd.waitUntil(seconds: 10) { zoomView(t)?.level == 4 })
    let at4 = try #require(zoomView(t))
    #expect((29...31).contains(at4.x0) && (29...31).contains(at4.y0), "\(at4)")
    #expect(at4.x1 - at4.x0 == 29)
    t.send("+")
    #expect(EndToEnd.waitUntil(seconds: 10) { zoomView(t)?.level == 8 })
    let at8 = try #require(zoomView(t))
    #expect(at8.x1 - at8.x0 == 14, "15 image pixels across: \(at8)")
    usleep(300_000)
    // 15 image pixels across 71 cells: each image pixel is a run of identical cells, so a row
    // changes colour at most 15 times (the image's own pixels, repeated, not a blur).
    let runs = colourRuns(pictureRow(), cells: cells)
    #expect(runs <= 15 && runs >= 3, "\(runs) colour runs at 8×")
    let scale = try #require(panel(t, "1 image px ="))
    let perPixel = try #require(Double(scale.split(separator: " ")[4]))
    #expect(perPixel >= 1, "above the source resolution: \(scale)")
    // Pan right by a quarter of the view (15 / 4 pixels).
    t.send("L")
    #expect(EndToEnd.waitUntil(seconds: 10) { (zoomView(t)?.x0 ?? 0) > at8.x0 })
    let panned = try #require(zoomView(t))
    #expect((3...4).contains(panned.x0 - at8.x0) && panned.y0 == at8.y0, "\(at8) → \(panned)")
    // The mask editor keeps the zoom and starts with its cursor in the middle of the view.
    t.send("m")
    #expect(t.waitFor("Mask editor · case #1"))
    #expect(
      waitForPanelPrefix(t, "Cursor:", "Cursor: \(panned.x0 + 7), \(panned.y0 + 7) of 120 × 120"),
      "\(panel(t, "Cursor:") ?? "")")
    // A click paints the image pixel under the pointer: the view's top-left cell.
    t.send("-l", "\u{1B}[<0;1;2M\u{1B}[<0;1;2m")
    #expect(waitForPanelPrefix(t, "Cursor:", "Cursor: \(panned.x0), \(panned.y0) of 120 × 120"))
    // Moving the cursor out of view moves the view.
    for _ in 0..<3 { t.send("H") }
    #expect(EndToEnd.waitUntil(seconds: 10) { (zoomView(t)?.x0 ?? 99) < panned.x0 })
    t.send("z")
    #expect(t.waitFor("Zoom: whole image (+ zooms in)"))
    usleep(300_000)
    t.send("Escape")
    #expect(t.waitFor("My label:"))
    usleep(300_000)
    #expect(pictureRow() == whole, "z shows the whole image again, as it was")
    t.send("q")
    #expect(t.waitFor("EXIT=0"))
  }

  /// The zoom line of the panel: level and the image pixels in view.
  func zoomView(_ t: TmuxSession) -> (level: Int, x0: Int, x1: Int, y0: Int, y1: Int)? {
    guard let line = panel(t, "Zoom ") else { return nil }
    let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
    guard numbers.count >= 5 else { return nil }
    return (numbers[0], numbers[1], numbers[2], numbers[3], numbers[4])
  }

  func waitForPanelPrefix(_ t: TmuxSession, _ prefix: String, _ expected: String) -> Bool {
    EndToEnd.waitUntil(seconds: 10) { panel(t, prefix) == expected }
  }
}
