import CaseStore
import Foundation
import Workflows

#if canImport(Glibc)
  import Glibc
#endif

extension ReviewApp {
  /// Runs retraining effects against the store; the training itself is another process.
  func runRetrain(_ effect: RetrainEffect) throws(StoreError) -> [AppEvent] {
    reapTrainers()
    switch effect {
    case .loadStatus:
      _ = try store.reapDeadTrainingJobs()
      let promoted = try store.promotedModel()
      let status = RetrainStatus(
        job: try store.activeTrainingJob(),
        lastFinished: try store.trainingJobs(limit: 1).first { !$0.status.isActive },
        trainer: try store.trainerLockHolder(),
        corrections: try promoted.map { (m: ModelVersion) throws(StoreError) in
          try store.corrections(since: m)
        },
        promoted: promoted?.version, autoAfter: try store.autoRetrainAfter())
      return [.retrain(.statusLoaded(status))]
    case .queue(let reason):
      let request = try store.queueRetraining(reason: reason, by: rater)
      let job: TrainingJob
      switch request {
      case .queued(let j, _): job = j
      // A job left queued with no trainer (one that failed to start, or whose watcher was
      // stopped) would block every later T: give it a trainer.
      case .alreadyActive(let j) where j.status == .queued: job = j
      default: return [.retrain(.queued(request, launch: .none))]
      }
      // A trainer that holds the lock (train --watch) runs queued jobs itself.
      if let holder = try store.trainerLockHolder() {
        return [.retrain(.queued(request, launch: .handedTo(holder)))]
      }
      switch launcher.launch(job: job.id, workspace: store.workspace.directory) {
      case .success(let pid):
        trainerChildren.insert(pid)
        return [.retrain(.queued(request, launch: .started(pid: pid)))]
      case .failure(let e):
        return [.retrain(.queued(request, launch: .failed(e.message)))]
      }
    case .loadModels:
      return [.retrain(.modelsLoaded(try store.models(), try store.modelPromotions()))]
    case .promote(let version, let reason):
      try store.promote(version: version, by: rater, reason: reason)
      return [.retrain(.promoted(version: version, rollback: reason.hasPrefix("rolled back")))]
    }
  }

  /// Collects trainers this app started that have ended (no zombies left behind).
  func reapTrainers() {
    for pid in trainerChildren {
      var status: Int32 = 0
      if waitpid(pid, &status, WNOHANG) == pid { trainerChildren.remove(pid) }
    }
  }
}
