import CaseStore
import Foundation
import Imaging
import Testing

@testable import Review
@testable import Terminal

/// Triage and adjudication in the review app (issue 8), and the role check.
@Suite struct TriageAdjudicationTests {
  /// Session labels: case 1 benign vs malignant, 2 a subtype, 3 agreed with the model (0.60),
  /// 4 both raters against the model (Benign 0.65). alice drew a mask on case 1.
  func workspace() throws -> SessionWorkspace {
    let ws = try SessionWorkspace(blinded: false, hideModel: false)
    let s = try ws.storeFor()
    for (c, a, b) in [
      (1, "Benign", "Pro-B"), (2, "Pre-B", "Pro-B"), (3, "Pro-B", "Pro-B"), (4, "Pre-B", "Pre-B"),
    ] {
      try s.annotate(case: Int64(c), rater: "alice", label: a, session: "s")
      try s.annotate(case: Int64(c), rater: "bob", label: b, session: "s")
    }
    try s.annotate(case: 1, rater: "alice", mask: squareMask(x: 200, y: 200, size: 40), session: "s")
    return ws
  }

  @Test func theQueueIsOrderedBySeverityThenUncertaintyAndItsThresholdChanges() throws {
    let ws = try workspace()
    let app = try ws.app("lead")
    app.dispatch(key("!"))
    #expect(app.state.screen == .triage)
    #expect(app.state.triage?.items.map(\.caseID) == [1, 4, 2])
    var f = app.frame
    #expect(f.contains("Triage · s · 3 cases: 2 benign vs malignant · 1 subtype · 0 low confidence"))
    #expect(f.contains("top probability below 0.60"))
    #expect(f.contains("▶#1"))
    #expect(f.contains("raters differ, vs model"))
    // The hint is runnable as printed: the workspace named, wrapped at word boundaries (issue 18).
    let headings = f.lines[1..<8].map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    #expect(
      headings.contains(
        "Role rater: adjudicating needs blastview rater set-role --workspace \(ShellWord.quoted(ws.path)) lead adjudicator"
      ))
    app.dispatch(key("]"))
    #expect(app.state.triage?.items.map(\.caseID) == [1, 4, 2, 3])
    f = app.frame
    #expect(f.contains("top probability below 0.65") && f.contains("1 low confidence"))
    app.dispatch(key("j"))
    app.dispatch(key("j"))
    #expect(app.state.triage?.selected?.caseID == 2)
    app.dispatch(key("["))
    app.dispatch(key(.escape))
    #expect(app.state.screen == .browser)
  }

  @Test func onlyAnAdjudicatorAdjudicates() throws {
    let ws = try workspace()
    let app = try ws.app("lead")
    app.dispatch(key("!"))
    app.dispatch(key(.enter))
    #expect(app.state.screen == .triage)
    let status = app.frame.lines[36...39].map { $0.trimmingCharacters(in: .whitespaces) }.joined(
      separator: " ")
    #expect(
      status.contains(
        "Refused: only adjudicators adjudicate; lead is a rater (blastview rater set-role --workspace \(ShellWord.quoted(ws.path)) lead adjudicator)"
      ), "\(status)")
    // A lead gives the role while the app runs: the next attempt asks the store again.
    try ws.store.setRole(.adjudicator, for: "lead")
    app.dispatch(key(.enter))
    #expect(app.state.screen == .adjudication)
    #expect(app.state.role == .adjudicator)
  }

  @Test func adjudicateWithAnEditedMaskAndATypedReason() throws {
    let ws = try workspace()
    try ws.store.setRole(.adjudicator, for: "lead")
    let app = try ws.app("lead")
    let annotationsBefore = try ws.store.latestAnnotationID()
    app.dispatch(key("!"))
    app.dispatch(key(.enter))
    var f = app.frame
    #expect(f.contains("Adjudicate case #1"))
    #expect(f.contains("benign vs malignant: raters differ, vs model"))
    // Side by side: alice, bob and the model, each image with its own mask.
    #expect(f.images.count == 3)
    #expect(
      f.contains("▶alice: Benign") && f.contains("bob: Pro-B") && f.contains("model v1: Early-B 0.50"))
    #expect(f.contains("mask 1600 px") && f.contains("no mask") && f.contains("mask 3600 px"))
    // Recording needs a label and a reason.
    app.dispatch(key(.enter))
    #expect(app.frame.text(row: 39).contains("Choose the final label first"))
    app.dispatch(key("4"))
    app.dispatch(key(.enter))
    #expect(app.frame.text(row: 39).contains("An adjudication needs a reason"))
    // bob drew nothing; alice's mask is taken, then edited: a stroke to the right.
    app.dispatch(key("l"))
    app.dispatch(key("t"))
    #expect(app.frame.text(row: 39).contains("bob drew no mask"))
    app.dispatch(key("h"))
    app.dispatch(key("t"))
    #expect(app.frame.contains("Final mask: alice's"))
    #expect(app.frame.contains("mask 1600 px ✓ taken"))
    app.dispatch(key("m"))
    #expect(app.state.screen == .maskEditor)
    #expect(app.state.editor?.nucleusPixels == 1600)
    app.dispatch(key(" "))
    app.dispatch(key("L"))
    app.dispatch(key(" "))
    let edited = try #require(app.state.editor?.mask)
    app.dispatch(key(.escape))
    #expect(app.frame.text(row: 39).contains("Adjudication mask edited"))
    #expect(app.state.screen == .adjudication)
    #expect(app.frame.contains("Final mask: edited here (\(edited.values.filter { $0 >= 128 }.count) px)"))
    // The reason, typed and pasted (an escape sequence in the paste is removed).
    app.dispatch(key("r"))
    for c in "fine chromatin, blasts" { app.dispatch(key(c)) }
    app.dispatch(.input(.paste(" \u{1B}[2Jok")))
    app.dispatch(key("w", .control))
    app.dispatch(key(.enter))
    f = app.frame
    #expect(f.contains("Reason: fine chromatin, blasts"))
    app.dispatch(key(.enter))
    #expect(app.state.screen == .triage)
    #expect(
      app.frame.text(row: 39).contains("Adjudicated case #1: Pro-B with a mask; it has left the queue"))
    #expect(app.state.triage?.items.map(\.caseID) == [4, 2])
    let j = try #require(try ws.store.adjudications(case: 1, viewer: .system).last)
    #expect(j.label == "Pro-B" && j.adjudicator == "lead" && j.session == "s")
    #expect(j.reason == "fine chromatin, blasts")
    #expect(try ws.store.mask(id: try #require(j.maskID)) == edited)
    // The editor's strokes were the adjudication's, not annotations of the lead.
    #expect(try ws.store.latestAnnotationID() == annotationsBefore)
  }

  @Test func escLeavesTheCaseInTheQueue() throws {
    let ws = try workspace()
    try ws.store.setRole(.adjudicator, for: "lead")
    let app = try ws.app("lead")
    app.dispatch(key("!"))
    app.dispatch(key(.enter))
    app.dispatch(key("2"))
    app.dispatch(key("r"))
    app.dispatch(key("x"))
    app.dispatch(key(.escape))  // Esc while typing restores the reason (empty)
    #expect(app.state.adjudication?.reason.text == "")
    app.dispatch(key(.escape))
    #expect(app.state.screen == .triage)
    #expect(app.frame.text(row: 39).contains("Case #1 not adjudicated; it stays in the queue"))
    #expect(try ws.store.adjudications(case: 1, viewer: .system).isEmpty)
  }
}

/// The case view's overlays: the model's mask, mine and other raters'.
@Suite struct CaseOverlayTests {
  @Test func togglesDrawTheMasksWithALegend() throws {
    let ws = try SessionWorkspace(blinded: false, hideModel: false)
    let app = try ws.app("alice", session: nil)
    app.dispatch(key(.enter))
    #expect(app.frame.images.map(\.key) == ["case:1"])
    app.dispatch(key("M"))
    let modelMask = try #require(try ws.store.caseDetail(id: 1, viewer: .system).prediction?.maskID)
    #expect(app.frame.images.map(\.key) == ["case:1|model:\(modelMask)"])
    #expect(app.frame.contains("■ model mask v1"))
    #expect(app.frame.style(of: "■ model mask")?.foreground == .rgb(0, 215, 255))
    app.dispatch(key("y"))
    #expect(app.frame.text(row: 39).contains("You have no mask for this case"))
    app.dispatch(key("o"))
    #expect(app.frame.text(row: 39).contains("No other rater has a mask for this case"))
    // bob and carl draw masks in their own processes.
    let other = try ws.storeFor()
    try other.annotate(case: 1, rater: "bob", mask: squareMask(x: 10, y: 10, size: 8))
    try other.annotate(case: 1, rater: "carl", mask: squareMask(x: 30, y: 10, size: 8))
    app.dispatch(.tick)  // the case reloads: their masks may be shown
    app.dispatch(key("o"))
    #expect(app.frame.contains("■ bob's mask") && !app.frame.contains("carl's mask"))
    app.dispatch(key("o"))
    #expect(app.frame.contains("■ carl's mask") && !app.frame.contains("bob's mask"))
    app.dispatch(key("o"))
    #expect(app.frame.contains("■ carl's mask") && app.frame.contains("■ bob's mask"))
    #expect(app.frame.images.first?.key.contains("|bob:") == true)
    app.dispatch(key("o"))
    #expect(!app.frame.contains("bob's mask"))
    // My own mask, drawn in the editor, then shown.
    app.dispatch(key("m"))
    app.dispatch(key(" "))
    app.dispatch(key("L"))
    app.dispatch(key(" "))
    app.dispatch(key(.escape))
    app.dispatch(key("y"))
    #expect(app.frame.contains("■ my mask"))
    // Layers are drawn into the pixels: the model's square is blended in its colour.
    let placement = try #require(app.frame.images.first)
    let image = try #require(placement.source.render(640, 480))
    let plain = try decodeImage(at: try ws.store.caseRecord(id: 1, viewer: .system).imagePath)
    let inside = (105 + 20, 100 + 20)
    #expect(image[inside.0, inside.1] != plain[inside.0, inside.1])
    #expect(image[600, 400] == plain[600, 400])
  }
}

/// The one-line text editor of the adjudication reason.
@Suite struct LineEditorTests {
  @Test func editingKeys() {
    var e = LineEditor(limit: 20)
    for c in "hello world" { _ = e.handle(KeyPress(c)) }
    #expect(e.text == "hello world" && e.cursor == 11)
    _ = e.handle(KeyPress("w", .control))
    #expect(e.text == "hello " && e.cursor == 6)
    _ = e.handle(KeyPress(.home))
    _ = e.handle(KeyPress(.right))
    _ = e.handle(KeyPress(.delete))
    #expect(e.text == "hllo ")
    _ = e.handle(KeyPress("k", .control))
    #expect(e.text == "h")
    _ = e.handle(KeyPress("e", .control))
    _ = e.handle(KeyPress(.backspace))
    #expect(e.text.isEmpty)
    #expect(e.handle(KeyPress(.enter)) == .submitted)
    #expect(e.handle(KeyPress(.escape)) == .cancelled)
    for c in "abc" { _ = e.handle(KeyPress(c)) }
    _ = e.handle(KeyPress(.left))
    _ = e.handle(KeyPress("u", .control))
    #expect(e.text == "c" && e.cursor == 0)
  }

  @Test func pastedTextIsSanitisedAndCapped() {
    var e = LineEditor(limit: 10)
    e.insert("a\u{1B}]0;title\u{07}b\u{202E}c")
    #expect(!e.text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x202E })
    #expect(e.text.hasPrefix("a") && e.text.contains("b"))
    e.insert(String(repeating: "x", count: 50))
    #expect(e.characters.count == 10)
  }

  @Test func theVisiblePartFollowsTheCursor() {
    var e = LineEditor("0123456789abcdef", limit: 100)
    var v = e.visible(width: 6)
    #expect(v.text == "bcdef" && v.cursorColumn == 5)
    _ = e.handle(KeyPress(.home))
    v = e.visible(width: 6)
    #expect(v.text == "012345" && v.cursorColumn == 0)
  }
}
