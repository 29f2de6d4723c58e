import CaseStore
import Foundation
import Workflows

#if canImport(Glibc)
  import Glibc
#endif

extension ReviewApp {
  /// Runs retraining effects against the store; the training itself is another process.
  func runRetrain(_ effect: RetrainEffect) throws(StoreError) -> [AppEvent] {
    guard let store = store.embeddedStore else {
      // A shared workspace's trainer is its service role (`blastview train --watch` on the
      // server); the registry is read and changed through `ModelRegistryStore`, where
      // PostgreSQL lets only a lead promote or roll back.
      switch effect {
      case .loadStatus:
        var status = RetrainStatus(promoted: try self.store.promotedModelVersion())
        if let shared = self.store as? PostgresStore {
          (status.job, status.lastFinished) = try shared.visibleTrainingJobs()
          status.request = try shared.myRetrainRequest()
        }
        return [.retrain(.statusLoaded(status))]
      case .loadModels:
        return [.retrain(.modelsLoaded(try self.store.models(), try self.store.modelPromotions()))]
      case .promote(let version, let reason):
        try self.store.promote(version: version, by: rater, reason: reason)
        return [.retrain(.promoted(version: version, rollback: reason.hasPrefix("rolled back")))]
      case .queue(let reason):
        // Only the service role trains (it reads every label): a rater's T is a request the
        // trainer turns into a job (pg-v9-retrain-requests).
        guard let shared = self.store as? PostgresStore else {
          return [.failed("this workspace's store cannot queue a retraining")]
        }
        let r = try shared.requestRetraining(reason: reason)
        return [.retrain(.requested(id: r.id, created: r.created))]
      case .launchTrainer:
        return []
      }
    }
    switch effect {
    case .loadStatus:
      reapTrainers()
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
      return [.retrain(.queued(request, trainer: try store.trainerLockHolder()))]
    case .launchTrainer(let request):
      let job: TrainingJob
      switch request {
      case .queued(let j, _), .alreadyActive(let j): job = j
      case .noModel, .nothingToLearn: return [.retrain(.launched(request, launch: .none))]
      }
      switch launcher.launch(job: job.id, workspace: store.workspace.directory) {
      case .success(let pid):
        trainerChildren.insert(pid)
        return [.retrain(.launched(request, launch: .started(pid: pid)))]
      case .failure(let e):
        return [.retrain(.launched(request, launch: .failed(e.message)))]
      }
    case .loadModels:
      return [.retrain(.modelsLoaded(try store.models(), try store.modelPromotions()))]
    case .promote(let version, let reason):
      try store.promote(version: version, by: rater, reason: reason)
      return [.retrain(.promoted(version: version, rollback: reason.hasPrefix("rolled back")))]
    }
  }

  /// Collects trainers this app started that have ended (no zombies left behind); run with each
  /// status read, which follows every commit of another process (a trainer's last one too).
  func reapTrainers() {
    for pid in trainerChildren {
      var status: Int32 = 0
      if waitpid(pid, &status, WNOHANG) == pid { trainerChildren.remove(pid) }
    }
  }
}
