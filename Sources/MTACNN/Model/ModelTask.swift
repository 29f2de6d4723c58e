import Foundation

/// A task column of MTA-CNN: classification (`cls`) or nucleus segmentation (`seg`). The raw values
/// are the checkpoint's name prefixes and the configuration's `tasks` entries.
public enum ModelTask: String, CaseIterable, Sendable, Codable, Comparable, CustomStringConvertible {
  case cls
  case seg

  public static func < (a: ModelTask, b: ModelTask) -> Bool { a.order < b.order }
  private var order: Int { self == .cls ? 0 : 1 }

  public var description: String { rawValue }

  /// The parameter group of the task's column: stages 3 and 4 and its TTC betas. Frozen whenever
  /// the task is frozen or a frozen task reads from it.
  public var columnGroup: String { rawValue + ".column" }
  /// The group of the task's own output layers (classification head; bottleneck, decoder and
  /// output convolution). Frozen exactly when the task is.
  public var headGroup: String { rawValue + ".head" }

  /// Reads a task name as any version stored it: `cls`/`seg`, or the `classification`/
  /// `segmentation` that model registries and training jobs of workspaces made before the task
  /// had one spelling still hold (case-insensitive, surrounding spaces ignored).
  public init?(stored name: String) {
    switch name.trimmingCharacters(in: .whitespaces).lowercased() {
    case "cls", "classification": self = .cls
    case "seg", "segmentation": self = .seg
    default: return nil
    }
  }

  /// The task in prose, for log lines and messages ("training classification").
  public var title: String { self == .cls ? "classification" : "segmentation" }

  /// Parses a comma-separated list such as `cls,seg` (order and duplicates ignored).
  public static func parseList(_ text: String) throws(ModelError) -> [ModelTask] {
    var out: Set<ModelTask> = []
    for part in text.split(separator: ",") {
      let t = part.trimmingCharacters(in: .whitespaces).lowercased()
      guard let task = ModelTask(stored: t) else {
        throw ModelError.invalidTasks(
          "unknown task '\(t.filter { $0.isASCII && !$0.isNewline && $0 != "\u{1B}" })' (expected cls, seg)")
      }
      out.insert(task)
    }
    return out.sorted()
  }
}

/// The parameter group of the shared encoder (stages 1 and 2): frozen whenever any task is, since
/// every task reads it.
public let encoderGroup = "encoder"
