import CaseStore
import FileSafety
import Foundation

/// One predictor per model version at a time: `predict --all-cases`, the review app's background
/// predictor and the trainer's new-case predictions all take it. On an embedded workspace it is
/// `cache/predict-vN.lock` of the workspace, which the kernel drops when the process ends,
/// however it ends. On a shared workspace only the service role predicts, possibly on several
/// hosts, so it is the database's lease `predict-vN` (`pg-v7-lock-rows`): a file in the service
/// user's directory would not span hosts, and any user able to read it could `flock` it and
/// keep it.
struct PredictionLock {
  private let fd: Int32
  private let shared: PostgresStore?
  private let version: Int64

  /// Nil when another process holds the lock (it is already predicting with this version). A
  /// lock that cannot be taken for another reason (a file that cannot be opened, a refused
  /// lease) does not stop predicting: the lock only saves work.
  static func acquire(store: any RetrainingStore, version: Int64) -> PredictionLock? {
    if let pg = store as? PostgresStore {
      switch Result(catching: { () throws(StoreError) in
        try pg.takeLease("predict-v\(version)", purpose: "predict")
      }) {
      case .success(nil): return PredictionLock(fd: -1, shared: pg, version: version)
      case .success(.some): return nil
      case .failure: return PredictionLock(fd: -1, shared: nil, version: version)
      }
    }
    let path = store.workspace.directory + "/cache/predict-v\(version).lock"
    try? SafeFile.makeDirectories((path as NSString).deletingLastPathComponent)
    // Shared on purpose (every user's predictor takes it), but never opened through a link.
    let fd = (try? SafeFile.openShared(path)) ?? -1
    if fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0 {
      close(fd)
      return nil
    }
    return PredictionLock(fd: fd, shared: nil, version: version)
  }

  func release() {
    if fd >= 0 { close(fd) }
    try? shared?.releaseLease("predict-v\(version)")
  }
}
