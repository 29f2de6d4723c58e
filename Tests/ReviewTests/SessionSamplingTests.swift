import CaseStore
import Foundation
import TestSupport
import Testing

/// Issue 18, item 8: `session create --cases` took only all, split:, class: or a file; a lead
/// who wanted "30 random cases" had to write the file by hand. Now `first:N` and `random:N
/// [--seed S]`, through the real binary; the random draw is checked against a reference
/// computed with `sha256sum` (SHA-256 of "sample:SEED:" and the image's raw digest, the
/// lowest N).
@Suite(.enabled(if: EndToEnd.has("sha256sum", "xxd")))
struct SessionSamplingTests {
  let bin = EndToEnd.binary ?? ""

  func create(_ ws: SessionWorkspace, _ name: String, _ arguments: [String]) -> (
    status: Int32, output: String
  ) {
    EndToEnd.run(
      [bin, "session", "create", "--workspace", ws.path, name, "--raters", "alice,bob", "--json"] + arguments)
  }

  func cases(_ ws: SessionWorkspace, _ name: String) throws -> [Int64] {
    try ws.storeFor().sessionQueue(session: name, rater: "alice").sorted()
  }

  /// The reference draw, outside Swift: each case's rank from sha256sum, the lowest n.
  func reference(_ ws: SessionWorkspace, n: Int, seed: String) throws -> [Int64] {
    var ranked: [(String, Int64)] = []
    for id in Int64(1)...20 {
      let sha = try ws.store.caseRecord(id: id, viewer: .system).sha256
      let run = EndToEnd.run([
        "sh", "-c",
        "(printf '%s' \(EndToEnd.shellQuote("sample:\(seed):")); printf '%s' \(sha) | xxd -r -p) | sha256sum",
      ])
      ranked.append((String(run.output.prefix(16)), id))
    }
    return ranked.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.prefix(n).map(\.1).sorted()
  }

  @Test func firstAndRandomSelectionsOnTheCommandLine() throws {
    let ws = try SessionWorkspace(blinded: false, hideModel: false)
    #expect(create(ws, "f", ["--cases", "first:3"]).status == 0)
    #expect(try cases(ws, "f") == [1, 2, 3])
    #expect(try ws.store.session(named: "f").caseSelection == "first:3")

    #expect(create(ws, "r1", ["--cases", "random:5", "--seed", "7"]).status == 0)
    #expect(create(ws, "r2", ["--cases", "random:5", "--seed", "7"]).status == 0)
    #expect(create(ws, "r3", ["--cases", "random:5", "--seed", "8"]).status == 0)
    let drawn = try cases(ws, "r1")
    #expect(drawn.count == 5)
    #expect(drawn == (try reference(ws, n: 5, seed: "7")))
    #expect(try cases(ws, "r2") == drawn, "the same seed draws the same cases")
    #expect(try cases(ws, "r3") == (try reference(ws, n: 5, seed: "8")))
    #expect(try ws.store.session(named: "r1").caseSelection == "random:5 seed 7")
    // Without --seed, the session's name seeds the draw.
    #expect(create(ws, "named", ["--cases", "random:4"]).status == 0)
    #expect(try cases(ws, "named") == (try reference(ws, n: 4, seed: "named")))

    // Bad values are refused, naming the value.
    var bad = create(ws, "x", ["--cases", "random:zero"])
    #expect(bad.status != 0)
    bad = EndToEnd.run([
      bin, "session", "create", "--workspace", ws.path, "x", "--raters", "a", "--cases", "all", "--seed", "3",
    ])
    #expect(bad.status != 0)
  }
}
