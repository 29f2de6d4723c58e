import CaseStore
import Foundation
import Testing

/// Issue 18, item 5: `blastview model list|show|promote|rollback` (before, only the review app's
/// model screen could promote or roll back; on the previous binary `model` is no command).
@Suite(.serialized) struct ModelRegistryCommandTests {
  typealias M = ModelCommandTests

  static func noRawControls(_ text: String) -> Bool {
    !text.unicodeScalars.contains { s in
      (s.value < 0x20 && s.value != 0x0A) || s.value == 0x7F || (0x80...0x9F).contains(s.value)
    }
  }

  @Test func listShowPromoteAndRollBackOnTheCommandLine() throws {
    let dir = M.folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ws = dir + "/ws"
    #expect(try M.run(["init", "--workspace", ws, "--schema", "all4"]).status == 0)
    // A retraining's candidate the gate did not promote (a proposal), with hostile notes.
    let store = try Workspace.open(path: ws)
    let shipped = M.repository.appendingPathComponent("Models/all4.safetensors").path
    let gate: JSONValue = .object([
      "gate": .object([
        "promote": .bool(false),
        "reason": .string("only 5 labelled validation cases (at least 20 needed): proposed, not promoted"),
      ])
    ])
    try store.registerModel(
      file: shipped, parent: 1, tasks: ["cls", "seg"], trainedTasks: ["cls"], frozenTasks: ["seg"],
      frozenVerified: true, metrics: gate, notes: "not promoted \u{1B}]0;pwned\u{07}")

    var r = try M.run(["model", "list", "--workspace", ws])
    #expect(r.status == 0, "\(r.err)")
    let lines = r.out.split(separator: "\n").map(String.init)
    #expect(
      lines.first?.hasPrefix("v2 · parent v1 · tasks cls, seg; trained cls; frozen seg") == true, "\(r.out)")
    #expect(r.out.contains("gate failed: only 5 labelled validation cases (at least 20 needed)"))
    #expect(r.out.contains("v1 (promoted) · no parent"))

    r = try M.run(["model", "show", "v2", "--workspace", ws])
    #expect(
      r.status == 0 && r.out.contains("frozen tasks verified bit for bit") && r.out.contains("never promoted")
    )
    #expect(r.out.contains("predictions: 0 of 0 cases"), "\(r.out)")

    // A lead confirms the proposal.
    r = try M.run([
      "model", "promote", "2", "--rater", "lead", "--reason", "reviewed the gate", "--workspace", ws,
    ])
    #expect(r.status == 0 && r.out.contains("Promoted v2 (was v1) by lead"), "\(r.err)")
    #expect(try store.promotedModel()?.version == 2)
    #expect(try store.modelPromotions().first?.reason == "reviewed the gate")
    r = try M.run(["model", "promote", "2", "--workspace", ws])
    #expect(r.status != 0 && r.err.contains("v2 is already the promoted model"))
    r = try M.run(["model", "list", "--json", "--workspace", ws])
    let listed = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
    #expect(listed.map { $0["version"] as? Int } == [2, 1])
    #expect(listed.map { $0["isPromoted"] as? Bool } == [true, false], "\(r.out)")

    // Roll back to the parent, recorded with who and why.
    r = try M.run(["model", "rollback", "--rater", "lead", "--workspace", ws])
    #expect(r.status == 0 && r.out.contains("Rolled back to v1 (was v2) by lead"), "\(r.err)")
    #expect(try store.promotedModel()?.version == 1)
    #expect(try store.modelPromotions().first?.reason == "rolled back from v2 by lead on the command line")
    // v1 has no parent: a second roll back returns to the version promoted before it.
    r = try M.run(["model", "rollback", "--rater", "lead", "--workspace", ws])
    #expect(r.status == 0 && r.out.contains("Rolled back to v2 (was v1)"), "\(r.err)")

    // Errors name the value; nothing from the registry reaches the terminal raw.
    r = try M.run(["model", "show", "9", "--workspace", ws])
    #expect(r.status != 0 && r.err.contains("9"))
    r = try M.run(["model", "promote", "x2", "--workspace", ws])
    #expect(r.status != 0 && r.err.contains("not x2"))
    try store.updateModel(version: 2, metrics: .object([:]))
    r = try M.run(["model", "list", "--workspace", ws])
    #expect(r.status == 0 && r.out.contains("    not promoted"), "\(r.out)")
    #expect(Self.noRawControls(r.out), "\(r.out.debugDescription)")
  }
}
