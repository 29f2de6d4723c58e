import CaseStore
import Foundation
import Testing

/// Nothing acknowledged is lost: 20 `blastview annotate` processes at once against the shared
/// workspace, some killed with SIGKILL at random moments; every write a process acknowledged
/// (exit 0 and its JSON printed, which happens only after COMMIT) is in the database, and
/// each (case, rater) history is still one unbroken chain.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct KillWritersTests {
  struct Ack: Decodable {
    var id: Int64
    var caseID: Int64
    var rater: String
    var label: String?
  }

  @Test func killedWritersLoseNothingAcknowledged() throws {
    let f = try ContractFixture(.postgres)
    let pg = try PGTestCluster.require()
    let db = f.databaseName
    let base = NSTemporaryDirectory() + "bv-kill-\(UUID().uuidString)"
    let raters = [f.lead, f.ana, f.ben]
    for r in raters {
      let p = try OSUsers.shell(
        OSUsers.builtBinary, ["init", "--workspace", base + "/" + r, "--database", pg.url(db, as: r)])
      #expect(p.status == 0, "\(p.err)")
    }
    let labels = ["Benign", "Early-B", "Pre-B", "Pro-B"]
    var generator = SystemRandomNumberGenerator()
    var acknowledged: [Ack] = []
    var killed = 0
    for _ in 0..<3 {
      var running: [(Process, Pipe)] = []
      for _ in 0..<20 {
        let rater = raters.randomElement(using: &generator)!
        let p = Process()
        p.executableURL = URL(fileURLWithPath: OSUsers.builtBinary)
        p.arguments = [
          "annotate", String(f.cases.randomElement(using: &generator)!), "--label",
          labels.randomElement(using: &generator)!, "--workspace", base + "/" + rater, "--json",
        ]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        running.append((p, out))
      }
      // Kill half of them at random moments while they connect, write and commit.
      for (p, _) in running.shuffled(using: &generator).prefix(10) {
        usleep(UInt32.random(in: 0...60_000, using: &generator))
        if p.isRunning {
          kill(p.processIdentifier, SIGKILL)
          killed += 1
        }
      }
      for (p, out) in running {
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationReason == .exit && p.terminationStatus == 0 {
          acknowledged.append(try JSONDecoder().decode(Ack.self, from: data))
        }
      }
    }
    #expect(acknowledged.count >= 20, "too few writes finished to test anything: \(acknowledged.count)")
    let service = try PGConnection(pg.url(db, as: "blastview"))
    for a in acknowledged {
      let row = try service.query(
        "SELECT a.case_id, r.name, a.label FROM blastview.annotation a JOIN blastview.rater r ON r.id = a.rater_id "
          + "WHERE a.id = $1", [.int(a.id)]
      ).first
      #expect(
        row?.int("case_id") == a.caseID && row?["name"] == a.rater && row?["label"] == a.label, "lost \(a)")
    }
    // One chain per (case, rater): one root, every other row supersedes a row of the same pair,
    // and the current annotation is the newest.
    let broken = try service.query(
      """
      SELECT
        (SELECT count(*) FROM (SELECT case_id, rater_id FROM blastview.annotation WHERE supersedes IS NULL
                               GROUP BY case_id, rater_id HAVING count(*) <> 1) x) AS roots,
        (SELECT count(*) FROM blastview.annotation a LEFT JOIN blastview.annotation p ON p.id = a.supersedes
         WHERE a.supersedes IS NOT NULL AND (p.id IS NULL OR p.case_id <> a.case_id OR p.rater_id <> a.rater_id)) AS links,
        (SELECT count(*) FROM blastview.current_annotation c
         WHERE c.annotation_id <> (SELECT max(id) FROM blastview.annotation a
                                   WHERE a.case_id = c.case_id AND a.rater_id = c.rater_id)) AS stale
      """
    ).first
    #expect(
      broken?["roots"] == "0" && broken?["links"] == "0" && broken?["stale"] == "0",
      "\(String(describing: broken))")
    // The audit chain survived the kills and the parallel commits: one line, nothing unsealed.
    let chain = try PostgresStore.open(pg.url(db, as: f.ana)).verifyAuditChain()
    #expect(chain.ok, "\(chain)")
    print(
      "kill -9 writers: \(acknowledged.count) acknowledged, \(killed) killed, none lost, \(chain.links) links intact"
    )
  }
}
