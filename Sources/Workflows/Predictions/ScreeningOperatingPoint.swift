import CaseStore
import Foundation
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

  /// The operating point in a checkpoint's `operating_point` metadata entry (nil: none, or not
  /// one that decodes).
  public static func decode(_ entry: String?) -> OperatingPoint? {
    guard let entry else { return nil }
    return try? JSONDecoder().decode(OperatingPoint.self, from: Data(entry.utf8))
  }

  /// The promoted model's version and point on either backend, read from the checkpoint's
  /// header only (a shared workspace's weights stay in the database); nil without a promoted
  /// model.
  public static func promoted(in store: any ReviewStore) throws(StoreError) -> (
    version: Int64, point: OperatingPoint?
  )? {
    guard let m = try store.promotedModelMetadata(OperatingPoint.metadataKey) else { return nil }
    return (m.version, decode(m.value))
  }
}
