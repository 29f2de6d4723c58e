import CaseStore
import Foundation

extension ReviewApp {
  /// Runs an explanation effect: resolves each job's model file from the registry (here, on the
  /// UI thread, where the store is used) and hands the jobs to the background worker.
  func runExplain(_ effect: ExplainEffect) throws(StoreError) -> [AppEvent] {
    switch effect {
    case .explain(let jobs):
      // Either backend: the weights as a local file (a shared workspace's from the database,
      // checked and cached privately), and the image read through the store and checked
      // against the case's SHA-256 (a shared workspace's image address is no file).
      var resolved: [ExplanationJob] = []
      var files: [Int64: (path: String, sha256: String)?] = [:]
      for job in jobs {
        var j = job
        let v = job.key.modelVersion
        if files[v] == nil { files[v] = .some(try store.modelFileForReading(version: v)) }
        let m = files[v] ?? nil
        j.modelFile = m?.path
        j.modelSHA256 = m?.sha256
        // A refused image is left to the worker, which reports it on the explanation itself.
        if let sha = job.imageSHA256 {
          j.image = try? store.verifiedCaseImage(at: job.imagePath, sha256: sha)
        }
        resolved.append(j)
      }
      explanationWorker.submit(resolved)
    case .cancel(let keep):
      explanationWorker.cancel(keep: keep)
    }
    return []
  }

  /// Feeds what the background worker reported into `update`.
  public func drainBackground() {
    for e in explanationWorker.drain() { dispatch(e) }
  }

  /// Waits until the background worker is idle (or `timeout` passed), then drains its inbox:
  /// for tests, which drive the app without a terminal. True when the worker went idle.
  @discardableResult
  public func waitForBackgroundWork(timeout: TimeInterval = 120) -> Bool {
    let idle = explanationWorker.waitUntilIdle(timeout: timeout)
    drainBackground()
    return idle
  }
}
