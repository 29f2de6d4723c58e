import Foundation
import Imaging
import Testing

@testable import MTACNN

/// Explanations as cache files (the review app keeps LIME's results in the workspace's cache):
/// a file reads back to the same explanation, and a damaged one is an error, never a crash.
@Suite struct ExplanationCodingTests {
  static func explanation(_ method: ExplanationMethod) throws -> ImageExplanation {
    let corner = CornerBlank.aria.rect(forWidth: 64, height: 64)
    let model = RectangleReader(rect: corner, colours: toyLabelColours, blank: false)
    return try Explainer(model: model).explain(
      toyImage(class: 2, index: 5), ExplanationRequest(method: method, lime: LIMEOptions(samples: 80)))
  }

  @Test(arguments: [ExplanationMethod.lime, .gradcam]) func aFileReadsBackTheSameExplanation(
    _ method: ExplanationMethod
  ) throws {
    let e = try Self.explanation(method)
    let back = try JSONDecoder().decode(ImageExplanation.self, from: try JSONEncoder().encode(e))
    #expect(back.method == e.method && back.classIndex == e.classIndex && back.className == e.className)
    #expect(back.probabilities == e.probabilities && back.heatmap == e.heatmap && back.cam == e.cam)
    #expect(back.superpixels == e.superpixels && back.regionWeights == e.regionWeights)
    #expect(back.topRegions == e.topRegions && back.fitScore == e.fitScore)
    #expect(
      back.corner == e.corner && back.cornerSource == e.cornerSource && back.cornerBlanked == e.cornerBlanked)
    // The overlay drawn from the file is the overlay drawn from the original.
    let image = toyImage(class: 2, index: 5)
    #expect(back.overlay(on: image).pixels == e.overlay(on: image).pixels)
  }

  @Test func damagedFilesAreErrors() throws {
    let data = try JSONEncoder().encode(try Self.explanation(.lime))
    var json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    func decodes(_ obj: [String: Any]) -> Bool {
      guard let d = try? JSONSerialization.data(withJSONObject: obj) else { return false }
      return (try? JSONDecoder().decode(ImageExplanation.self, from: d)) != nil
    }
    #expect(decodes(json))
    // A truncated file, a map whose size lies (too large to allocate, or not matching its data),
    // weights that do not match the regions, another layout version.
    #expect((try? JSONDecoder().decode(ImageExplanation.self, from: data.prefix(data.count / 2))) == nil)
    var heat = try #require(json["heatmap"] as? [String: Any])
    heat["width"] = Int.max / 2
    heat["height"] = 4
    var bad = json
    bad["heatmap"] = heat
    #expect(!decodes(bad))
    heat["width"] = 65
    heat["height"] = 64
    bad["heatmap"] = heat
    #expect(!decodes(bad))
    bad = json
    bad["region_weights"] = [0.5]
    #expect(!decodes(bad))
    json["version"] = 99
    #expect(!decodes(json))
  }
}
