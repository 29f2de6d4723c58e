import CaseStore
import Foundation
import Imaging
import TestSupport
import Testing

/// Issue 8 for real, in tmux: two raters in two `blastview review` processes on one
/// workspace, in a blinded, model-hidden session. Each sees only their own labels until they
/// have labelled a case; each sees the other's new labels arrive live; then the dashboard's
/// kappa is what `blastview agree --session --json` prints. Then a lead triages and
/// adjudicates, refused until a rater is given the adjudicator role.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux")))
struct SessionEndToEndTests {
  let bin = EndToEnd.binary ?? ""

  /// A workspace of the 20 BCCD smears made with the CLI, a promoted model that predicted
  /// every case, and a blinded, model-hidden session over cases 1-6 for alice and bob.
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
      (Int64(1)...20).map { id in
        var p = [Double](repeating: 0.1, count: 4)
        p[Int(id % 4)] = 0.7
        return NewPrediction(caseID: id, probabilities: p)
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

  func review(_ ws: String, rater: String, session: Bool = true) -> TmuxSession? {
    let command =
      "\(EndToEnd.shellQuote(bin)) review --workspace \(EndToEnd.shellQuote(ws)) --rater \(rater) --graphics none"
      + (session ? " --session s" : "")
    return TmuxSession(
      columns: 120, rows: 40, command: "sh -c \(EndToEnd.shellQuote(command + "; echo EXIT=$?; sleep 60"))")
  }

  /// The screen now (no scroll-back): what the rater sees.
  func screen(_ t: TmuxSession) -> String { t.capture() }

  func waitOnScreen(_ t: TmuxSession, _ text: String, seconds: Double = 10) -> Bool {
    EndToEnd.waitUntil(seconds: seconds) { screen(t).contains(text) }
  }

  /// "0.474 [-0.054, 1.001]" from the dashboard's line of the pair.
  func pairLine(_ t: TmuxSession) -> (n: Int, kappa: String)? {
    guard let line = screen(t).split(separator: "\n").first(where: { $0.contains("alice × bob") }) else {
      return nil
    }
    let pattern = try! NSRegularExpression(pattern: #"n (\d+)\s+(-?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\])"#)
    let s = String(line)
    guard let m = pattern.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)),
      let n = Range(m.range(at: 1), in: s), let k = Range(m.range(at: 2), in: s)
    else { return nil }
    return (Int(s[n])!, String(s[k]))
  }

  @Test func twoRatersInTwoProcessesThenTheDashboardMatchesAgreeJSON() throws {
    let (dir, ws) = try workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    let alice = try #require(review(ws, rater: "alice"))
    let bob = try #require(review(ws, rater: "bob"))
    #expect(alice.waitFor("session s (0 of 6 labelled)"))
    #expect(bob.waitFor("session s (0 of 6 labelled)"))

    // alice labels cases 1-4: Benign, Pre-B, Pro-B, Early-B.
    alice.send("Enter")
    #expect(waitOnScreen(alice, "Case #1"))
    // These raters stay on a case after labelling it, to see what the label reveals (N; in a
    // session the next case opens by default, FlowEndToEndTests).
    alice.send("N")
    #expect(waitOnScreen(alice, "the case stays open"))
    for (i, k) in ["1", "3", "4", "2"].enumerated() {
      alice.send(k)
      #expect(alice.waitFor("Saved: case #\(i + 1) labelled"))
      if i < 3 {
        alice.send("n")
        #expect(waitOnScreen(alice, "Case #\(i + 2)"))
      }
    }
    #expect(waitOnScreen(alice, "session s (4 of 6 labelled)"))

    // bob's process: alice's labels and the model are hidden until he labels.
    bob.send("Enter")
    #expect(waitOnScreen(bob, "Case #1"))
    bob.send("N")
    #expect(waitOnScreen(bob, "the case stays open"))
    var seen = screen(bob)
    #expect(seen.contains("Other raters: hidden until you label (blinded)"))
    #expect(seen.contains("Model hidden in this session"))
    #expect(!seen.contains("alice B") && !seen.contains("Model v1"))
    bob.send("1")
    #expect(waitOnScreen(bob, "Other raters: alice Benign"))
    #expect(screen(bob).contains("Model v1:"))
    bob.send("n")
    #expect(waitOnScreen(bob, "Case #2"))
    seen = screen(bob)
    #expect(seen.contains("hidden until you label") && !seen.contains("alice P"))
    for (i, k) in ["3", "2", "2"].enumerated() {
      bob.send(k)
      #expect(bob.waitFor("Saved: case #\(i + 2) labelled"))
      if i < 2 {
        bob.send("n")
        #expect(waitOnScreen(bob, "Case #\(i + 3)"))
      }
    }
    // alice is still on case 4, which she labelled: bob's label arrives there live.
    #expect(waitOnScreen(alice, "Other raters: bob Early-B"))

    // The dashboards of both, and agree --json as each of them.
    alice.send("A")
    bob.send("A")
    #expect(waitOnScreen(alice, "alice × bob"))
    #expect(waitOnScreen(bob, "alice × bob"))
    for (t, rater) in [(alice, "alice"), (bob, "bob")] {
      let run = EndToEnd.run([
        bin, "agree", "--workspace", ws, "--session", "s", "--rater", rater, "--weights", "clinical",
        "--json",
      ])
      #expect(run.status == 0)
      let json = try JSONDecoder().decode(AgreeSessionJSON.self, from: Data(run.output.utf8))
      let k = try #require(json.cohen.kappa)
      let ci = try #require(json.cohen.ci95)
      let expected = String(format: "%.3f [%.3f, %.3f]", k, ci[0], ci[1])
      let shown = try #require(pairLine(t))
      #expect(shown.n == 4 && json.n_paired == 4)
      #expect(shown.kappa == expected, "\(rater): dashboard \(shown.kappa), agree --json \(expected)")
      let weighted = try #require(json.weighted.kappa)
      #expect(screen(t).contains(String(format: "%.3f [", weighted)))
    }
    // bob labels case 5 in his process; alice's dashboard follows (bob 5/6) but, blinded on
    // case 5, still compares 4 cases.
    bob.send("Escape")
    #expect(waitOnScreen(bob, "My label: Early-B"))
    bob.send("n")
    #expect(waitOnScreen(bob, "Case #5"))
    bob.send("4")
    #expect(bob.waitFor("Saved: case #5 labelled"))
    #expect(waitOnScreen(alice, "bob 5/6"))
    #expect(pairLine(alice)?.n == 4)

    alice.send("q")
    bob.send("q")
    #expect(alice.waitFor("EXIT=0"))
    #expect(bob.waitFor("EXIT=0"))
    let store = try Workspace.open(path: ws)
    let labels = try store.currentLabels(session: "s", viewer: .system).map {
      "\($0.caseID) \($0.rater) \($0.label)"
    }
    #expect(
      labels == [
        "1 alice Benign", "1 bob Benign", "2 alice Pre-B", "2 bob Pre-B", "3 alice Pro-B", "3 bob Early-B",
        "4 alice Early-B", "4 bob Early-B", "5 bob Pro-B",
      ])
  }

  @Test func triageOrderTheRoleCheckAndAnAdjudication() throws {
    let (dir, ws) = try workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    // Session labels: 1 benign vs malignant, 2 subtype, 3 both against the model.
    for (c, a, b) in [("1", "Benign", "Pro-B"), ("2", "Pre-B", "Pro-B"), ("3", "Benign", "Benign")] {
      #expect(
        EndToEnd.run([
          bin, "annotate", c, "--workspace", ws, "--rater", "alice", "--label", a, "--session", "s",
        ]).status == 0)
      #expect(
        EndToEnd.run([
          bin, "annotate", c, "--workspace", ws, "--rater", "bob", "--label", b, "--session", "s",
        ]).status == 0)
    }
    let queue = EndToEnd.run([
      bin, "triage", "--workspace", ws, "--rater", "lead", "--session", "s", "--json",
    ])
    let json = try #require(try JSONSerialization.jsonObject(with: Data(queue.output.utf8)) as? [String: Any])
    let items = try #require(json["queue"] as? [[String: Any]])
    // Models: case 1 Early-B, 2 Pre-B, 3 Pro-B (0.7 each): 1 and 3 benign vs malignant, 2 subtype.
    #expect(items.map { $0["case"] as? Int } == [1, 3, 2])
    #expect(
      items.map { $0["severity"] as? String } == ["benign_vs_malignant", "benign_vs_malignant", "subtype"])

    let lead = try #require(review(ws, rater: "lead"))
    #expect(lead.waitFor("session s (following, not a rater)"))
    lead.send("!")
    #expect(waitOnScreen(lead, "Triage · s · 3 cases"))
    let rows = screen(lead).split(separator: "\n").filter {
      $0.contains("#") && ($0.contains("benign vs") || $0.contains("subtype"))
    }
    #expect(
      rows.map { $0.split(separator: " ").first { $0.hasPrefix("#") || $0.hasPrefix("▶#") } }.count == 3)
    #expect(rows.first?.contains("#1") == true && rows.last?.contains("#2") == true)
    lead.send("Enter")
    #expect(waitOnScreen(lead, "Refused: only adjudicators adjudicate"))
    let refused = EndToEnd.run([
      bin, "adjudicate", "1", "--workspace", ws, "--rater", "lead", "--label", "Pro-B", "--reason", "x",
    ])
    #expect(refused.status != 0)
    #expect(EndToEnd.run([bin, "rater", "set-role", "lead", "adjudicator", "--workspace", ws]).status == 0)
    lead.send("Enter")
    #expect(waitOnScreen(lead, "Adjudicate case #1"))
    #expect(screen(lead).contains("alice: Benign") && screen(lead).contains("bob: Pro-B"))
    lead.send("4")
    lead.send("r")
    lead.send("-l", "blasts, fine chromatin")
    lead.send("Enter")
    #expect(waitOnScreen(lead, "Reason kept"))
    lead.send("Enter")
    #expect(waitOnScreen(lead, "Adjudicated case #1: Pro-B"))
    #expect(waitOnScreen(lead, "Triage · s · 2 cases"))
    lead.send("q")
    #expect(lead.waitFor("EXIT=0"))
    let store = try Workspace.open(path: ws)
    let j = try #require(try store.adjudications(case: 1, viewer: .system).last)
    #expect(j.label == "Pro-B" && j.reason == "blasts, fine chromatin" && j.adjudicator == "lead")
    let after = EndToEnd.run([
      bin, "triage", "--workspace", ws, "--rater", "lead", "--session", "s", "--json",
    ])
    let left = try #require(try JSONSerialization.jsonObject(with: Data(after.output.utf8)) as? [String: Any])
    #expect((left["queue"] as? [[String: Any]])?.map { $0["case"] as? Int } == [3, 2])
  }
}
