import CaseStore
import Foundation
import Imaging
import Testing

/// `export` on a shared workspace goes through the server's functions as the connected role:
/// a rater's export holds what `blastview` would show him and nothing the blinding hides.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct SharedExportTests {
  @Test func aRatersExportHasNoBlindedLabelOrMaskOfAnother() throws {
    let f = try ContractFixture(.postgres)
    let pg = try PGTestCluster.require()
    let c = f.cases
    try f.store(f.lead).createSession(
      name: "s1", raters: [f.ana, f.ben], cases: .ids([c[0], c[1]]), blinded: true, hideModel: false,
      createdBy: f.lead)
    let record = try f.store(f.ana).caseRecord(id: c[0], viewer: .rater(f.ana))
    var mask = Mask(width: record.width, height: record.height)
    for i in 0..<(record.width * 4) { mask.values[i] = 255 }
    // Ana labels both cases (a mask on the first); Ben labels only the second, so he is still
    // blinded for the first.
    try f.store(f.ana).annotate(
      case: c[0], rater: f.ana, label: "Early-B", mask: mask, session: "s1", clear: [], note: "ana's secret")
    try f.store(f.ana).annotate(
      case: c[1], rater: f.ana, label: "Pro-B", mask: nil, session: "s1", clear: [], note: nil)
    try f.store(f.ben).annotate(
      case: c[1], rater: f.ben, label: "Benign", mask: nil, session: "s1", clear: [], note: nil)

    // Ben exports through the binary (root connects as bvben through pg_ident).
    let base = NSTemporaryDirectory() + "bv-export-\(UUID().uuidString)"
    let made = try OSUsers.shell(
      OSUsers.builtBinary,
      ["init", "--workspace", base + "/ben", "--database", pg.url(f.databaseName, as: f.ben)])
    try #require(made.status == 0, "\(made.err)")
    for format in ["csv", "masks"] {
      let r = try OSUsers.shell(
        OSUsers.builtBinary,
        ["export", "--workspace", base + "/ben", "--format", format, "--out", base + "/ben-out"])
      #expect(r.status == 0, "\(format): \(r.err)")
    }
    let csv = try String(contentsOfFile: base + "/ben-out/annotations.csv", encoding: .utf8)
    let rows = csv.split(separator: "\n").dropFirst().map {
      $0.split(separator: ",", omittingEmptySubsequences: false)
    }
    // Ana's label of case 2 (Ben labelled it) and Ben's own; nothing of case 1.
    #expect(
      rows.map { "\($0[0]) \($0[3]) \($0[4])" }.sorted() == ["\(c[1]) bvana Pro-B", "\(c[1]) bvben Benign"],
      "\(csv)")
    #expect(!csv.contains("Early-B") && !csv.contains("secret"), "\(csv)")
    let benMasks = (try? FileManager.default.contentsOfDirectory(atPath: base + "/ben-out/masks")) ?? []
    #expect(benMasks.isEmpty, "ben got \(benMasks)")
    let refused = try OSUsers.shell(
      OSUsers.builtBinary, ["export", "--workspace", base + "/ben", "--format", "json", "--out", base + "/x"])
    #expect(refused.status != 0 && refused.err.contains("csv and masks are"), "\(refused)")

    // The service role exports everything, the mask as stored.
    let service = try PostgresStore.open(pg.url(f.databaseName, as: "blastview"))
    let all = try service.export(
      ExportOptions(format: .csv, outDirectory: base + "/all", viewer: .rater("blastview")))
    #expect(all.annotations == 3)
    let masks = try service.export(
      ExportOptions(format: .masks, outDirectory: base + "/all", session: "s1", viewer: .rater("blastview")))
    #expect(masks.files.map { ($0 as NSString).lastPathComponent } == ["\(c[0])_bvana.png"])
    let written = try decodeMask(at: masks.files[0])
    #expect(written.values == mask.values && written.width == mask.width)
  }
}
