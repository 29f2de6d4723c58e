import CaseStore
import Foundation
import Imaging
import Testing

@testable import Review
@testable import Terminal

@Suite struct MaskEditorTests {
  func count(_ m: Mask) -> Int { m.values.filter { $0 >= 128 }.count }

  @Test func aDabIsTheDiscOfItsRadius() {
    var e = MaskEditor(caseID: 1, mask: Mask(width: 11, height: 11))
    e.setRadius(2)
    #expect(e.cursorX == 5 && e.cursorY == 5)
    e.penDown()
    // Lattice points with dx² + dy² ≤ 4: 5 + 2·3 + 2·1 = 13.
    #expect(count(e.mask) == 13)
    #expect(e.mask[5, 3] == 255 && e.mask[6, 4] == 255 && e.mask[6, 3] == 0)
    let saved = e.penUp()
    #expect(saved.map(count) == 13)
    #expect(e.undoStack.count == 1)
  }

  @Test func aStrokeFollowsTheCursorAndTheEraserTakesItBack() {
    var e = MaskEditor(caseID: 1, mask: Mask(width: 12, height: 12))
    e.setRadius(1)
    e.moveTo(x: 2, y: 5)
    e.penDown()
    e.move(dx: 6, dy: 0)
    // Radius-1 discs (a plus) from x = 2 to 8 on row 5: row 5 has x 1...9 (9 pixels), rows 4
    // and 6 have x 2...8 (7 each): 23.
    #expect(count(e.mask) == 23)
    _ = e.penUp()
    e.tool = .erase
    e.moveTo(x: 2, y: 5)
    e.penDown()
    e.move(dx: 6, dy: 0)
    #expect(count(e.mask) == 0)
    #expect(e.penUp() != nil)
  }

  @Test func movingWithThePenUpChangesNoPixelButMovesTheRing() {
    var e = MaskEditor(caseID: 1, mask: Mask(width: 20, height: 20))
    let before = e.mask
    let key = e.imageKey
    e.move(dx: 3, dy: 0)
    #expect(e.mask == before)
    #expect(e.previousKey == key)
    #expect(e.imageKey != key)
    // The damage covers the old and the new ring (radius 4 + 1 margin) around x 10 and 13.
    #expect(e.lastDamage == PixelRect(x: 5, y: 5, width: 14, height: 11))
    #expect(e.penUp() == nil)
  }

  @Test func cursorStaysInTheImage() {
    var e = MaskEditor(caseID: 1, mask: Mask(width: 10, height: 10))
    e.move(dx: -100, dy: 100)
    #expect(e.cursorX == 0 && e.cursorY == 9)
  }

  @Test func floodFillFillsTheEnclosedRegion() {
    // A closed 6×6 outline (x, y in 2...7) around a 4×4 hole.
    var m = Mask(width: 10, height: 10)
    for i in 2...7 {
      m[i, 2] = 255
      m[i, 7] = 255
      m[2, i] = 255
      m[7, i] = 255
    }
    var e = MaskEditor(caseID: 1, mask: m)
    e.moveTo(x: 4, y: 4)
    let filled = e.floodFill()
    #expect(filled.map(count) == 36)
    // Filling where there already is nucleus does nothing.
    #expect(e.floodFill() == nil)
  }

  @Test func deleteRemovesOnlyTheNucleusUnderTheCursor() {
    var m = Mask(width: 10, height: 10)
    for y in 1...3 { for x in 1...3 { m[x, y] = 255 } }
    for y in 6...8 { for x in 6...8 { m[x, y] = 255 } }
    var e = MaskEditor(caseID: 1, mask: m)
    e.moveTo(x: 2, y: 2)
    #expect(e.deleteComponent().map(count) == 9)
    #expect(e.mask[7, 7] == 255 && e.mask[2, 2] == 0)
    e.moveTo(x: 0, y: 0)
    #expect(e.deleteComponent() == nil)
  }

  @Test func undoAndRedoAreUnboundedAndANewEditClearsRedo() {
    var e = MaskEditor(caseID: 1, mask: Mask(width: 16, height: 16))
    e.setRadius(1)
    var counts: [Int] = []
    for i in 0..<5 {
      e.moveTo(x: 2 + 3 * i, y: 8)
      e.penDown()
      _ = e.penUp()
      counts.append(count(e.mask))
    }
    #expect(counts == [5, 10, 15, 20, 25])
    for expected in [20, 15, 10, 5, 0] { #expect(e.undo().map(count) == expected) }
    #expect(e.undo() == nil)
    #expect(e.redo().map(count) == 5)
    #expect(e.redo().map(count) == 10)
    _ = e.replace(with: Mask(width: 16, height: 16, fill: 255))
    #expect(e.redo() == nil)
    #expect(e.undo().map(count) == 10)
  }
}

@Suite struct MaskEditorScreenTests {
  /// Issue 18: one editing visit is one history entry. Strokes, undo and redo stay in the
  /// visit (the undo stack with them); leaving the editor saves the mask once.
  @Test func aVisitIsSavedOnceWhenItEndsWithItsStrokesUndoAndRedo() throws {
    let (app, store, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.enter))
    app.dispatch(key("m"))
    #expect(app.state.screen == .maskEditor)
    var f = app.frame
    #expect(f.contains("Mask editor · case #1"))
    #expect(f.images.map(\.key) == ["edit:1|r0"])
    app.dispatch(key(" "))
    app.dispatch(key("L"))  // 8 pixels right, painting
    #expect(try store.history(case: 1, viewer: .system).isEmpty, "nothing is saved mid-stroke")
    app.dispatch(key(" "))
    // Radius 4 discs along 9 positions: 81 + ... = the editor's own count; the database has it.
    let painted = app.state.editor!.nucleusPixels
    #expect(painted > 81)
    #expect(app.frame.contains("Changed: saved when you leave (Esc)"))
    app.dispatch(key("u"))
    #expect(app.state.editor!.nucleusPixels == 0)
    app.dispatch(key("r", .control))
    f = app.frame
    #expect(f.contains("Undo 1 · redo 0"))
    #expect(try store.history(case: 1, viewer: .system).isEmpty, "nothing is recorded mid-visit")
    app.dispatch(key(.escape))
    #expect(app.state.screen == .caseView)
    #expect(app.frame.text(row: 39).contains("Saved: mask of case #1 (\(painted) nucleus pixels)"))
    let history = try store.history(case: 1, viewer: .system)
    #expect(history.count == 1)
    let mask = try store.mask(id: try #require(history.first?.maskID))
    #expect(mask.values.filter { $0 >= 128 }.count == painted)
  }

  @Test func quittingMidStrokeSavesTheStroke() throws {
    let (app, store, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.enter))
    app.dispatch(key("m"))
    app.dispatch(key(" "))
    app.dispatch(key("l"))
    #expect(app.dispatch(.input(.terminate(signal: SIGHUP))) == false)
    #expect(try store.history(case: 1, viewer: .system).count == 1)
  }

  @Test func mouseDragPaints() throws {
    let (app, store, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.enter))
    app.dispatch(key("m"))
    func mouse(_ kind: MouseEvent.Kind, _ row: Int, _ column: Int) -> AppEvent {
      .input(
        .mouse(MouseEvent(kind: kind, button: kind == .release ? .none : .left, row: row, column: column)))
    }
    app.dispatch(mouse(.press, 10, 10))
    app.dispatch(mouse(.drag, 10, 20))
    app.dispatch(mouse(.release, 10, 20))
    #expect(app.state.editor!.strokeActive == false, "the release lifts the pen")
    #expect(app.state.editor!.undoStack.count == 1)
    let painted = app.state.editor!.nucleusPixels
    #expect(painted > 0)
    app.dispatch(key(.escape))
    let history = try store.history(case: 1, viewer: .system)
    #expect(history.count == 1)
    #expect(
      try store.mask(id: try #require(history.first?.maskID)).values.filter { $0 >= 128 }.count == painted)
  }

  @Test func aBrushSegmentRedrawsOnlyTheChangedCells() throws {
    let (app, _, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.enter))
    app.dispatch(key("m"))
    let theme = Theme.dark
    let renderer = HeadlessRenderer(
      theme: theme,
      painter: ImagePainter(backend: .halfBlocks(trueColor: true), cellWidth: 10, cellHeight: 20))
    let full = renderer.render(app.frame).count
    app.dispatch(key(" "))
    app.dispatch(key("l"))
    let stroke = renderer.render(app.frame).count
    #expect(renderer.painter.statistics.partialDraws == 1)
    #expect(stroke < full / 10, "a one-pixel brush step sent \(stroke) bytes; the full image \(full)")
  }
}

/// A hematologist correcting an imported nucleus mask starts from it: `r` in the mask editor
/// takes the case's reference mask (one undoable, saved edit), and says so when there is none.
@Suite struct ReferenceMaskTests {
  @Test func rTakesTheImportedReferenceMask() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("refmask-\(UUID().uuidString)")
    let images = dir.appendingPathComponent("images/lymphocyte")
    let masks = dir.appendingPathComponent("masks")
    try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: masks, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let wbc = repository.appendingPathComponent("SampleData/wbc-seg")
    for stem in ["001", "007"] {
      try FileManager.default.copyItem(
        at: wbc.appendingPathComponent("images/lymphocyte/\(stem).png"),
        to: images.appendingPathComponent("\(stem).png"))
    }
    // Only 001 gets a reference mask.
    try FileManager.default.copyItem(
      at: wbc.appendingPathComponent("masks/001.png"), to: masks.appendingPathComponent("001.png"))
    let store = try Workspace.create(at: dir.appendingPathComponent("ws").path)
    _ = try store.importImages(
      ImportOptions(paths: [dir.appendingPathComponent("images").path], masksDirectory: masks.path))
    let app = try ReviewApp(
      store: store, rater: "alice", session: nil, rows: 40, columns: 120, graphics: false)
    app.begin()
    let withMask = try #require(
      try store.cases(limit: 10, viewer: .system).first { $0.imagePath.hasSuffix("001.png") })
    let reference = try store.mask(
      id: try #require(try store.caseDetail(id: withMask.id, viewer: .system).referenceMaskID))

    // Open the case with the reference mask (the browser lists cases by id).
    while app.state.page?.rows[app.state.selection].id != withMask.id { app.dispatch(key(.right)) }
    app.dispatch(key(.enter))
    app.dispatch(key("m"))
    #expect(app.state.screen == .maskEditor)
    #expect(app.frame.contains("Reference mask: r takes it"))
    // With no mask of mine and no model's, the editor opens on the reference (issue 18).
    let expected = reference.values.filter { $0 >= 128 }.count
    #expect(expected > 0)
    #expect(app.state.editor?.nucleusPixels == expected)
    #expect(app.frame.contains("Started from: the reference mask (imported)"))
    app.dispatch(key("c"))
    #expect(app.state.editor?.nucleusPixels == 0)
    app.dispatch(key("r"))
    #expect(app.state.editor?.nucleusPixels == expected)
    app.dispatch(key(.escape))
    let saved = try #require(try store.caseDetail(id: withMask.id, viewer: .rater("alice")).mine?.maskID)
    #expect(try store.mask(id: saved).values.map { $0 >= 128 } == reference.values.map { $0 >= 128 })
    app.dispatch(key("m"))
    app.dispatch(key("c"))
    app.dispatch(key("u"))
    #expect(app.state.editor?.nucleusPixels == expected)

    // The other case has none: r says so and changes nothing.
    app.dispatch(key(.escape))
    app.dispatch(key("n"))
    app.dispatch(key("m"))
    #expect(app.frame.contains("Reference mask: none"))
    app.dispatch(key("r"))
    #expect(app.state.status?.text == "No reference mask for this case")
    #expect(app.state.editor?.nucleusPixels == 0)
  }
}
