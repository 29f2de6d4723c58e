import MTACNN

/// The examples a training reads (the test part never is) and where they came from, as the
/// checkpoint's training record names it (`data`, `masks`, `workspace`, `through_annotation`...).
public struct TrainingExamples {
  public var train: [Example] = []
  public var validation: [Example] = []
  public var source: [String: String] = [:]

  public init() {}
}
