import Foundation
import Testing

@testable import MTACNN

/// The augmentation presets training and retraining share: the colour recipe is the `full`
/// recipe of docs/model-card-notes.md §3, in the JSON form the training record stores
/// (`tools/torch/augment.py`'s keys), so a checkpoint's `augment` says what it was trained with.
@Suite struct AugmentationRecipeTests {
  @Test func colourIsTheDocumentedFullRecipe() throws {
    let json = try #require(
      try JSONSerialization.jsonObject(with: JSONEncoder().encode(AugmentationConfig.colour))
        as? [String: Any])
    #expect(json["flip"] as? Bool == true && json["rot90"] as? Bool == true)
    #expect(json["hue_deg"] as? Double == 15)
    #expect(json["saturation"] as? Double == 0.3)
    #expect(json["brightness"] as? Double == 0.15)
    #expect(json["contrast"] as? Double == 0.15)
    #expect(json["gray_p"] as? Double == 0.2)
    #expect(json["hed_scale"] as? Double == 0.05)
    #expect(json["hed_shift"] as? Double == 0.05)
  }

  /// all4 images vary in stain and scanner: they train with colour jitter; other schemas with
  /// geometry only.
  @Test func standardPresetFollowsTheSchema() {
    #expect(AugmentationConfig.standard(forSchema: "all4") == .colour)
    #expect(AugmentationConfig.standard(forSchema: "wbc5") == .geometric)
    #expect(AugmentationConfig.standard(forSchema: "custom") == .geometric)
    #expect(AugmentationConfig.geometric.hueDegrees == 0 && AugmentationConfig.geometric.flip)
  }
}
