import CaseStore
import Foundation
import MTACNN
import Terminal
import Workflows

/// Putting a checkpoint file into a workspace's model registry: `predict --model FILE` and
/// `init --schema all4|wbc5` (the shipped model) both do it.
enum ModelRegistration {
  /// The registered version of `file`: the one already there when the same file (by SHA-256)
  /// was registered before, else a new version copied into the workspace (a shared
  /// workspace's: into the database, by its service role).
  static func register(store: any RetrainingStore, file: String, notes: String) throws -> ModelVersion {
    do {
      let sha = try sha256Hex(path: file)
      if let known = try store.models().first(where: { $0.sha256 == sha }) { return known }
      let (net, _) = try ModelCheckpoint.load(path: file)
      guard net.classCount == store.labelSchema.classes.count else {
        throw CLIError(
          message:
            "\(Sanitizer.sanitize(file)) predicts \(net.classCount) classes, the workspace's schema \(Sanitizer.sanitize(store.labelSchema.name)) has \(store.labelSchema.classes.count)"
        )
      }
      return try store.registerModel(
        file: file, parent: nil, tasks: net.tasks.map(\.rawValue),
        trainedTasks: net.trainedTasks.map(\.rawValue),
        frozenTasks: [], frozenVerified: nil, metrics: .object([:]),
        config: (try? JSONDecoder().decode(JSONValue.self, from: Data(net.configurationJSON.utf8))) ?? .null,
        trainingJob: nil, trainedThroughAnnotation: nil, notes: notes)
    } catch let e as CLIError {
      throw e
    } catch {
      throw CLIError(error)
    }
  }
}

/// A path or word quoted for a POSIX shell only when it needs it, so printed hints can be
/// pasted as they are (the TUI's hints use the same `ShellWord`).
func shellWord(_ s: String) -> String { ShellWord.quoted(s) }
