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
    // Every other format and option: nothing of case 1 but what Ben may see (its id, size and
    // hash), neither Ana's label, her note, her mask, nor the reference label of its folder.
    func ben(_ format: String, _ extra: [String] = [], out: String) throws {
      let r = try OSUsers.shell(
        OSUsers.builtBinary,
        ["export", "--workspace", base + "/ben", "--format", format, "--out", out] + extra)
      try #require(r.status == 0, "\(format) \(extra): \(r.err)")
    }
    try ben("json", out: base + "/ben-json")
    let dumpData = try Data(contentsOf: URL(fileURLWithPath: base + "/ben-json/blastview-export.json"))
    let dump = try #require(try JSONSerialization.jsonObject(with: dumpData) as? [String: Any])
    let dumped = try #require(dump["annotations"] as? [[String: Any]])
    #expect(
      dumped.map { "\($0["caseID"] ?? "") \($0["rater"] ?? "")" }.sorted() == [
        "\(c[1]) bvana", "\(c[1]) bvben",
      ], "\(dumped)")
    #expect((dump["masks"] as? [String: Any])?.isEmpty == true, "\(dump["masks"] ?? "")")
    let dumpText = String(decoding: dumpData, as: UTF8.self)
    #expect(!dumpText.contains("secret"), "\(dumpText)")
    let case1 = try #require((dump["cases"] as? [[String: Any]])?.first { $0["id"] as? Int64 == c[0] })
    #expect(case1["referenceLabel"] == nil && case1["path"] as? String == "case-\(c[0])", "\(case1)")
    for final in [false, true] {
      let out = base + "/ben-coco-\(final)"
      try ben("coco", final ? ["--final", "--include-reference"] : [], out: out)
      let coco = try #require(
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/coco.json")))
          as? [String: Any])
      #expect((coco["annotations"] as? [Any])?.isEmpty == true, "final \(final): \(coco)")
    }
    try ben("masks", ["--final", "--include-reference"], out: base + "/ben-final")
    let finalCSV = try String(contentsOfFile: base + "/ben-final/masks/final.csv", encoding: .utf8)
    #expect(finalCSV.contains("\(c[0]),,none,,,blinded for the exporting rater"), "\(finalCSV)")
    #expect(
      ((try? FileManager.default.contentsOfDirectory(atPath: base + "/ben-final/masks/final")) ?? []).isEmpty)
    let cases = try String(contentsOfFile: base + "/ben-out/cases.csv", encoding: .utf8)
    let case1Row = try #require(cases.split(separator: "\n").first { $0.hasPrefix("\(c[0]),") })
    #expect(case1Row.hasPrefix("\(c[0]),case-\(c[0]),") && !case1Row.contains("-B"), "\(cases)")
    #expect(cases.contains("\(c[1]),") && cases.contains("Pro-B") && cases.contains("Benign"), "\(cases)")

    // Once Ben labels case 1 the same exports carry Ana's label and mask of it.
    try f.store(f.ben).annotate(
      case: c[0], rater: f.ben, label: "Pre-B", mask: nil, session: "s1", clear: [], note: nil)
    try ben("coco", out: base + "/ben-coco-after")
    let after = try #require(
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: base + "/ben-coco-after/coco.json"))) as? [String: Any])
    let instances = (after["annotations"] as? [[String: Any]]) ?? []
    #expect(!instances.isEmpty && instances.allSatisfy { $0["rater"] as? String == f.ana }, "\(after)")
    try ben("csv", out: base + "/ben-after")
    let casesAfter = try String(contentsOfFile: base + "/ben-after/cases.csv", encoding: .utf8)
    #expect(casesAfter.contains("\(c[0]),") && casesAfter.contains("Early-B"), "\(casesAfter)")

    // The service role exports everything, the mask as stored.
    let service = try PostgresStore.open(pg.url(f.databaseName, as: "blastview"))
    let all = try service.export(
      ExportOptions(format: .csv, outDirectory: base + "/all", viewer: .rater("blastview")))
    #expect(all.annotations == 4)
    let masks = try service.export(
      ExportOptions(format: .masks, outDirectory: base + "/all", session: "s1", viewer: .rater("blastview")))
    #expect(masks.files.map { ($0 as NSString).lastPathComponent } == ["\(c[0])_bvana.png"])
    let written = try decodeMask(at: masks.files[0])
    #expect(written.values == mask.values && written.width == mask.width)
  }
}
