import CaseStore
import Foundation

extension ReviewApp {
  /// Runs an explanation effect: resolves each job's model file from the registry (here, on the
  /// UI thread, where the store is used) and hands the jobs to the background worker.
  func runExplain(_ effect: ExplainEffect) throws(StoreError) -> [AppEvent] {
    switch effect {
    case .explain(let jobs):
      guard let store = store.embeddedStore else {
        return [.failed(ReviewApp.embeddedOnly("explanations"))]
      }
      let models = try store.models()
      explanationWorker.submit(
        jobs.map { job in
          var j = job
          let m = models.first { $0.version == job.key.modelVersion }
          j.modelFile = m?.file
          j.modelSHA256 = m?.sha256
          return j
        })
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
