import Agreement
import CaseStore
import Foundation
import Imaging
import TestSupport
import Testing
import Workflows

@testable import Review
@testable import Terminal

/// `blastview review --session`: the queue with progress, blinding as the store enforces it
/// (checked on every event that reaches `update`), the agreement dashboard with its live
/// refresh and the same numbers as `blastview agree --session --json`, and closing.
@Suite struct SessionScreensTests {
  @Test func theQueuePutsMyUnlabelledCasesFirstWithProgress() throws {
    let ws = try SessionWorkspace()
    let app = try ws.app("alice")
    #expect(app.frame.text(row: 0).contains("session s (0 of 8 labelled)"))
    #expect(app.frame.text(row: 1).contains("sort queue (mine to label first)"))
    #expect(app.state.page?.rows.map(\.id) == Array(1...8))
    app.dispatch(key(.enter))
    app.dispatch(key("3"))
    #expect(app.frame.text(row: 0).contains("session s (1 of 8 labelled)"))
    app.dispatch(key(.escape))
    app.dispatch(key("g"))  // the queue, reloaded: case 1 is done and goes last
    #expect(app.state.page?.rows.map(\.id) == [2, 3, 4, 5, 6, 7, 8, 1])
  }

  @Test func aBlindedRaterReceivesNothingHiddenUntilTheyLabel() throws {
    let ws = try SessionWorkspace()
    let alice = try ws.app("alice")
    // alice draws a mask on case 1 and labels cases 1-3.
    alice.dispatch(key(.enter))
    alice.dispatch(key("m"))
    alice.dispatch(key(" "))
    for _ in 0..<4 { alice.dispatch(key("L")) }
    alice.dispatch(key(" "))
    alice.dispatch(key(.escape))
    for k in ["1", "3", "4"] {
      alice.dispatch(key(Character(k)))
      alice.dispatch(key("n"))
    }
    #expect(
      try ws.store.currentLabels(session: "s", viewer: .system).filter { $0.rater == "alice" }.count == 3)

    let bob = try ws.app("bob")
    let witness = BlindingWitness(me: "bob", session: "s", hideModel: true)
    witness.attach(to: bob)
    bob.dispatch(key("g"))  // reload the queue while watching
    // Case 1 before bob labels it: alice's label and mask, the model: all hidden.
    bob.dispatch(key(.enter))
    var f = bob.frame
    #expect(f.contains("Case #1"))
    #expect(f.contains("Other raters: hidden until you label (blinded)"))
    #expect(f.contains("Model hidden in this session"))
    bob.dispatch(key("o"))
    #expect(bob.frame.text(row: 39).contains("hidden until you label this case"))
    bob.dispatch(key("M"))
    #expect(bob.frame.text(row: 39).contains("The model is hidden"))
    bob.dispatch(key("A"))  // the dashboard: nothing of alice's counts yet
    #expect(bob.state.dashboard?.report?.labels.pairwise.first?.n == 0)
    bob.dispatch(key(.escape))
    // bob labels case 1: it is revealed at once (the case reloads). He stays on the case
    // after a label (N; in a session the next case opens by default).
    bob.dispatch(key("N"))
    bob.dispatch(key("1"))
    f = bob.frame
    #expect(f.contains("Other raters: alice Benign"))
    #expect(f.contains("Model v1:"))
    bob.dispatch(key("o"))
    #expect(bob.state.overlays.masks.contains { $0.owner == "rater:alice" })
    #expect(bob.frame.contains("alice's mask"))
    // Case 2 is still hidden from him.
    bob.dispatch(key("n"))
    #expect(bob.frame.contains("Case #2") && bob.frame.contains("hidden until you label"))
    bob.dispatch(key("A"))
    #expect(bob.state.dashboard?.report?.labels.pairwise.first?.n == 1)
    bob.dispatch(key("!"))  // triage as bob: only what he may see
    #expect(witness.checked > 10)
    #expect(witness.violations.isEmpty, "\(witness.violations)")
  }

  /// The dashboard shows what `blastview agree --session s --rater R --weights clinical
  /// --json` prints: compared number by number with the binary's JSON, and as text on screen.
  @Test(.enabled(if: EndToEnd.binary != nil))
  func theDashboardShowsTheNumbersOfAgreeJSON() throws {
    let ws = try SessionWorkspace()
    let alice = try ws.storeFor()
    let bob = try ws.storeFor()
    let labels = [
      ("Benign", "Benign"), ("Pre-B", "Pre-B"), ("Pro-B", "Early-B"), ("Early-B", "Early-B"),
      ("Benign", "Pre-B"),
      ("Pre-B", "Pre-B"), ("Pro-B", "Pro-B"),
    ]
    for (i, (a, b)) in labels.enumerated() {
      try alice.annotate(case: Int64(i + 1), rater: "alice", label: a, session: "s")
      try bob.annotate(case: Int64(i + 1), rater: "bob", label: b, session: "s")
    }
    try alice.annotate(case: 1, rater: "alice", mask: squareMask(x: 100, y: 100, size: 50), session: "s")
    try bob.annotate(case: 1, rater: "bob", mask: squareMask(x: 110, y: 100, size: 50), session: "s")
    let app = try ws.app("alice")
    app.dispatch(key("A"))
    let report = try #require(app.state.dashboard?.report)
    let run = EndToEnd.run([
      EndToEnd.binary!, "agree", "--workspace", ws.path, "--session", "s", "--rater", "alice", "--weights",
      "clinical", "--json",
    ])
    #expect(run.status == 0)
    // JSONDecoder reads doubles exactly (Foundation's JSONSerialization on Linux may not).
    let json = try JSONDecoder().decode(AgreeSessionJSON.self, from: Data(run.output.utf8))
    let pair = try #require(report.labels.pairwise.first)
    let kappa = try #require(pair.cohen.value)
    let wk = try #require(pair.weighted?.value)
    // Exactly the same doubles (the JSON prints them in their shortest round-trip form).
    #expect(json.cohen.kappa == kappa.kappa)
    #expect(json.cohen.ci95 == [kappa.ci95.lower, kappa.ci95.upper])
    #expect(json.weighted.kappa == wk.kappa)
    #expect(json.weighted.ci95 == [wk.ci95.lower, wk.ci95.upper])
    #expect(json.pairwise.first?.ci95 == [kappa.ci95.lower, kappa.ci95.upper])
    #expect(json.n_paired == pair.n && pair.n == 7)
    for (i, c) in report.labels.categories.enumerated() {
      #expect(json.specific_agreement[c] == report.labels.specificAgreement[i].value)
    }
    #expect(json.masks.first?.pooled.dice == report.masks.first?.summary.pooledDice.value)
    #expect(json.masks.first?.pooled.iou == report.masks.first?.summary.pooledIoU.value)
    // 50 × 50 squares shifted by 10: overlap 40 × 50, Dice = 2·2000 / 5000.
    #expect(abs((report.masks.first?.summary.pooledDice.value ?? 0) - 0.8) < 1e-12)
    let modelReport = try #require(report.model?.report)
    #expect(json.model.accuracy == modelReport.accuracy)
    let modelKappa = try #require(modelReport.kappa.value)
    #expect(json.model.kappa == modelKappa)
    #expect(json.model.macro.npv == modelReport.macro.npv)
    #expect(json.model.macro.specificity == modelReport.macro.specificity)
    #expect(json.model.n == report.model?.n)
    // On screen, to three decimals, beside the pair.
    let f = app.frame
    let text = String(format: "%.3f [%.3f, %.3f]", kappa.kappa, kappa.ci95.lower, kappa.ci95.upper)
    #expect(f.contains(text), "\(text)\n\(f.text)")
    #expect(f.contains(String(format: "%.3f [%.3f, %.3f]", wk.kappa, wk.ci95.lower, wk.ci95.upper)))
    #expect(f.contains(String(format: "accuracy %.3f · kappa %.3f", modelReport.accuracy, modelKappa)))
    #expect(f.contains("Dice 0.800 IoU 0.667 (1 case)"))
    #expect(
      f.text.replacingOccurrences(of: "\n   ", with: " ").contains(
        "CLI: blastview agree --workspace \(ShellWord.quoted(ws.path)) --session s --rater alice --weights clinical --json"
      ))
  }

  @Test func theHeatmapWritesEveryCountAndShadesByIt() throws {
    let ws = try SessionWorkspace(blinded: false, hideModel: false)
    let s = try ws.storeFor()
    for (c, a, b) in [(1, "Benign", "Benign"), (2, "Benign", "Benign"), (3, "Pre-B", "Pro-B")] {
      try s.annotate(case: Int64(c), rater: "alice", label: a, session: "s")
      try s.annotate(case: Int64(c), rater: "bob", label: b, session: "s")
    }
    let app = try ws.app("alice")
    app.dispatch(key("A"))
    let f = app.frame
    let benign = try #require(f.find("Benign          2       0       0       0"))
    #expect(f.contains("Pre-B           0       0       0       1"))
    // The cell of the largest count is the top of the scale; cells of 0 are not shaded.
    func background(_ column: Int) -> Color? { f.cells[benign.row * f.columns + column].style.background }
    #expect(background(benign.column + 14) == View.shade(1))
    #expect(background(benign.column + 20) == nil)
    #expect(f.contains("Per-class agreement"))
  }

  @Test func threeRatersShowFleissKrippendorffAndEveryPair() throws {
    let ws = try SessionWorkspace(blinded: false, hideModel: false, raters: ["alice", "bob", "carl"])
    let s = try ws.storeFor()
    let rows = [("Benign", "Benign", "Benign"), ("Pre-B", "Pro-B", "Pre-B"), ("Pro-B", "Pro-B", "Early-B")]
    for (i, r) in rows.enumerated() {
      try s.annotate(case: Int64(i + 1), rater: "alice", label: r.0, session: "s")
      try s.annotate(case: Int64(i + 1), rater: "bob", label: r.1, session: "s")
      try s.annotate(case: Int64(i + 1), rater: "carl", label: r.2, session: "s")
    }
    let app = try ws.app("carl")
    app.dispatch(key("A"))
    let f = app.frame
    let r = try #require(app.state.dashboard?.report)
    #expect(r.labels.pairwise.count == 3)
    for name in ["alice × bob", "alice × carl", "bob × carl"] { #expect(f.contains(name)) }
    let fleiss = try #require(r.labels.fleiss.value)
    #expect(f.contains(String(format: "Fleiss' kappa %.3f", fleiss.kappa)), "\(f.text)")
    #expect(
      f.contains(
        String(format: "Krippendorff's alpha %.3f", try #require(r.labels.krippendorffNominal.value))))
    #expect(f.contains("Confusion: alice rows × bob columns · Tab: next pair"))
    app.dispatch(key(.tab))
    #expect(app.frame.contains("Confusion: alice rows × carl columns"))
    app.dispatch(key(.tab))
    app.dispatch(key(.tab))
    #expect(app.frame.contains("Confusion: alice rows × bob columns"))
  }

  @Test func theDashboardRefreshesWhenAnotherProcessLabels() throws {
    let ws = try SessionWorkspace(blinded: false, hideModel: false)
    let app = try ws.app("alice")
    app.dispatch(key("A"))
    #expect(app.state.dashboard?.refreshes == 1)
    app.dispatch(.tick)  // nothing changed: no recomputation
    #expect(app.state.dashboard?.refreshes == 1)
    let bob = try ws.storeFor()
    try bob.annotate(case: 1, rater: "bob", label: "Pro-B", session: "s")
    try bob.annotate(case: 2, rater: "bob", label: "Pro-B", session: "s")
    app.dispatch(.tick)
    #expect(app.state.dashboard?.refreshes == 2)
    #expect(app.frame.contains("bob 2/8"))
    #expect(app.frame.text(row: 0).contains("session s (0 of 8 labelled)"))
  }

  @Test func onlyTheCreatorClosesAndAClosedSessionIsReadOnly() throws {
    let ws = try SessionWorkspace()
    let alice = try ws.app("alice")
    alice.dispatch(key("A"))
    alice.dispatch(key("C"))
    #expect(alice.frame.text(row: 39).contains("Only the session's creator, lead, can close session s"))
    let lead = try ws.app("lead")
    #expect(lead.frame.text(row: 0).contains("session s (following, not a rater)"))
    lead.dispatch(key(.enter))
    lead.dispatch(key("2"))
    #expect(lead.frame.text(row: 39).contains("You are not a rater of session s"))
    lead.dispatch(key(.escape))
    lead.dispatch(key("A"))
    lead.dispatch(key("C"))
    #expect(lead.frame.text(row: 39).contains("Close session s?"))
    lead.dispatch(key("n"))  // anything but y keeps it open
    #expect(try ws.store.session(named: "s").isOpen)
    lead.dispatch(key("C"))
    lead.dispatch(key("y"))
    #expect(try !ws.store.session(named: "s").isOpen)
    #expect(lead.frame.text(row: 39).contains("Closed session s"))
    // alice's process learns it on its next tick; her label keys are refused.
    alice.dispatch(key(.escape))
    alice.dispatch(.tick)
    #expect(alice.frame.text(row: 0).contains("session s (closed, read-only)"))
    alice.dispatch(key(.enter))
    alice.dispatch(key("2"))
    #expect(alice.frame.text(row: 39).contains("Session s is closed and read-only"))
    alice.dispatch(key("m"))
    #expect(alice.state.screen == .caseView)
    #expect(try ws.store.currentLabels(session: "s", viewer: .system).isEmpty)
  }

  @Test func helpListsEveryKeyOfTheNewScreens() throws {
    let ws = try SessionWorkspace(blinded: false, hideModel: false)
    let app = try ws.app("alice")
    app.dispatch(key("A"))
    app.dispatch(key("?"))
    for b in KeyMap.dashboard { #expect(app.frame.contains(b.help), "\(b.help)") }
    app.dispatch(key("x"))
    app.dispatch(key("!"))
    app.dispatch(key("?"))
    for b in KeyMap.triage { #expect(app.frame.contains(b.help), "\(b.help)\n\(app.frame.text)") }
  }
}

/// The keys of `blastview agree --session --json` the dashboard test compares.
struct AgreeSessionJSON: Decodable {
  struct Kappa: Decodable {
    let kappa: Double?
    let ci95: [Double]?
  }
  struct Pair: Decodable {
    let kappa: Double?
    let ci95: [Double]?
  }
  struct Masks: Decodable {
    struct Pooled: Decodable {
      let dice: Double?
      let iou: Double?
    }
    let pooled: Pooled
  }
  struct Model: Decodable {
    struct Macro: Decodable {
      let npv: Double
      let specificity: Double
    }
    let n: Int
    let accuracy: Double?
    let kappa: Double?
    let macro: Macro
  }
  let n_paired: Int?
  let cohen: Kappa
  let weighted: Kappa
  let pairwise: [Pair]
  let specific_agreement: [String: Double?]
  let masks: [Masks]
  let model: Model
}
