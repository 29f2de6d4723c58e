import CaseStore
import MTACNN
import NeuralEngine

/// The screening operating point of a workspace's promoted model, read from its registered
/// checkpoint (issue 17): what the review's "possibly malignant" flag and filter, and triage's
/// first severity, compare P(malignant) with.
public enum ScreeningOperatingPoint {
  /// The point a checkpoint file carries; nil when it has none (an older or retrained model:
  /// nothing is invented), or when the file cannot be read as a checkpoint.
  public static func read(file: String) -> OperatingPoint? {
    guard let f = try? SafeTensorsFile.read(path: file), let meta = try? ModelCheckpoint.metadata(of: f)
    else {
      return nil
    }
    return meta.operatingPoint
  }

  /// The promoted model's version and point (nil point: it has none); nil without a promoted model.
  public static func promoted(in store: CaseStore) throws(StoreError) -> (
    version: Int64, point: OperatingPoint?
  )? {
    guard let m = try store.promotedModel() else { return nil }
    return (m.version, read(file: m.file))
  }
}
