import Foundation
import MTACNN
import Testing

/// `eval --segmentation-only` reads masks the way `train --seg-data` does, with every class's
/// masks; training through `--data --masks --no-masks-for C` leaves class C's masks out, so a
/// "test" score taken the first way includes masks the model was never scored on in training. On
/// Aria that is Pro's weak masks (issue 17's first seg baseline was taken that way). `eval` says so.
@Suite struct SegmentationOnlySplitNoteTests {
  @Test func notesMasksTrainingLeavesOut() throws {
    let images = ModelCommandTests.images
    let masks = ModelCommandTests.masks
    let model = ModelCommandTests.repository.appendingPathComponent("Models/wbc5.safetensors").path
    // The reference count, from the dataset itself: lymphocyte images in the test part with a mask.
    let ds = try FolderDataset(root: images, schema: .wbc5, masks: masks)
    let lymph = try #require(ClassSchema.wbc5.classes.firstIndex(of: "lymphocyte"))
    let expected = ds.items(in: .test).filter { $0.classIndex == lymph && $0.maskPath != nil }.count
    #expect(expected > 0)

    let base = [
      "eval", "--model", model, "--data", images, "--masks", masks, "--segmentation-only", "--json",
    ]
    let left = try ModelCommandTests.run(base + ["--no-masks-for", "lymphocyte"])
    #expect(left.status == 0, "\(left.err)")
    #expect(left.err.contains("note: "), "\(left.err)")
    #expect(left.err.contains("\(expected) have masks that training leaves out"), "\(left.err)")
    #expect(left.err.contains("Drop --segmentation-only"))

    // Same masks, same split as training: nothing to say.
    let same = try ModelCommandTests.run(base)
    #expect(same.status == 0, "\(same.err)")
    #expect(!same.err.contains("note: "), "\(same.err)")
  }
}
