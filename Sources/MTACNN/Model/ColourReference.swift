import Foundation

/// The colour-outlier reference a checkpoint carries (issue 10): the class-conditional Mahalanobis
/// detector of `ColourOutlierDetector` fitted on the model's labelled training images' colour
/// statistics, with its threshold at the 99th percentile of the validation images' distances
/// (the rule chosen in docs/model-card-notes.md §4). Stored as JSON under `colour_reference` in the
/// checkpoint's metadata, so prediction can say "colour unlike the training data; prediction less
/// reliable" for any image, with no access to the training data.
public enum ColourReference {
  public static let metadataKey = "colour_reference"

  /// Fits the reference, or nil when there are too few labelled images (more than one per class
  /// is needed) or no validation images to set the threshold.
  public static func fit(train: [Example], validation: [Example], quantile: Double = 0.99)
    -> ColourOutlierDetector?
  {
    let labelled = train.filter { $0.classIndex != nil && $0.colour != nil }
    let val = validation.filter { $0.classIndex != nil }.compactMap(\.colour)
    guard !val.isEmpty else { return nil }
    guard
      let d = try? ColourOutlierDetector(
        training: labelled.map { $0.colour! }, labels: labelled.map { $0.classIndex! })
    else { return nil }
    return d.withThreshold(validation: val, quantile: quantile)
  }

  public static func encode(_ d: ColourOutlierDetector) -> String { jsonText(d) }

  public static func decode(_ text: String) -> ColourOutlierDetector? {
    guard let d = try? JSONDecoder().decode(ColourOutlierDetector.self, from: Data(text.utf8)),
      d.inverseCovariance.count == 144, !d.means.isEmpty, d.means.allSatisfy({ $0.count == 12 }),
      d.threshold.isFinite
    else { return nil }
    return d
  }
}
