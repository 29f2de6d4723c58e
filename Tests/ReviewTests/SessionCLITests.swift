import CaseStore
import Foundation
import Imaging
import TestSupport
import Testing

/// The command-line side of triage: `rater`, `triage` and `adjudicate`.
@Suite(.enabled(if: EndToEnd.binary != nil))
struct SessionCLITests {
  let bin = EndToEnd.binary ?? ""

  @Test func ratersRolesTriageAndAdjudicationFromTheCommandLine() throws {
    let ws = try SessionWorkspace(blinded: false, hideModel: false)
    let s = try ws.storeFor()
    try s.annotate(
      case: 1, rater: "alice", label: "Benign", mask: squareMask(x: 20, y: 20, size: 10), session: "s")
    try s.annotate(case: 1, rater: "bob", label: "Pro-B", session: "s")
    let w = ["--workspace", ws.path]

    var r = EndToEnd.run([bin, "rater", "add", "dora", "--role", "adjudicator"] + w)
    #expect(r.status == 0 && r.output.contains("Added rater dora with the role adjudicator"))
    r = EndToEnd.run([bin, "rater", "add", "alice", "--role", "adjudicator"] + w)
    #expect(r.status != 0)
    r = EndToEnd.run([bin, "rater", "list"] + w)
    #expect(r.output.contains("alice  rater") && r.output.contains("dora  adjudicator"))

    r = EndToEnd.run([bin, "triage", "--rater", "dora", "--session", "s", "--confidence-below", "0.5"] + w)
    #expect(r.status == 0)
    #expect(r.output.contains("1 case(s)"))
    #expect(
      r.output.contains(
        "benign_vs_malignant  raters disagree, rater vs model  alice Benign, bob Pro-B  Early-B 0.50"))
    // The threshold saved as the workspace default is what the review app's triage starts from.
    r = EndToEnd.run([bin, "triage", "--confidence-below", "0.66", "--save-threshold"] + w)
    #expect(try ws.store.setting("triage_confidence_below") == "0.66")
    let app = try ws.app("alice")
    #expect(app.state.triageConfidence == 0.66)

    // Refused without the role; with it, the final mask taken from alice's.
    r = EndToEnd.run(
      [bin, "adjudicate", "1", "--rater", "bob", "--label", "Pro-B", "--reason", "blasts"] + w)
    #expect(r.status != 0)
    #expect(try ws.store.adjudications(case: 1, viewer: .system).isEmpty)
    r = EndToEnd.run(
      [
        bin, "adjudicate", "1", "--rater", "dora", "--label", "pro", "--reason", "blasts", "--mask-from",
        "alice",
        "--session", "s",
      ] + w)
    #expect(r.status == 0 && r.output.contains("case 1 is Pro-B with a mask"))
    let j = try #require(try ws.store.adjudications(case: 1, viewer: .system).last)
    #expect(try ws.store.mask(id: try #require(j.maskID)) == squareMask(x: 20, y: 20, size: 10))
    r = EndToEnd.run(
      [bin, "triage", "--rater", "dora", "--session", "s", "--confidence-below", "0.5", "--json"] + w)
    #expect(r.output.contains("\"n\": 0"))
  }
}
