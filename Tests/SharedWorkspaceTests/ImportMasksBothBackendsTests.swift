import CaseStore
import Foundation
import Imaging
import Testing

/// `import --masks` and `import --manifest` give the same cases, labels and reference masks on
/// both backends (a shared workspace refused them before `pg-v8-import-masks`): masks paired by
/// file stem and thresholded, a mask of the wrong size reported while its image is still
/// imported, a manifest's label and mask taken over the folder's, and a re-import adding
/// nothing.
@Suite(.serialized) struct ImportMasksBothBackendsTests {
  static let repo = ContractFixture.repo

  @Test(arguments: Backend.all) func masksAndManifestImportAlike(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    let base = NSTemporaryDirectory() + "bv-import-masks-\(UUID().uuidString)"
    let images = base + "/cells/Pro-B"
    let masks = base + "/masks"
    try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: masks, withIntermediateDirectories: true)
    let source = Self.repo.appendingPathComponent("SampleData/wbc-seg/images/neutrophil").path
    let maskSource = Self.repo.appendingPathComponent("SampleData/wbc-seg/masks").path
    let names = try FileManager.default.contentsOfDirectory(atPath: source).sorted().prefix(3)
    for n in names {
      try FileManager.default.copyItem(atPath: source + "/" + n, toPath: images + "/" + n)
      let stem = (n as NSString).deletingPathExtension
      try FileManager.default.copyItem(
        atPath: maskSource + "/" + stem + ".png", toPath: masks + "/" + stem + ".png")
    }
    // The third image's mask is the wrong size: reported, the image still imported.
    let third = (names.last! as NSString).deletingPathExtension
    try FileManager.default.removeItem(atPath: masks + "/" + third + ".png")
    try Data(encodePNG(Mask(width: 7, height: 5, values: [UInt8](repeating: 255, count: 35))))
      .write(to: URL(fileURLWithPath: masks + "/" + third + ".png"))

    let lead = try f.store(f.lead)
    let summary = try lead.importImages(
      ImportOptions(paths: [base + "/cells"], labelsFromFolders: true, masksDirectory: masks),
      progress: { _ in })
    #expect(summary.imported == 3 && summary.labelled == 3 && summary.masks == 2, "\(summary)")
    #expect(summary.maskProblems.count == 1 && summary.maskProblems[0].path.hasSuffix(third + ".png"))

    let review = try f.reviewStore(f.lead)
    for (i, id) in summary.caseIDs.enumerated() {
      let detail = try review.caseDetail(id: id, viewer: .system)
      #expect(detail.record.referenceLabel == "Pro-B")
      guard i < 2 else {
        #expect(detail.referenceMaskID == nil)
        continue
      }
      let stored = try review.storedMask(id: try #require(detail.referenceMaskID))
      // The expert's mask, thresholded at 128 (nucleus 255; cytoplasm 128 and background 0 out).
      let stem = (names[names.startIndex + i] as NSString).deletingPathExtension
      let expert = try decodeMask(at: maskSource + "/" + stem + ".png")
      #expect(stored.width == expert.width && stored.height == expert.height)
      #expect(stored.values == expert.values.map { $0 > 128 ? 255 : 0 })
    }

    // A manifest: its label wins over the folder's, its mask is used, its path is relative.
    let fourth = try FileManager.default.contentsOfDirectory(atPath: source).sorted()[3]
    let stem4 = (fourth as NSString).deletingPathExtension
    try FileManager.default.copyItem(atPath: source + "/" + fourth, toPath: base + "/" + fourth)
    try FileManager.default.copyItem(atPath: maskSource + "/" + stem4 + ".png", toPath: base + "/m4.png")
    try "path,label,mask\n\(fourth),Early-B,m4.png\n".write(
      toFile: base + "/manifest.csv", atomically: true, encoding: .utf8)
    let m = try lead.importImages(
      ImportOptions(paths: [], manifest: base + "/manifest.csv"), progress: { _ in })
    #expect(m.imported == 1 && m.masks == 1, "\(m)")
    let d = try review.caseDetail(id: try #require(m.caseIDs.first), viewer: .system)
    #expect(d.record.referenceLabel == "Early-B" && d.referenceMaskID != nil)

    // Again: nothing new.
    let again = try lead.importImages(
      ImportOptions(paths: [base + "/cells"], labelsFromFolders: true, masksDirectory: masks),
      progress: { _ in })
    #expect(again.imported == 0 && again.duplicates == 3)
  }

  /// A rater may not import, masks or not (the server refuses).
  @Test func aRaterCannotImportMasksIntoASharedWorkspace() throws {
    guard PGTestCluster.shouldRun else { return }
    let f = try ContractFixture(.postgres)
    let masks = Self.repo.appendingPathComponent("SampleData/wbc-seg/masks").path
    let images = Self.repo.appendingPathComponent("SampleData/wbc-seg/images/basophil").path
    #expect(throws: StoreError.self) {
      try f.store(f.ana).importImages(
        ImportOptions(paths: [images], labelsFromFolders: true, masksDirectory: masks), progress: { _ in })
    }
  }
}
