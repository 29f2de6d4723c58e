import Foundation
import Imaging
import Testing

@testable import CaseStore

/// Issue 18, item 4: masks and COCO exports carry the decision (`--final`: the adjudicated
/// mask, else the agreed one, else the reference, and which per case), the imported masks on
/// request (`--include-reference`), COCO `file_name` relative to the image root and the class
/// as a COCO category. Through the real binary: on the previous binary `--final` and
/// `--include-reference` are unknown options and `file_name` is absolute.
@Suite(.serialized) struct FinalExportTests {
  /// A 12 × 9 mask with the rectangle [x, x+w) × [y, y+h) set.
  static func rect(x: Int, y: Int, w: Int, h: Int) -> Mask {
    var m = Mask(width: 12, height: 9)
    for yy in y..<(y + h) { for xx in x..<(x + w) { m[xx, yy] = 255 } }
    return m
  }

  static func writeMask(_ m: Mask, _ path: String) throws {
    try ImportTests.write(encodePNG(m), path)
  }

  static func readMask(_ path: String) throws -> Mask {
    try decodeMask(data: [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), name: path)
  }

  /// Four cases: 1 adjudicated with a mask, 2 two raters agreeing closely, 3 two raters
  /// disagreeing (falls to the reference), 4 no mask at all. Cases 1-3 came with a reference.
  static func workspace(_ dir: TempDir) throws -> (ws: String, data: String) {
    let data = dir.sub("data")
    let refs = dir.sub("refs")
    for (i, name) in ["Pre/a", "Pro/b", "Benign/c", "Early/d"].enumerated() {
      try ImportTests.write(ImportTests.png(i + 1), data + "/\(name).png")
    }
    for stem in ["a", "b", "c"] { try writeMask(rect(x: 0, y: 0, w: 2, h: 2), refs + "/\(stem).png") }
    let ws = dir.sub("ws")
    var r = try CLITests.run(["init", "--workspace", ws, "--no-model"])
    #expect(r.status == 0, "\(r.all)")
    r = try CLITests.run([
      "import", data, "--labels-from-folders", "--masks", refs, "--image-root", data, "--workspace", ws,
    ])
    #expect(r.status == 0 && r.out.contains("with mask: 3"), "\(r.all)")
    let store = try Workspace.open(path: ws)
    func id(_ name: String) throws -> String { String(try store.resolveCase(data + "/" + name + ".png")) }
    func annotate(_ c: String, _ rater: String, _ label: String, _ m: Mask) throws {
      let file = dir.sub("m-\(c)-\(rater).png")
      try writeMask(m, file)
      let r = try CLITests.run([
        "annotate", c, "--label", label, "--mask", file, "--rater", rater, "--workspace", ws,
      ])
      #expect(r.status == 0, "\(r.all)")
    }
    // Case a: raters disagree on the class; the adjudicator decides with ana's mask.
    try annotate(try id("Pre/a"), "ana", "Pre-B", rect(x: 4, y: 4, w: 3, h: 3))
    try annotate(try id("Pre/a"), "ben", "Pro-B", rect(x: 8, y: 1, w: 2, h: 2))
    r = try CLITests.run(["rater", "add", "lead", "--role", "adjudicator", "--workspace", ws])
    #expect(r.status == 0, "\(r.all)")
    r = try CLITests.run([
      "adjudicate", try id("Pre/a"), "--label", "Pre-B", "--reason", "chromatin fine", "--mask-from", "ana",
      "--rater", "lead", "--workspace", ws,
    ])
    #expect(r.status == 0, "\(r.all)")
    // Case b: 4x4 and 4x3 squares: Dice 2*12/(16+12) = 0.857 >= 0.8, agreed = the 4x3 rows.
    try annotate(try id("Pro/b"), "ana", "Pro-B", rect(x: 2, y: 2, w: 4, h: 4))
    try annotate(try id("Pro/b"), "ben", "Pro-B", rect(x: 2, y: 2, w: 4, h: 3))
    // Case c: far apart: no agreement, the reference mask decides.
    try annotate(try id("Benign/c"), "ana", "Benign", rect(x: 0, y: 5, w: 3, h: 3))
    try annotate(try id("Benign/c"), "ben", "Benign", rect(x: 8, y: 0, w: 3, h: 3))
    return (ws, data)
  }

  @Test func masksFinalWritesTheDecisionAndSaysWhichPerCase() throws {
    try #require(FileManager.default.isExecutableFile(atPath: CLITests.binary), "blastview not built")
    let dir = TempDir()
    let (ws, data) = try Self.workspace(dir)
    let store = try Workspace.open(path: ws)
    let a = try store.resolveCase(data + "/Pre/a.png")
    let b = try store.resolveCase(data + "/Pro/b.png")
    let c = try store.resolveCase(data + "/Benign/c.png")
    let d = try store.resolveCase(data + "/Early/d.png")
    let out = dir.sub("out")
    let r = try CLITests.run([
      "export", "--format", "masks", "--final", "--include-reference", "--out", out, "--workspace", ws,
    ])
    #expect(r.status == 0, "\(r.all)")
    #expect(
      r.out.contains("Final masks by source: 1 adjudication, 1 agreement, 1 reference, 1 none"), "\(r.out)")
    #expect(try Self.readMask(out + "/masks/final/\(a).png") == Self.rect(x: 4, y: 4, w: 3, h: 3))
    #expect(try Self.readMask(out + "/masks/final/\(b).png") == Self.rect(x: 2, y: 2, w: 4, h: 3))
    #expect(try Self.readMask(out + "/masks/final/\(c).png") == Self.rect(x: 0, y: 0, w: 2, h: 2))
    #expect(!FileManager.default.fileExists(atPath: out + "/masks/final/\(d).png"))
    // Per-rater files are not mixed in: the final folder is the decision.
    #expect(!FileManager.default.fileExists(atPath: out + "/masks/\(a)_ana.png"))
    let table = CSV.parse(try String(contentsOfFile: out + "/masks/final.csv", encoding: .utf8))
    #expect(table[0] == ["case_id", "file", "source", "by", "lowest_pair_dice", "note"])
    let rows = Dictionary(uniqueKeysWithValues: table.dropFirst().map { ($0[0], $0) })
    #expect(rows[String(a)]?[2] == "adjudication" && rows[String(a)]?[3] == "lead")
    #expect(rows[String(b)]?[2] == "agreement" && rows[String(b)]?[3] == "ana;ben")
    #expect(rows[String(b)]?[4] == String(format: "%.4f", 24.0 / 28.0))
    #expect(rows[String(c)]?[2] == "reference" && rows[String(c)]?[5].contains("disagree") == true)
    #expect(rows[String(d)]?[2] == "none" && rows[String(d)]?[5].contains("no mask") == true)
    // --include-reference: the imported masks of the three cases that had one.
    for id in [a, b, c] {
      #expect(try Self.readMask(out + "/masks/reference/\(id).png") == Self.rect(x: 0, y: 0, w: 2, h: 2))
    }
    #expect(!FileManager.default.fileExists(atPath: out + "/masks/reference/\(d).png"))
    // Options that do not apply are refused by name.
    let bad = try CLITests.run(["export", "--format", "csv", "--final", "--out", out, "--workspace", ws])
    #expect(bad.status != 0 && bad.err.contains("--final applies to --format masks or coco"))
  }

  @Test func cocoNamesImagesRelativeToTheRootAndCarriesTheClassAsCategory() throws {
    try #require(FileManager.default.isExecutableFile(atPath: CLITests.binary), "blastview not built")
    let dir = TempDir()
    let (ws, data) = try Self.workspace(dir)
    let store = try Workspace.open(path: ws)
    let a = try store.resolveCase(data + "/Pre/a.png")
    let b = try store.resolveCase(data + "/Pro/b.png")
    // Raters' masks (the default).
    var r = try CLITests.run(["export", "--format", "coco", "--out", dir.sub("raters"), "--workspace", ws])
    #expect(r.status == 0, "\(r.all)")
    var doc = try JSONDecoder().decode(
      JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: dir.sub("raters/coco.json"))))
    guard case .array(let images) = doc["images"], case .array(let anns) = doc["annotations"],
      case .array(let cats) = doc["categories"]
    else {
      Issue.record("bad coco.json")
      return
    }
    // file_name joins to the image root: a tool with the images in its own folder finds them.
    let names = images.compactMap { i -> String? in if case .string(let s) = i["file_name"] { s } else { nil }
    }
    #expect(names.sorted() == ["Benign/c.png", "Pre/a.png", "Pro/b.png"])
    for n in names { #expect(FileManager.default.fileExists(atPath: data + "/" + n)) }
    // Categories: 1 nucleus (class unknown), then the schema's classes.
    let catNames = cats.compactMap { c -> String? in if case .string(let s) = c["name"] { s } else { nil } }
    #expect(catNames == ["nucleus"] + store.labelSchema.classNames)
    func category(_ name: String) -> JSONValue { .number(Double(catNames.firstIndex(of: name)! + 1)) }
    let benOnA = anns.first { $0["image_id"] == .number(Double(a)) && $0["rater"] == .string("ben") }
    #expect(benOnA?["category_id"] == category("Pro-B") && benOnA?["source"] == .string("rater"))
    let anaOnA = anns.first { $0["image_id"] == .number(Double(a)) && $0["rater"] == .string("ana") }
    #expect(anaOnA?["category_id"] == category("Pre-B"))

    // --final --include-reference: the decision's class, and the reference with the import label.
    r = try CLITests.run([
      "export", "--format", "coco", "--final", "--include-reference", "--out", dir.sub("final"),
      "--workspace",
      ws,
    ])
    #expect(r.status == 0 && r.out.contains("1 adjudication, 1 agreement, 1 reference, 1 none"), "\(r.all)")
    doc = try JSONDecoder().decode(
      JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: dir.sub("final/coco.json"))))
    guard case .array(let fimages) = doc["images"], case .array(let fanns) = doc["annotations"] else {
      Issue.record("bad coco.json")
      return
    }
    let imageA = fimages.first { $0["id"] == .number(Double(a)) }
    #expect(imageA?["final_mask_source"] == .string("adjudication"))
    let finalA = fanns.filter {
      $0["image_id"] == .number(Double(a)) && $0["source"] == .string("final")
    }
    try #require(finalA.count == 1)
    #expect(finalA[0]["area"] == .number(9) && finalA[0]["rater"] == JSONValue.null)
    #expect(
      finalA[0]["category_id"] == category("Pre-B") && finalA[0]["final_source"] == .string("adjudication"))
    let finalB = fanns.first { $0["image_id"] == .number(Double(b)) && $0["source"] == .string("final") }
    #expect(finalB?["area"] == .number(12) && finalB?["category_id"] == category("Pro-B"))
    #expect(finalB?["final_source"] == .string("agreement"))
    let refB = fanns.first { $0["image_id"] == .number(Double(b)) && $0["source"] == .string("reference") }
    #expect(refB?["area"] == .number(4) && refB?["category_id"] == category("Pro-B"))
  }

  @Test func fileNameOutsideTheRootClimbsAndBlindedNamesStayOpaque() {
    var rec = CaseRecord(
      id: 7, path: "/srv/other/x/img.png", pathIsRelative: false, imagePath: "/srv/other/x/img.png",
      sha256: "00", format: "png", width: 1, height: 1, referenceLabel: "Pre-B", split: .train,
      addedAt: Date())
    #expect(CaseStore.cocoFileName(rec, root: "/srv/data/images") == "../../other/x/img.png")
    #expect(CaseStore.cocoFileName(rec, root: nil) == "/srv/other/x/img.png")
    rec.blind()
    #expect(CaseStore.cocoFileName(rec, root: "/srv/data/images") == "case-7")
  }

  @Test func agreedMaskNeedsEveryPairToOverlapAndTakesTheMajority() throws {
    let big = Self.rect(x: 2, y: 2, w: 4, h: 4)
    let small = Self.rect(x: 2, y: 2, w: 4, h: 3)
    let far = Self.rect(x: 8, y: 0, w: 3, h: 3)
    #expect(CaseStore.agreedMask([big]) == nil)
    #expect(CaseStore.agreedMask([big, far]) == nil)
    let two = try #require(CaseStore.agreedMask([big, small]))
    #expect(two.mask == small && abs(two.minimumDice - 24.0 / 28.0) < 1e-12)
    // Three raters: a pixel two of three drew is in; the 4th row only one drew is out.
    let three = try #require(CaseStore.agreedMask([big, small, small]))
    #expect(three.mask == small)
    #expect(CaseStore.agreedMask([big, Mask(width: 5, height: 5)]) == nil)
  }
}
