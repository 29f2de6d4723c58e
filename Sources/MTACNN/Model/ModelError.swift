import NeuralEngine

/// What can go wrong building, loading, saving or training an MTA-CNN model. Messages name the file
/// or value and what is wrong; file names pass through the terminal sanitiser.
public enum ModelError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The configuration is valid JSON but this build cannot run it, or it is inconsistent.
  case unsupportedConfiguration(String)
  case invalidTasks(String)
  /// A checkpoint file that is not a BlastView MTA-CNN checkpoint, or is damaged.
  case badCheckpoint(path: String, reason: String)
  /// The engine's safetensors reader or writer refused the file (its message names the tensor).
  case safetensors(SafeTensorsError)
  /// Freezing that cannot be honoured (e.g. every task frozen, or a task the model lacks).
  case invalidFreeze(String)

  public var description: String {
    switch self {
    case .unsupportedConfiguration(let why): return "model configuration: \(why)"
    case .invalidTasks(let why): return "tasks: \(why)"
    case .badCheckpoint(let path, let why): return "\(path): \(why)"
    case .safetensors(let e): return e.description
    case .invalidFreeze(let why): return "freeze: \(why)"
    }
  }
}
