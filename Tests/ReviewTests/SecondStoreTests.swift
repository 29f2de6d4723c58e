import CaseStore
import Foundation
import TestSupport
import Testing

/// A second `CaseStore` on a workspace this process already has open (here: the lead's store
/// and a rater's, as the review tests use them) must not drop the first one's SQLite locks:
/// opening checks the file with plain open/close, and POSIX locks go with any close of the
/// file. Without them, `blastview` processes that write and exit reset the write-ahead log
/// under our connections, and the next read failed with "database disk image is malformed"
/// (found by `SessionCLITests`; fixed in `OpenDatabases`).
@Suite(.enabled(if: EndToEnd.binary != nil))
struct SecondStoreTests {
  @Test func twoStoresInOneProcessSurviveBlastviewProcessesWriting() throws {
    let ws = try SessionWorkspace(blinded: false, hideModel: false)
    let second = try ws.storeFor()
    try second.annotate(case: 1, rater: "alice", label: "Benign", session: "s")
    let bin = EndToEnd.binary!
    #expect(EndToEnd.run([bin, "rater", "add", "dora", "--workspace", ws.path]).status == 0)
    #expect(
      EndToEnd.run([bin, "triage", "--confidence-below", "0.66", "--save-threshold", "--workspace", ws.path])
        .status
        == 0)
    for store in [second, ws.store] {
      #expect(try store.setting("triage_confidence_below") == "0.66")
      #expect(try store.rater(named: "dora") != nil)
      #expect(try store.currentLabels(session: "s", viewer: .system).count == 1)
    }
    try second.annotate(case: 2, rater: "alice", label: "Pro-B", session: "s")
    #expect(try ws.store.currentLabels(session: "s", viewer: .system).count == 2)
    #expect(EndToEnd.run([bin, "doctor", "--workspace", ws.path, "--json"]).status == 0)
  }
}
