import CaseStore
import Foundation
import TestSupport
import Testing

@testable import Review
@testable import Terminal

/// Issue 18, item 4: "after adjudicating, the case view still shows only the raters' labels
/// (even to the adjudicator), the browser keeps the D badge". Now the case view shows the final
/// label, its reason and who decided, the history lists the adjudication, the browser shows A
/// in place of D, and F filters adjudicated cases.
@Suite struct AdjudicationVisibleTests {
  func workspace() throws -> SessionWorkspace {
    let ws = try SessionWorkspace(blinded: false, hideModel: false)
    let s = try ws.storeFor()
    for (c, a, b) in [(1, "Benign", "Pro-B"), (2, "Pre-B", "Pro-B"), (3, "Pro-B", "Pro-B")] {
      try s.annotate(case: Int64(c), rater: "alice", label: a, session: "s")
      try s.annotate(case: Int64(c), rater: "bob", label: b, session: "s")
    }
    try ws.store.setRole(.adjudicator, for: "lead")
    try ws.store.adjudicate(
      case: 1, adjudicator: "lead", label: "Pro-B", reason: "fine chromatin, blasts", session: "s")
    return ws
  }

  @Test func browserShowsAInsteadOfDAndFiltersAdjudicated() throws {
    let ws = try workspace()
    for rater in ["lead", "alice"] {
      let app = try ws.app(rater, graphics: false)
      let rows = try #require(app.state.page?.rows)
      let one = try #require(rows.first { $0.id == 1 })
      let two = try #require(rows.first { $0.id == 2 })
      #expect(View.flags(one).contains("A") && !View.flags(one).contains("D"), "\(rater): \(View.flags(one))")
      #expect(View.flags(two).contains("D") && !View.flags(two).contains("A"))
      app.dispatch(key("F"))
      #expect(app.state.filter.adjudicated)
      #expect(app.state.page?.rows.map(\.id) == [1])
      #expect(app.frame.contains("adjudicated ·"))
      #expect(app.frame.contains("1 matching"))
    }
  }

  @Test func caseViewAndHistoryShowTheFinalLabelToEveryone() throws {
    let ws = try workspace()
    for rater in ["lead", "alice", "bob"] {
      let app = try ws.app(rater)
      app.dispatch(key("F"))
      app.dispatch(key(.enter))
      #expect(app.state.screen == .caseView)
      let f = app.frame
      #expect(f.contains("Final: Pro-B · adjudicated by lead"), "\(rater)")
      #expect(f.contains("Reason: fine chromatin, blasts"), "\(rater)")
      #expect(f.contains("lead: final Pro-B"), "\(rater)")
    }
  }

  @Test func aBlindedRaterSeesNoFinalLabel() throws {
    let ws = try SessionWorkspace(blinded: true, hideModel: false, raters: ["alice", "bob", "cat"])
    let s = try ws.storeFor()
    try s.annotate(case: 1, rater: "alice", label: "Benign", session: "s")
    try s.annotate(case: 1, rater: "bob", label: "Pro-B", session: "s")
    try ws.store.setRole(.adjudicator, for: "lead")
    try ws.store.adjudicate(case: 1, adjudicator: "lead", label: "Pro-B", reason: "blasts", session: "s")
    let app = try ws.app("cat")
    #expect(app.state.page?.rows.first { $0.id == 1 }.map(View.flags)?.contains("A") == false)
    app.dispatch(key("F"))
    #expect(app.state.page?.rows.isEmpty == true)
  }
}

/// The same, for real: the binary in tmux after `blastview adjudicate` on the command line.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux")))
struct AdjudicationVisibleEndToEndTests {
  @Test func theAdjudicatorAndARaterSeeTheFinalLabel() throws {
    let dir = EndToEnd.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let ws = dir.appendingPathComponent("ws").path
    let bin = EndToEnd.binary!
    // Plain init (an older binary, without --no-model, runs this test too and fails it).
    #expect(EndToEnd.run([bin, "init", "--workspace", ws]).status == 0)
    let images = EndToEnd.repositoryRoot.appendingPathComponent("SampleData/bccd/JPEGImages").path
    #expect(EndToEnd.run([bin, "import", "--workspace", ws, images]).status == 0)
    #expect(
      EndToEnd.run([bin, "annotate", "--workspace", ws, "--rater", "alice", "1", "--label", "Benign"]).status
        == 0)
    #expect(
      EndToEnd.run([bin, "annotate", "--workspace", ws, "--rater", "bob", "1", "--label", "Pro-B"]).status
        == 0)
    #expect(EndToEnd.run([bin, "rater", "set-role", "--workspace", ws, "lead", "adjudicator"]).status == 0)
    #expect(
      EndToEnd.run([
        bin, "adjudicate", "--workspace", ws, "--rater", "lead", "1", "--label", "Pro-B", "--reason",
        "fine chromatin, blasts",
      ]).status == 0)
    for rater in ["lead", "alice"] {
      let command =
        "\(EndToEnd.shellQuote(bin)) review --workspace \(EndToEnd.shellQuote(ws)) --rater \(rater) --graphics none"
      let tmux = try #require(
        TmuxSession(columns: 120, rows: 40, command: "sh -c \(EndToEnd.shellQuote(command + "; sleep 60"))"))
      #expect(tmux.waitFor("20 matching"))
      tmux.send("F")
      #expect(tmux.waitFor("1 matching"), "\(rater): the adjudicated filter")
      let list = tmux.capture()
      // The list's one row (the selected one, ▶) has its flags from column 66.
      let row = try #require(list.split(separator: "\n").first { $0.hasPrefix("▶") })
      let flags = row.dropFirst(66).trimmingCharacters(in: .whitespaces)
      #expect(flags.contains("A") && !flags.contains("D"), "\(rater): \(row)")
      tmux.send("Enter")
      #expect(tmux.waitFor("Final: Pro-B · adjudicated by lead"), "\(rater): \(tmux.capture())")
      #expect(tmux.capture().contains("Reason: fine chromatin, blasts"))
      #expect(tmux.capture().contains("lead: final Pro-B"))
      tmux.send("q")
    }
  }
}
