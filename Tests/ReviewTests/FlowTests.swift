import CaseStore
import Foundation
import Testing

@testable import Review
@testable import Terminal

/// Issue 18, item 8 ("Flow"), in process: each complaint as a hematologist met it, first.
@Suite struct FlowTests {
  @Test func aNumberKeyLabelsTheSelectedTileInTheBrowser() throws {
    let (app, store, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.right))
    app.dispatch(key(.right))
    #expect(app.state.selectedRow?.id == 3)
    app.dispatch(key("3"))
    #expect(app.state.screen == .browser)
    #expect(try store.caseDetail(id: 3, viewer: .rater("alice")).mine?.label == "Pre-B")
    #expect(app.state.page?.rows.first { $0.id == 3 }?.myLabel == "Pre-B")
    #expect(app.frame.contains("Saved: case #3 labelled Pre-B"))
    #expect(try store.caseDetail(id: 1, viewer: .rater("alice")).mine == nil)
  }

  @Test func acceptingTheModelOverADifferentLabelAsksFirst() throws {
    let ws = try SessionWorkspace(blinded: false, hideModel: false)
    // Case 1's prediction is Early-B (1 % 4 = 1); alice said Benign.
    let app = try ws.app("alice", session: nil)
    app.dispatch(key(.enter))
    app.dispatch(key("1"))
    #expect(app.state.detail?.mine?.label == "Benign")
    app.dispatch(key("a"))
    #expect(app.frame.contains("Replace your label Benign with the model's Early-B?"))
    app.dispatch(key("n"))
    #expect(app.state.detail?.mine?.label == "Benign")
    #expect(app.frame.contains("Your label stays"))
    app.dispatch(key("a"))
    app.dispatch(key("y"))
    #expect(app.state.detail?.mine?.label == "Early-B")
    // Accepting over the same label, or with no label, asks nothing.
    app.dispatch(key("a"))
    #expect(app.state.confirmAccept == nil)
  }

  @Test func inASessionQueueALabelOpensTheNextCaseUnlessSwitchedOff() throws {
    let ws = try SessionWorkspace(blinded: true, hideModel: true)
    let app = try ws.app("alice")
    #expect(app.state.advanceAfterLabel)
    app.dispatch(key(.enter))
    let first = try #require(app.state.detail?.record.id)
    app.dispatch(key("2"))
    let second = try #require(app.state.detail?.record.id)
    #expect(second != first)
    #expect(app.frame.contains("labelled Early-B · next case"))
    #expect(try ws.store.history(case: first, viewer: .rater("alice")).first?.label == "Early-B")
    // N switches it off, and the workspace keeps the choice for the next review.
    app.dispatch(key("N"))
    #expect(!app.state.advanceAfterLabel)
    app.dispatch(key("3"))
    #expect(app.state.detail?.record.id == second)
    #expect(try !ws.app("alice").state.advanceAfterLabel)
    // Outside a session the case stays open by default.
    #expect(try !ws.app("alice", session: nil).state.advanceAfterLabel)
  }

  @Test func escFromTriageReturnsToTheDashboardItWasOpenedFrom() throws {
    let ws = try SessionWorkspace(blinded: false, hideModel: false)
    let app = try ws.app("alice")
    app.dispatch(key("A"))
    #expect(app.state.screen == .dashboard)
    app.dispatch(key("!"))
    #expect(app.state.screen == .triage)
    app.dispatch(key(.escape))
    #expect(app.state.screen == .dashboard)
    app.dispatch(key(.escape))
    #expect(app.state.screen == .browser)
    // From the case view, back to the same case.
    app.dispatch(key(.enter))
    let open = app.state.detail?.record.id
    app.dispatch(key("!"))
    app.dispatch(key(.escape))
    #expect(app.state.screen == .caseView && app.state.detail?.record.id == open)
  }

  @Test func plusAndMinusResizeTheThumbnails() throws {
    let (app, _, dir) = try makeApp(rows: 40, columns: 120)
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(app.state.grid.pageSize == 24)
    app.dispatch(key("+"))
    #expect(app.state.grid.tileColumns == 26)
    #expect(app.state.page?.rows.count == app.state.grid.pageSize)
    #expect(app.frame.images.first?.rect.columns == 25)
    #expect(app.frame.contains("Thumbnails 25 columns wide"))
    app.dispatch(key("-"))
    app.dispatch(key("-"))
    #expect(app.state.grid.tileColumns == 20)
    #expect(app.frame.contains("Thumbnails are at their smallest"))
    app.setThumbnailWidth(40)
    #expect(app.state.grid.tileColumns == 40 && app.state.grid.across == 3)
  }

  @Test func aOutsideASessionOffersTheSessionsAndOpensTheChosenOne() throws {
    let ws = try SessionWorkspace(blinded: true, hideModel: true)
    try ws.store.createSession(
      name: "other", raters: ["bob"], cases: .ids([9, 10]), blinded: false, hideModel: false,
      createdBy: "lead")
    let app = try ws.app("alice", session: nil)
    app.dispatch(key("A"))
    let f = app.frame
    #expect(f.contains("Open a session"))
    #expect(f.contains("▶ s · 8 cases · open, blinded · mine 0/8"))
    #expect(f.contains("other · 2 cases"))
    app.dispatch(key(.enter))
    #expect(app.state.session == "s")
    #expect(app.state.screen == .dashboard)
    #expect(app.state.sort == .sessionQueue)
    #expect(app.frame.text(row: 0).contains("session s (0 of 8 labelled)"))
    // The blinding of the session holds from now on: the browser hides the predictions.
    app.dispatch(key(.escape))
    #expect(app.state.page?.rows.allSatisfy { $0.predictedLabel == nil } == true)
    // A session I am not in is refused, and nothing changes.
    let other = try ws.app("alice", session: nil)
    other.dispatch(key("A"))
    other.dispatch(key("j"))
    other.dispatch(key(.enter))
    #expect(other.state.session == nil)
    #expect(other.frame.contains("is not a rater of session"))
  }

  @Test func hintsNameTheWorkspaceAndQuoteIt() throws {
    let ws = try SessionWorkspace(blinded: false, hideModel: false)
    let app = try ws.app("alice")
    app.dispatch(key("!"))
    let expected = "blastview rater set-role --workspace \(ShellWord.quoted(ws.path)) alice adjudicator"
    // The role line wraps at word boundaries: its lines joined give the command whole.
    let headings = app.frame.lines[1..<8].map { $0.trimmingCharacters(in: .whitespaces) }.joined(
      separator: " ")
    #expect(headings.contains(expected), "\(headings)")
    #expect(app.frame.cut.isEmpty, "\(app.frame.cut)")
    #expect(ShellWord.quoted("/tmp/my data/it's") == "'/tmp/my data/it'\\''s'")
    #expect(ShellWord.quoted("/tmp/plain-ws") == "/tmp/plain-ws")
  }
}
