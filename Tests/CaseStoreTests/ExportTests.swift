import Foundation
import GRDB
import Imaging
import Testing

@testable import CaseStore

@Suite struct ExportTests {
  struct RLEFixture: Decodable {
    struct Item: Decodable {
      struct Comp: Decodable, Equatable {
        var counts: String
        var area: Int
        var bbox: [Int]
      }
      var name: String
      var height: Int
      var width: Int
      var rows: [String]
      var components: [Comp]
    }
    var masks: [Item]
  }

  @Test func cocoRLEMatchesPycocotoolsByteForByte() throws {
    let url = Bundle.module.url(forResource: "coco_rle", withExtension: "json", subdirectory: "Fixtures")!
    let f = try JSONDecoder().decode(RLEFixture.self, from: Data(contentsOf: url))
    #expect(f.masks.count == 11)
    for item in f.masks {
      var m = Mask(width: item.width, height: item.height)
      for (y, row) in item.rows.enumerated() {
        for (x, ch) in row.enumerated() where ch == "1" { m[x, y] = 255 }
      }
      let got = COCORLE.instances(of: m).map {
        RLEFixture.Item.Comp(counts: $0.rle, area: $0.area, bbox: $0.bbox)
      }
      #expect(got == item.components, "\(item.name)")
    }
  }

  func populated(_ dir: TempDir) throws -> CaseStore {
    let store = try makeStore(dir, cases: 4)
    try store.annotate(
      case: 1, rater: "ana", label: "Pre-B", mask: squareMask(8, 8, x: 0, y: 0, size: 3), note: "first, look")
    try store.annotate(case: 1, rater: "ana", label: "Pro-B")
    try store.annotate(case: 2, rater: "b/en x", label: "Benign", mask: squareMask(8, 8, x: 5, y: 5, size: 3))
    try store.createSession(
      name: "s", raters: ["ana", "carl"], cases: .ids([3, 4]), blinded: true, hideModel: true,
      createdBy: "lead")
    try store.annotate(
      case: 3, rater: "carl", label: "Early-B", mask: squareMask(8, 8, x: 1, y: 1, size: 2), session: "s")
    return store
  }

  @Test func csvHasOneRowPerAnnotationAndRespectsFilters() throws {
    let dir = TempDir()
    let store = try populated(dir)
    let s = try store.export(ExportOptions(format: .csv, outDirectory: dir.sub("out"), viewer: .system))
    let table = CSV.parse(try String(contentsOfFile: s.files[0], encoding: .utf8))
    #expect(
      Array(table[0].prefix(7)) == [
        "case_id", "image_path", "sha256", "rater", "label", "session", "created_at",
      ])
    #expect(table.count == 5 && s.annotations == 4)
    #expect(
      table[1][0] == "1" && table[1][1] == "/images/case0.png" && table[1][3] == "ana"
        && table[1][4] == "Pre-B")
    #expect(table[1][11] == "first, look")  // a comma inside a field survives quoting
    #expect(table[4][5] == "s")
    let current = try store.export(
      ExportOptions(format: .csv, outDirectory: dir.sub("cur"), currentOnly: true, viewer: .system))
    #expect(current.annotations == 3)
    let session = try store.export(
      ExportOptions(format: .csv, outDirectory: dir.sub("ses"), session: "s", viewer: .system))
    #expect(session.annotations == 1)
    // Blinding applies: ana has not labelled case 3 in the blinded session.
    let blinded = try store.export(
      ExportOptions(format: .csv, outDirectory: dir.sub("ana"), viewer: .rater("ana")))
    #expect(blinded.annotations == 3)
  }

  @Test func masksAndCOCOExportCurrentMasks() throws {
    let dir = TempDir()
    let store = try populated(dir)
    let m = try store.export(ExportOptions(format: .masks, outDirectory: dir.sub("m"), viewer: .system))
    let names = m.files.map { ($0 as NSString).lastPathComponent }.sorted()
    #expect(names == ["1_ana.png", "2_b%2Fen%20x.png", "3_carl.png"])
    for file in m.files {
      let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
      #expect(try decodeMask(data: png, name: file).values.contains(255))
    }
    let c = try store.export(ExportOptions(format: .coco, outDirectory: dir.sub("c"), viewer: .system))
    #expect(c.instances == 3)
    let doc = try JSONDecoder().decode(
      JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: c.files[0])))
    guard case .array(let anns) = doc["annotations"], case .array(let images) = doc["images"] else {
      Issue.record("no annotations")
      return
    }
    #expect(anns.count == 3 && images.count == 3)
    #expect(anns[0]["bbox"] == .array([.number(0), .number(0), .number(3), .number(3)]))
    #expect(anns[0]["area"] == .number(9) && anns[0]["case_label"] == .string("Pro-B"))
  }

  @Test func jsonDumpIsCompleteAndBlindingAppliesToIt() throws {
    let dir = TempDir()
    let store = try populated(dir)
    let s = try store.export(ExportOptions(format: .json, outDirectory: dir.sub("j"), viewer: .system))
    let doc = try JSONDecoder().decode(
      JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: s.files[0])))
    guard case .array(let anns) = doc["annotations"], case .array(let cases) = doc["cases"],
      case .object(let masks) = doc["masks"]
    else {
      Issue.record("bad dump")
      return
    }
    #expect(anns.count == 4 && cases.count == 4 && masks.count == 3)
    let a = try store.export(ExportOptions(format: .json, outDirectory: dir.sub("a"), viewer: .rater("ana")))
    let adoc = try JSONDecoder().decode(
      JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: a.files[0])))
    guard case .array(let aanns) = adoc["annotations"], case .array(let acases) = adoc["cases"] else {
      return
    }
    #expect(aanns.count == 3)
    #expect(acases[2]["referenceLabel"] == nil)  // case 3's import label hidden from ana
    #expect(acases[0]["referenceLabel"] == .string("Benign"))
  }

  @Test func labelsImportIsAllOrNothingWithLineNumbers() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 3)
    let bad = dir.sub("bad.csv")
    try "case,rater,label\n1,ana,Pre-B\n2,ana,Mega-B\n\n99,ana,Benign\n3,ana\n".write(
      toFile: bad, atomically: true, encoding: .utf8)
    do {
      _ = try store.importLabels(csvPath: bad, session: nil)
      Issue.record("accepted bad rows")
    } catch {
      let text = error.description
      #expect(
        text.contains("line 3") && text.contains("Mega-B") && text.contains("line 5")
          && text.contains("line 6"))
      #expect(!text.contains("line 2"))
      #expect(text.contains("nothing was imported"))
    }
    #expect(try store.latestAnnotationID() == 0)
    let good = dir.sub("good.csv")
    let sha = try store.caseRecord(id: 2, viewer: .system).sha256
    try "rater,case,label\r\nana,1,early_pre_b\r\n\"ben\",\(sha.prefix(10)),pro\r\n".write(
      toFile: good, atomically: true, encoding: .utf8)
    let made = try store.importLabels(csvPath: good, session: nil)
    #expect(made.map(\.label) == ["Early-B", "Pro-B"] && made.map(\.caseID) == [1, 2])
  }

  @Test func backupIsAConsistentCopyAndNeverOverwrites() throws {
    let dir = TempDir()
    let store = try populated(dir)
    try store.backup(to: dir.sub("backup.db"))
    #expect(throws: StoreError.self) { try store.backup(to: dir.sub("backup.db")) }
    // The backup opens as a workspace with the same history.
    try FileManager.default.createDirectory(atPath: dir.sub("restored"), withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: dir.sub("backup.db"), toPath: dir.sub("restored/blastview.db"))
    let restored = try Workspace.open(path: dir.sub("restored"))
    #expect(try restored.history(case: 1, viewer: .system) == (try store.history(case: 1, viewer: .system)))
    #expect(try restored.sessions().map(\.name) == ["s"])
  }
}
