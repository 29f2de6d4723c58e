import CaseStore
import FileSafety
import Foundation

/// One predictor per model version at a time: `predict --all-cases`, the review app's background
/// predictor and the trainer's new-case predictions all take `cache/predict-vN.lock` of the
/// workspace. The kernel drops the lock when the process ends, however it ends.
struct PredictionLock {
  private let fd: Int32

  /// Nil when another process holds the lock (it is already predicting with this version). A
  /// lock file that cannot be opened does not stop predicting (the lock only saves work).
  static func acquire(workspace: Workspace, version: Int64) -> PredictionLock? {
    let path = workspace.directory + "/cache/predict-v\(version).lock"
    try? SafeFile.makeDirectories((path as NSString).deletingLastPathComponent)
    // Shared on purpose (every user's predictor takes it), but never opened through a link.
    let fd = (try? SafeFile.openShared(path)) ?? -1
    if fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0 {
      close(fd)
      return nil
    }
    return PredictionLock(fd: fd)
  }

  func release() {
    if fd >= 0 { close(fd) }
  }
}
