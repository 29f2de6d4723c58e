import CaseStore
import Foundation
import Terminal

// Background retraining in the review app (issue 8): the status-line item of the running job,
// `T` to queue a retraining, and the model screen (versions, curves, promote, roll back). The
// training itself runs in another process (`blastview train --job ID`), never on this thread;
// this app only reads the job's progress from the store when another process commits.

/// What the app knows about retraining and the model registry.
public struct RetrainState: Equatable, Sendable {
  /// The queued or running job, as last read from the store.
  public var job: TrainingJob?
  /// The live holder of the workspace's trainer lock (a `train --watch` or `--job` process).
  public var trainer: TrainerLockHolder?
  /// Corrections since the promoted model was trained (for the automatic trigger and the screen).
  public var corrections: CorrectionSummary?
  /// The workspace's `auto_retrain_after` (nil: only on request).
  public var autoAfter: Int?
  /// A shared workspace: my `T` request the service trainer has not dealt with yet.
  public var pendingRequest: Int64?

  // The model screen.
  public var models: [ModelVersion] = []
  public var promotions: [ModelPromotion] = []
  public var loaded = false
  public var selection = 0
  /// A promotion or roll back waiting for `y`.
  public var confirm: ModelChange?
  /// Where Esc goes back to.
  public var returnTo: Screen = .browser

  public init() {}

  /// The version the model screen's selection is on.
  public var selected: ModelVersion? {
    selection >= 0 && selection < models.count ? models[selection] : nil
  }
}

/// A change of the promoted model asked for on the model screen.
public enum ModelChange: Equatable, Sendable {
  case promote(Int64)
  case rollback(from: Int64, to: Int64)

  public var target: Int64 {
    switch self {
    case .promote(let v): return v
    case .rollback(_, let to): return to
    }
  }
}

/// Effects of retraining and the model screen.
public enum RetrainEffect: Equatable, Sendable {
  /// Read the active job, the trainer lock's holder, the corrections and the promoted version
  /// (and collect the trainers this app started that have ended).
  case loadStatus
  /// Queue a retraining; the answer says whether a trainer already runs (it picks the job up).
  case queue(reason: String)
  /// Start `blastview train --job ID` as a background process for the request's job.
  case launchTrainer(RetrainRequest)
  case loadModels
  /// Promote a version (a roll back is the promotion of an older one), with the reason recorded.
  case promote(version: Int64, reason: String)
}

/// The results of `RetrainEffect`s.
public enum RetrainEvent: Equatable, Sendable {
  case statusLoaded(RetrainStatus)
  /// The store's answer to `queue`, and the trainer holding the lock at that moment, if any.
  case queued(RetrainRequest, trainer: TrainerLockHolder?)
  /// Who trains the queued job: a trainer started for it, the one already running, or nobody.
  case launched(RetrainRequest, launch: TrainerLaunch)
  case modelsLoaded([ModelVersion], [ModelPromotion])
  case promoted(version: Int64, rollback: Bool)
  /// A shared workspace: `queue` recorded request `id` for the service trainer (`created`
  /// false: it was already pending).
  case requested(id: Int64, created: Bool)
}

/// The store's view of retraining at one moment.
public struct RetrainStatus: Equatable, Sendable {
  public var job: TrainingJob?
  /// The newest finished job (to tell how the last one ended).
  public var lastFinished: TrainingJob?
  public var trainer: TrainerLockHolder?
  public var corrections: CorrectionSummary?
  public var promoted: Int64?
  public var autoAfter: Int?
  /// A shared workspace: my newest retraining request and what became of it.
  public var request: RetrainRequestStatus?
  public init(
    job: TrainingJob? = nil, lastFinished: TrainingJob? = nil, trainer: TrainerLockHolder? = nil,
    corrections: CorrectionSummary? = nil, promoted: Int64? = nil, autoAfter: Int? = nil,
    request: RetrainRequestStatus? = nil
  ) {
    self.request = request
    self.job = job
    self.lastFinished = lastFinished
    self.trainer = trainer
    self.corrections = corrections
    self.promoted = promoted
    self.autoAfter = autoAfter
  }
}

/// How a queued job gets its trainer.
public enum TrainerLaunch: Equatable, Sendable {
  /// Nothing was queued, so nothing was started.
  case none
  /// `blastview train --job ID` started as this process.
  case started(pid: Int32)
  /// A trainer already holds the lock (`train --watch`): it runs the job.
  case handedTo(TrainerLockHolder)
  case failed(String)
}

/// The keys of retraining and the model screen.
public enum RetrainAction: Equatable, Hashable, Sendable {
  case queue, openModels, promoteSelected, rollback
}

/// The first status read, with the app's other start effects.
func retrainStartEffects(_ s: AppState) -> [Effect] { [.retrain(.loadStatus)] }

/// Retraining's share of a session event: when the poll says another process committed.
func retrainChangeEffects(_ before: AppState, _ e: SessionEvent) -> [Effect] {
  guard case .changesPolled(let v) = e, let previous = before.changeVersion, previous != v else { return [] }
  return retrainRefreshEffects(before)
}

/// Another process committed: the job's progress may have moved, a model may have been
/// promoted.
func retrainRefreshEffects(_ s: AppState) -> [Effect] {
  [.retrain(.loadStatus)] + (s.screen == .models ? [.retrain(.loadModels)] : [])
}

func retrainUpdate(_ state: AppState, _ event: RetrainEvent) -> (AppState, [Effect]) {
  var s = state
  switch event {
  case .statusLoaded(let st):
    let previous = s.retrain.job
    s.retrain.job = st.job
    s.retrain.trainer = st.trainer
    s.retrain.corrections = st.corrections
    s.retrain.autoAfter = st.autoAfter
    var effects: [Effect] = []
    if s.modelVersion != st.promoted {
      s.modelVersion = st.promoted
      // The browser's badges are the promoted model's: reload what is on screen.
      if s.screen == .browser, let request = s.pageRequest { effects += [.loadPage(request)] }
      if s.screen == .models { effects.append(.retrain(.loadModels)) }
    }
    // The job I was following ended: say how.
    if let previous, st.job?.id != previous.id, let done = st.lastFinished, done.id == previous.id {
      s.status = finishedMessage(done)
      if s.screen == .models { effects.append(.retrain(.loadModels)) }
    }
    // My request on a shared workspace was dealt with: its job is followed from here on, or
    // the trainer said why it queued none.
    if let pending = s.retrain.pendingRequest, let r = st.request, r.id == pending, r.handled {
      s.retrain.pendingRequest = nil
      if r.jobID == nil {
        s.status = StatusMessage(
          "Retraining not queued: " + Sanitizer.sanitize(r.outcome ?? "the trainer gave no reason"), .info)
      } else if st.job?.id != r.jobID, let done = st.lastFinished, done.id == r.jobID {
        // Its job ran and ended between two reads: say how.
        s.status = finishedMessage(done)
      }
    }
    // The automatic trigger: enough corrections wait and nothing runs.
    if st.job == nil, let n = st.autoAfter, let c = st.corrections, c.total >= n, st.promoted != nil {
      effects.append(.retrain(.queue(reason: "auto: \(c.total) corrections (auto_retrain_after \(n))")))
    }
    return (s, effects)
  case .queued(let request, let trainer):
    // A new job, or one left queued with no trainer (one that failed to start, or whose
    // watcher was stopped, which would block every later T), needs a trainer; a trainer that
    // holds the lock (`train --watch`) runs queued jobs itself.
    let needsTrainer: Bool
    switch request {
    case .queued: needsTrainer = true
    case .alreadyActive(let job): needsTrainer = job.status == .queued
    case .noModel, .nothingToLearn: needsTrainer = false
    }
    guard needsTrainer else { return retrainUpdate(s, .launched(request, launch: .none)) }
    if let trainer { return retrainUpdate(s, .launched(request, launch: .handedTo(trainer))) }
    return (s, [.retrain(.launchTrainer(request))])
  case .launched(let request, let launch):
    switch request {
    case .queued(let job, let c):
      s.retrain.job = job
      let what = job.tasks.joined(separator: " then ")
      let from = "\(c.labels) label, \(c.masks) mask corrections"
      switch launch {
      case .started(let pid):
        s.status = StatusMessage("Retraining job \(job.id) started (pid \(pid)): \(what) from \(from)", .ok)
      case .handedTo(let holder):
        s.status = StatusMessage(
          "Retraining job \(job.id) queued (\(what), \(from)); the trainer \(Sanitizer.sanitize(holder.summary)) runs it",
          .ok)
      case .failed(let why):
        s.status = StatusMessage(
          "Retraining job \(job.id) queued but its trainer did not start: \(Sanitizer.sanitize(why))", .error)
      case .none:
        s.status = StatusMessage("Retraining job \(job.id) queued", .ok)
      }
    case .alreadyActive(let job):
      s.retrain.job = job
      switch launch {
      case .started(let pid):
        s.status = StatusMessage(
          "Training job \(job.id) was queued with no trainer running: started one (pid \(pid))", .ok)
      case .failed(let why):
        s.status = StatusMessage(
          "Training job \(job.id) is queued but its trainer did not start: \(Sanitizer.sanitize(why))", .error
        )
      case .none, .handedTo:
        s.status = StatusMessage(
          "Training job \(job.id) is already \(job.status.rawValue): \(jobProgressText(job))")
      }
    case .noModel:
      s.status = StatusMessage(
        "No model is promoted: there is nothing to retrain ("
          + View.command(s, ["predict"], ["--all-cases"], placeholders: "--model FILE") + ")",
        .error)
    case .nothingToLearn(let c):
      s.status = StatusMessage(
        "No label or mask correction since v\(c.since ?? 0) was trained: nothing to retrain on")
    }
    return (s, [])
  case .modelsLoaded(let models, let promotions):
    s.retrain.models = models
    s.retrain.promotions = promotions
    s.retrain.loaded = true
    s.retrain.selection = min(s.retrain.selection, max(0, models.count - 1))
    if let promoted = models.first(where: \.isPromoted)?.version { s.modelVersion = promoted }
    return (s, [])
  case .requested(let id, let created):
    s.retrain.pendingRequest = id
    s.status = StatusMessage(
      created
        ? "Retraining requested: the workspace's trainer (blastview train --watch on the server) queues it; this line follows the job"
        : "Your retraining request is still waiting for the workspace's trainer (blastview train --watch on the server)",
      .ok)
    return (s, [])
  case .promoted(let version, let rollback):
    s.modelVersion = version
    s.status = StatusMessage(rollback ? "Rolled back to v\(version)" : "Promoted v\(version)", .ok)
    var effects: [Effect] = [.retrain(.loadModels), .retrain(.loadStatus)]
    if let request = s.pageRequest { effects.append(.loadPage(request)) }
    return (s, effects)
  }
}

/// How a finished job ended, for the status line.
func finishedMessage(_ job: TrainingJob) -> StatusMessage {
  switch job.status {
  case .succeeded:
    let text = Sanitizer.sanitize(job.message ?? "finished")
    return StatusMessage(
      "Retraining job \(job.id) finished: \(text)", text.contains("not promoted") ? .info : .ok)
  case .failed:
    return StatusMessage(
      "Retraining job \(job.id) failed: \(Sanitizer.sanitize(job.error ?? "unknown error"))", .error)
  case .cancelled:
    return StatusMessage("Retraining job \(job.id) was cancelled")
  case .queued, .running:
    return StatusMessage("Retraining job \(job.id) is \(job.status.rawValue)")
  }
}

/// Keys from the browser and the case view (and the model screen's `T`).
func retrainAction(_ state: AppState, _ action: RetrainAction) -> (AppState, [Effect]) {
  var s = state
  switch action {
  case .queue:
    // The store decides (one job per workspace) and the answer says which job runs.
    return (s, [.retrain(.queue(reason: "T pressed by \(s.rater)"))])
  case .openModels:
    if s.screen != .models { s.retrain.returnTo = s.screen }
    s.retrain.confirm = nil
    s.screen = .models
    return (s, [.retrain(.loadModels), .retrain(.loadStatus)])
  case .promoteSelected, .rollback:
    return (s, [])
  }
}

/// The model screen's keys; nil for the ones it shares (help, quit, queue).
func modelScreenAction(_ s: inout AppState, _ action: Action) -> [Effect]? {
  switch action {
  case .back:
    s.screen = s.retrain.returnTo
    s.retrain.confirm = nil
    return []
  case .up:
    s.retrain.selection = max(0, s.retrain.selection - 1)
    return []
  case .down:
    s.retrain.selection = min(max(0, s.retrain.models.count - 1), s.retrain.selection + 1)
    return []
  case .firstPage:
    s.retrain.selection = 0
    return []
  case .retrain(.promoteSelected):
    guard let m = s.retrain.selected else { return [] }
    if m.isPromoted {
      s.status = StatusMessage("v\(m.version) is already the promoted model")
      return []
    }
    s.retrain.confirm = .promote(m.version)
    let gate = gateLine(m).map { " (\($0))" } ?? ""
    s.status = StatusMessage(
      "Promote v\(m.version)\(Sanitizer.sanitize(gate))? y promotes, other keys cancel", .error)
    return []
  case .retrain(.rollback):
    guard let current = s.retrain.models.first(where: \.isPromoted) else {
      s.status = StatusMessage("No model is promoted: nothing to roll back", .error)
      return []
    }
    guard let target = rollbackTarget(current: current, s.retrain) else {
      s.status = StatusMessage("v\(current.version) has no earlier version to roll back to", .error)
      return []
    }
    s.retrain.confirm = .rollback(from: current.version, to: target)
    s.status = StatusMessage(
      "Roll back from v\(current.version) to v\(target)? y rolls back, other keys cancel", .error)
    return []
  default:
    return nil
  }
}

/// The roll back target as `CaseStore.rollbackTarget` chooses it, from the loaded registry: the
/// promoted version's parent, else the version promoted before it.
func rollbackTarget(current: ModelVersion, _ r: RetrainState) -> Int64? {
  if let p = current.parent, r.models.contains(where: { $0.version == p }) { return p }
  return r.promotions.first { $0.version != current.version }?.version
}

/// The answer to "promote?" / "roll back?": y does it, anything else cancels.
func retrainConfirmKey(_ state: AppState, _ key: KeyPress) -> (AppState, [Effect])? {
  var s = state
  guard s.screen == .models, let change = s.retrain.confirm else { return nil }
  s.retrain.confirm = nil
  guard key == KeyPress("y") else {
    s.status = StatusMessage("Nothing changed")
    return (s, [])
  }
  switch change {
  case .promote(let v):
    s.status = StatusMessage("Promoting v\(v)…")
    return (s, [.retrain(.promote(version: v, reason: "promoted by \(s.rater) on the model screen"))])
  case .rollback(let from, let to):
    s.status = StatusMessage("Rolling back to v\(to)…")
    return (
      s,
      [.retrain(.promote(version: to, reason: "rolled back from v\(from) by \(s.rater) on the model screen"))]
    )
  }
}

/// "cls 2/10 · batch 14/80 · loss 0.412 · ETA 3:10" (or "queued").
/// `compact` ("cls e2/10 · b14/80 · loss 0.412 · ETA 3:10") fits an 80-column status line.
func jobProgressText(_ job: TrainingJob, compact: Bool = false) -> String {
  guard job.status == .running else { return job.status.rawValue }
  var parts: [String] = []
  if let e = job.epoch, let n = job.totalEpochs {
    let task = job.message.map {
      $0.hasPrefix("segmentation") ? "seg " : $0.hasPrefix("classification") ? "cls " : ""
    }
    parts.append("\(task ?? "")\(compact ? "e" : "epoch ")\(e)/\(n)")
  }
  if let b = job.batch, let n = job.totalBatches { parts.append("\(compact ? "b" : "batch ")\(b)/\(n)") }
  if let l = job.loss { parts.append(String(format: "loss %.3f", l)) }
  if let eta = job.etaSeconds { parts.append("ETA \(durationText(eta))") }
  if parts.isEmpty || job.epoch == nil, let m = job.message { parts.append(Sanitizer.sanitize(m)) }
  return parts.joined(separator: " · ")
}

/// "42s", "3:05", "1:02:03".
func durationText(_ seconds: Double) -> String {
  guard seconds.isFinite, seconds >= 0 else { return "?" }
  let t = Int(seconds.rounded())
  if t < 60 { return "\(t)s" }
  if t < 3600 { return String(format: "%d:%02d", t / 60, t % 60) }
  return String(format: "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60)
}

/// The gate's verdict stored with a version, if it has one.
func gateLine(_ m: ModelVersion) -> String? {
  guard case .object(let gate)? = m.metrics["gate"], case .string(let reason)? = gate["reason"] else {
    return m.notes
  }
  if case .bool(let promote)? = gate["promote"] {
    return (promote ? "gate passed: " : "gate failed: ") + reason
  }
  return reason
}
