import CaseStore
import Foundation
import Testing

@testable import Review
@testable import Terminal

/// Issue 18, item 10: "At 80×24 the side panel is cut ('hidden until you labe…'); the mask
/// editor's key line is cut even at 200 columns." Every screen, its help and the session
/// picker, at 80 × 24 and 200 × 50: no text is cut (`Frame.cut`) but a file name, which is
/// shortened with "…" by rule; the key line ends with "? help" and shows each of its hints whole.
@Suite struct SmallTerminalTests {
  static let sizes = [(rows: 24, columns: 80), (rows: 50, columns: 200)]

  /// A session where alice and bob disagree on case 1 and agree on 2, masks drawn, lead an
  /// adjudicator: every screen has something to show.
  static func workspace() throws -> SessionWorkspace {
    let ws = try SessionWorkspace(blinded: true, hideModel: false)
    let s = try ws.storeFor()
    for (c, a, b) in [(1, "Benign", "Pro-B"), (2, "Pre-B", "Pre-B")] {
      try s.annotate(case: Int64(c), rater: "alice", label: a, session: "s")
      try s.annotate(case: Int64(c), rater: "bob", label: b, session: "s")
    }
    try s.annotate(case: 1, rater: "alice", mask: squareMask(x: 100, y: 100, size: 50), session: "s")
    try ws.store.setRole(.adjudicator, for: "lead")
    return ws
  }

  /// What may be cut: a case's file name (a tile's caption, the case view's name line).
  static func problems(_ f: Frame) -> [String] {
    f.cut.filter { !$0.contains("BloodImage_") }
  }

  /// Checks the frame on `screen`, then its help (every page).
  static func check(_ app: ReviewApp, _ screen: String, _ size: (rows: Int, columns: Int)) {
    let f = app.frame
    let at = "\(screen) at \(size.columns)×\(size.rows)"
    #expect(problems(f).isEmpty, "\(at): \(problems(f))\n\(f.text)")
    if app.state.status == nil && app.state.sessionPicker == nil {
      let keyLine = f.text(row: size.rows - 1)
      #expect(keyLine.hasSuffix("? help"), "\(at): \(keyLine)")
      // The bottom-right cell stays empty: curses never writes it.
      #expect(TextWidth.of(keyLine) < size.columns, "\(at): \(keyLine)")
      // Each hint shown is one of the screen's hints, whole.
      let shown = keyLine.split(separator: "·").map { $0.trimmingCharacters(in: .whitespaces) }
      let hints = Set(View.keyHints(app.state) + ["? help"])
      for h in shown where !h.hasPrefix("⟳") {
        #expect(hints.contains(h) || hints.contains { h.hasPrefix($0) }, "\(at): hint \"\(h)\" in \(keyLine)")
      }
    }
    if app.state.sessionPicker != nil { return }
    app.dispatch(key("?"))
    var pages = 0
    while app.state.showHelp && pages < 6 {
      pages += 1
      #expect(problems(app.frame).isEmpty, "\(at), help page \(pages): \(problems(app.frame))")
      app.dispatch(key(" "))
    }
    #expect(!app.state.showHelp, "\(at): the help closes")
  }

  @Test(arguments: [true, false]) func everyScreenFitsAt80By24And200By50(graphics: Bool) throws {
    let ws = try Self.workspace()
    for size in Self.sizes {
      // alice in the session: browser, case view (blinded case and a labelled one), mask
      // editor, dashboard, triage.
      let alice = try ws.app("alice", rows: size.rows, columns: size.columns, graphics: graphics)
      alice.dispatch(key("N"))  // unbound in the browser: nothing changes
      Self.check(alice, "browser", size)
      alice.dispatch(key(.enter))
      #expect(alice.state.screen == .caseView)
      Self.check(alice, "case view", size)
      alice.dispatch(key("m"))
      #expect(alice.state.screen == .maskEditor)
      Self.check(alice, "mask editor", size)
      alice.dispatch(key(.escape))
      alice.dispatch(key("e"))  // the explanation legend (no model file: a reason instead)
      Self.check(alice, "case view with explanation", size)
      alice.dispatch(key(.escape))
      alice.dispatch(key("A"))
      #expect(alice.state.screen == .dashboard)
      Self.check(alice, "dashboard", size)
      alice.dispatch(key("!"))
      #expect(alice.state.screen == .triage)
      Self.check(alice, "triage (not an adjudicator)", size)
      // bob, blinded on case 3 (not labelled): the panel says what is hidden.
      let bob = try ws.app("bob", rows: size.rows, columns: size.columns, graphics: graphics)
      bob.dispatch(key(.enter))
      #expect(bob.frame.contains("hidden until you") || bob.state.detail?.blinded == false)
      Self.check(bob, "case view (blinded)", size)
      // lead adjudicates from triage; the model screen; the session picker outside a session.
      let lead = try ws.app("lead", session: nil, rows: size.rows, columns: size.columns, graphics: graphics)
      lead.dispatch(key("!"))
      Self.check(lead, "triage (adjudicator)", size)
      lead.dispatch(key(.enter))
      #expect(lead.state.screen == .adjudication)
      Self.check(lead, "adjudication", size)
      lead.dispatch(key(.escape))
      lead.dispatch(key(.escape))
      lead.dispatch(key("V"))
      if lead.state.screen == .models { Self.check(lead, "models", size) }
      lead.dispatch(key(.escape))
      lead.dispatch(key("A"))
      #expect(lead.state.sessionPicker != nil)
      Self.check(lead, "session picker", size)
    }
  }

  @Test func theKeyLineDropsWholeHintsAndKeepsHelp() {
    let hints = ["Enter open", "1/2/3/4 label", "arrows move", "PgDn/PgUp page", "/ search"]
    #expect(
      View.keyLine(hints, width: 200)
        == " Enter open · 1/2/3/4 label · arrows move · PgDn/PgUp page · / search · ? help")
    let narrow = View.keyLine(hints, width: 40)
    #expect(narrow == " Enter open · 1/2/3/4 label · ? help")
    #expect(TextWidth.of(narrow) <= 40)
  }
}
