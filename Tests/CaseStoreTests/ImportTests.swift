import Foundation
import Imaging
import Testing

@testable import CaseStore

@Suite struct ImportTests {
  /// A small image whose bytes depend on `seed`.
  static func png(_ seed: Int, width: Int = 12, height: Int = 9) -> [UInt8] {
    var img = RGBImage(width: width, height: height, fill: (200, 180, 190))
    for i in 0..<width { img[i, (i * seed) % height] = (UInt8(seed % 256), 40, 120) }
    return encodePNG(img)
  }

  /// A 24-bit uncompressed BMP written by hand (bottom-up rows, padded to 4 bytes).
  static func bmp(width: Int, height: Int, value: UInt8) -> [UInt8] {
    let row = (width * 3 + 3) / 4 * 4
    let size = 54 + row * height
    func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 255) } }
    var b: [UInt8] = [0x42, 0x4D] + le32(size) + [0, 0, 0, 0] + le32(54)
    b +=
      le32(40) + le32(width) + le32(height) + [1, 0, 24, 0] + le32(0) + le32(row * height) + le32(2835)
      + le32(2835)
      + le32(0) + le32(0)
    for _ in 0..<height {
      b += [UInt8](repeating: value, count: width * 3) + [UInt8](repeating: 0, count: row - width * 3)
    }
    return b
  }

  static func write(_ bytes: [UInt8], _ path: String) throws {
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  @Test func importsATreeWithLabelsMasksDuplicatesAndBadFiles() throws {
    let dir = TempDir()
    let root = dir.sub("data")
    try Self.write(Self.png(1), root + "/Benign/a.png")
    try Self.write(Self.png(2), root + "/Early/b.png")
    try Self.write(Self.png(3), root + "/early_pre_b/batch1/c.png")  // label from the grandparent
    try Self.write(Self.bmp(width: 5, height: 4, value: 90), root + "/Pro/d.bmp")
    try Self.write(Self.png(1), root + "/Pre/copy-of-a.png")  // same bytes as a.png
    try Self.write(Self.png(4), root + "/unsorted/e.png")  // no class folder
    try Self.write(Array(Self.png(5).prefix(60)), root + "/Pre/truncated.png")
    try Self.write(Array("not an image".utf8), root + "/Pre/fake.jpg")
    try Self.write(Array("notes".utf8), root + "/Pre/notes.txt")
    try Self.write(Array("GIF89a....".utf8), root + "/Pre/anim.png")
    try Self.write(Self.png(6), root + "/.hidden/f.png")
    // A symlink loop and a symlink to a file.
    try FileManager.default.createSymbolicLink(atPath: root + "/Pre/loop", withDestinationPath: root)
    try FileManager.default.createSymbolicLink(
      atPath: root + "/Pre/dangling.png", withDestinationPath: root + "/nowhere.png")
    // Masks by stem: a good one for a (12×9), a wrong-sized one for b, a corrupt one for c.
    var m = Mask(width: 12, height: 9)
    for i in 0..<30 { m.values[i] = 255 }
    for i in 30..<40 { m.values[i] = 128 }  // cytoplasm: not nucleus at the default threshold
    try Self.write(encodePNG(m), dir.sub("masks/a.png"))
    try Self.write(encodePNG(Mask(width: 3, height: 3, fill: 255)), dir.sub("masks/b.png"))
    try Self.write(Array("junk".utf8), dir.sub("masks/c.png"))

    let store = try Workspace.create(at: dir.sub("ws"))
    var progress: [Int] = []
    let s = try store.importImages(
      ImportOptions(paths: [root], labelsFromFolders: true, masksDirectory: dir.sub("masks"), imageRoot: root)
    ) { progress.append($0.done) }
    #expect(s.imported == 5 && s.duplicates == 1)
    #expect(progress.first == 0 && progress.last == s.found + s.skipped.count + s.otherFiles)
    let skipped = Dictionary(
      uniqueKeysWithValues: s.skipped.map { (($0.path as NSString).lastPathComponent, $0.reason) })
    #expect(skipped.keys.sorted() == ["anim.png", "fake.jpg", "truncated.png"])
    #expect(skipped["anim.png"]!.contains("GIF"))
    #expect(skipped["fake.jpg"]!.contains("not an image"))
    #expect(s.otherFiles == 1)
    #expect(s.directoryProblems.contains { $0.path.hasSuffix("/Pre/loop") && $0.reason.contains("loop") })
    #expect(
      s.directoryProblems.contains { $0.path.hasSuffix("dangling.png") && $0.reason.contains("broken") })
    #expect(s.masks == 1 && s.maskProblems.count == 2)
    #expect(s.labelled == 4)

    let cases = try store.cases(viewer: .system)
    let byName = Dictionary(uniqueKeysWithValues: cases.map { (($0.path as NSString).lastPathComponent, $0) })
    #expect(byName["a.png"]!.referenceLabel == "Benign" && byName["a.png"]!.path == "Benign/a.png")
    #expect(byName["a.png"]!.pathIsRelative && byName["a.png"]!.imagePath == root + "/Benign/a.png")
    #expect(byName["b.png"]!.referenceLabel == "Early-B")
    #expect(byName["c.png"]!.referenceLabel == "Early-B")
    #expect(byName["d.bmp"]!.referenceLabel == "Pro-B" && byName["d.bmp"]!.format == "bmp")
    #expect(byName["d.bmp"]!.width == 5 && byName["d.bmp"]!.height == 4)
    #expect(byName["e.png"]!.referenceLabel == nil)
    for c in cases {
      let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: c.imagePath)))
      #expect(c.sha256 == Digest.sha256Hex(bytes))
      #expect(c.split == Split.of(sha256Hex: c.sha256))
    }
    let maskID = try store.referenceMaskID(case: byName["a.png"]!.id)!
    let stored = try store.mask(id: maskID)
    #expect(stored.values.filter { $0 == 255 }.count == 30 && Set(stored.values) == [0, 255])

    // Again: everything is a duplicate, nothing changes.
    let again = try store.importImages(ImportOptions(paths: [root], labelsFromFolders: true))
    #expect(again.imported == 0 && again.duplicates == 6)
    #expect(try store.caseCount() == 5)
    // A different image root is refused unless the images moved.
    #expect(throws: StoreError.self) {
      try store.importImages(ImportOptions(paths: [root], imageRoot: dir.path))
    }
  }

  @Test func manifestRowsBringLabelsAndMasks() throws {
    let dir = TempDir()
    try Self.write(Self.png(10), dir.sub("imgs/x.png"))
    try Self.write(Self.png(11), dir.sub("imgs/y.png"))
    try Self.write(encodePNG(Mask(width: 12, height: 9, fill: 255)), dir.sub("m/x-mask.png"))
    try
      "path,label,mask\nimgs/x.png,Lymphocytes,m/x-mask.png\n\"imgs/y.png\",monocyte,\nimgs/z.png,basophil,\nimgs/x.png,bogus,\n"
      .write(toFile: dir.sub("manifest.csv"), atomically: true, encoding: .utf8)
    let store = try Workspace.create(at: dir.sub("ws"), schema: .wbc5)
    let s = try store.importImages(ImportOptions(paths: [], manifest: dir.sub("manifest.csv")))
    #expect(s.imported == 2 && s.masks == 1)
    #expect(s.skipped.count == 1 && s.skipped[0].path.hasSuffix("z.png"))
    let labels = try store.cases(viewer: .system).map(\.referenceLabel)
    #expect(labels == ["lymphocyte", "monocyte"])
  }

  // Root reads any directory; only an ordinary user can test this.
  @Test(.enabled(if: geteuid() != 0, "running as root: permissions cannot make a directory unreadable"))
  func unreadableDirectoriesAreReportedNotFatal() throws {
    let dir = TempDir()
    try Self.write(Self.png(20), dir.sub("data/ok/a.png"))
    try Self.write(Self.png(21), dir.sub("data/locked/b.png"))
    chmod(dir.sub("data/locked"), 0)
    defer { chmod(dir.sub("data/locked"), 0o755) }
    let store = try Workspace.create(at: dir.sub("ws"))
    let s = try store.importImages(ImportOptions(paths: [dir.sub("data")]))
    #expect(s.imported == 1)
    #expect(s.directoryProblems.contains { $0.path.hasSuffix("locked") && $0.reason.contains("cannot read") })
  }

  @Test func importsSampleDataWithFolderLabelsAndMasks() throws {
    // The repository's own SampleData (wbc-seg crops with expert masks).
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
    let images = repo + "/SampleData/wbc-seg/images"
    try #require(FileManager.default.fileExists(atPath: images), "SampleData missing")
    let dir = TempDir()
    let store = try Workspace.create(at: dir.sub("ws"), schema: .wbc5, imageRoot: repo + "/SampleData")
    let s = try store.importImages(
      ImportOptions(
        paths: [images], labelsFromFolders: true, masksDirectory: repo + "/SampleData/wbc-seg/masks"))
    // lymphocyte/112.png and lymphocyte/139.png are the same bytes in the data set: one case.
    #expect(s.found == 300 && s.imported == 299 && s.duplicates == 1)
    #expect(s.labelled == 299 && s.masks == 299 && s.skipped.isEmpty && s.maskProblems.isEmpty)
    let counts = Dictionary(grouping: try store.cases(viewer: .system), by: { $0.referenceLabel! }).mapValues(
      \.count)
    #expect(counts == ["neutrophil": 176, "lymphocyte": 52, "monocyte": 48, "eosinophil": 22, "basophil": 1])
  }
}
