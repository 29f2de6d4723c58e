import ArgumentParser
import CaseStore
import Foundation
import MTACNN
import NeuralEngine
import Terminal
import Workflows

/// `train --job ID`, `train --watch`, `train --queue`: retraining from the workspace's
/// corrections (issue 8; docs/retraining.md).
struct RetrainingModeOptions: ParsableArguments {
  @Option(help: ArgumentHelp("Run the queued retraining job ID of the workspace.", valueName: "id"))
  var job: Int64?

  @Flag(help: "Headless retraining loop: queue a job after enough new corrections and run queued jobs.")
  var watch = false

  @Flag(help: "Queue a retraining job of the promoted model on the corrections since it was trained.")
  var queue = false

  @Option(
    help: ArgumentHelp(
      "With --watch: queue a retraining after N new corrections (default: the workspace's auto_retrain_after, else 10).",
      valueName: "n"))
  var after: Int?

  @Option(help: ArgumentHelp("With --watch: seconds between checks.", valueName: "seconds"))
  var poll: Double = 5

  @Flag(help: "With --watch: exit when no job is queued and too few corrections wait (scripts, tests).")
  var untilIdle = false

  var isRetraining: Bool { job != nil || watch || queue }
}

extension TrainCommand {
  func validateRetraining() throws {
    let modes = [retraining.job != nil, retraining.watch, retraining.queue].filter { $0 }.count
    guard modes == 1 else { throw ValidationError("give one of --job ID, --watch and --queue") }
    if fromWorkspace || folder.data != nil || outOption != nil || initFrom != nil || freeze != nil {
      throw ValidationError(
        "--job, --watch and --queue train the workspace's promoted model on its corrections: "
          + "leave out --data, --from-workspace, --out, --init and --freeze")
    }
    if let e = epochsOption, e < 1 { throw ValidationError("--epochs must be at least 1") }
    if let b = batchOption, b < 1 { throw ValidationError("--batch must be at least 1") }
    if let p = patienceOption, p < 1 { throw ValidationError("--patience must be at least 1") }
    if let l = lrOption, !(l > 0 && l.isFinite) { throw ValidationError("--lr must be positive") }
    if let a = retraining.after, a < 1 { throw ValidationError("--after must be at least 1") }
    guard retraining.poll > 0 else { throw ValidationError("--poll must be positive") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    if tasks != nil && !retraining.queue { throw ValidationError("--tasks goes with --queue") }
  }

  /// The settings given on the command line, recorded in a queued job's trigger.
  var retrainOptionOverrides: [String: JSONValue] {
    var o: [String: JSONValue] = [:]
    if let e = epochsOption { o["epochs"] = .number(Double(e)) }
    if let b = batchOption { o["batch"] = .number(Double(b)) }
    if let p = patienceOption { o["patience"] = .number(Double(p)) }
    if let l = lrOption { o["lr"] = .number(Double(l)) }
    if seed != 0 { o["seed"] = .number(Double(seed)) }
    if let m = maxBatches { o["max_batches"] = .number(Double(m)) }
    return o
  }

  func runRetraining() throws {
    // A shared workspace's trainer is its service role: the store refuses anyone else, and
    // PostgreSQL refuses them too (no table rights; registering checks the role).
    let store = try workspace.openRetrainingStore()
    if retraining.queue {
      try queueJob(store)
      return
    }
    installStopSignals()
    defer {
      signal(SIGINT, SIG_DFL)
      signal(SIGTERM, SIG_DFL)
    }
    let purpose = retraining.job.map { "job \($0)" } ?? "watch"
    do { try store.acquireTrainerLock(purpose: purpose, staleAfter: 600) } catch { throw CLIError(error) }
    defer { try? store.releaseTrainerLock() }
    // A trainer that died (SIGKILL, power loss) left its job running: fail it now.
    for id in (try? store.reapDeadTrainingJobs(staleAfter: 600)) ?? [] {
      printError("training job \(id) was left running by a trainer that is gone: marked failed")
    }
    removeLeftoverScratch(store)
    if let id = retraining.job {
      let outcome = try runJob(store, id)
      if json, let o = outcome { try JSONOutput.print(JobSummary(o, job: id)) }
      if trainingInterrupted.load(ordering: .relaxed) { throw ExitCode(130) }
      let job = try? store.trainingJob(id: id)
      if job?.status != .succeeded { throw ExitCode(1) }
      return
    }
    try watchLoop(store)
  }

  private func runJob(_ store: any RetrainingStore, _ id: Int64) throws -> RetrainJob.Outcome? {
    let quiet = json
    let job = RetrainJob(
      store: store, jobID: id, threads: threads ?? Threads.available,
      log: { if !quiet { printError($0) } },
      warn: { printError($0) },
      output: {
        guard !quiet else { return }
        print(Sanitizer.sanitize($0, mode: .text))
        fflush(nil)
      },
      shouldStop: { trainingInterrupted.load(ordering: .relaxed) })
    do { return try job.run() } catch { throw CLIError(error) }
  }

  private func queueJob(_ store: any RetrainingStore) throws {
    let chosen = try tasks.map { text throws -> [String] in
      do { return try ModelTask.parseList(text).map(\.rawValue) } catch { throw CLIError(error) }
    }
    let result: RetrainRequest
    do {
      result = try store.queueRetraining(
        reason: "blastview train --queue", by: defaultRaterName(), tasks: chosen,
        options: retrainOptionOverrides)
    } catch { throw CLIError(error) }
    switch result {
    case .queued(let job, let c):
      if json {
        try JSONOutput.print(QueueSummary(job: job.id, tasks: job.tasks, labels: c.labels, masks: c.masks))
      } else {
        print(
          "queued training job \(job.id): \(job.tasks.joined(separator: " then ")) of v\(job.parentModel ?? 0) "
            + "(\(c.labels) label and \(c.masks) mask corrections); run it with blastview train --job \(job.id)"
        )
      }
    case .alreadyActive(let job):
      throw CLIError(
        message: "training job \(job.id) is already \(job.status.rawValue)"
          + (job.pid.map { " (pid \($0))" } ?? "")
          + (job.status == .queued
            ? "; run it with blastview train --job \(job.id)" : "; one trainer per workspace"))
    case .noModel:
      throw CLIError(
        message: "no model is promoted: promote one first (blastview predict --all-cases --model FILE)")
    case .nothingToLearn(let c):
      throw CLIError(
        message: "no label or mask correction since v\(c.since ?? 0) was trained: nothing to learn from "
          + "(give --tasks cls,seg to retrain anyway)")
    }
  }

  /// The headless loop: run whatever job is queued (the review app's T queues them when this
  /// loop holds the lock), else queue one once enough corrections wait.
  private func watchLoop(_ store: any RetrainingStore) throws {
    let threshold = retraining.after ?? (try? store.autoRetrainAfter()).flatMap { $0 } ?? 10
    if !json {
      print(
        "watching \(Sanitizer.sanitize(store.workspace.directory)) (pid \(getpid())): retraining after \(threshold) corrections; Ctrl-C stops"
      )
      fflush(nil)
    }
    var predictions = NewCasePredictions()
    while !trainingInterrupted.load(ordering: .relaxed) {
      try? store.refreshTrainerLock()
      _ = try? store.reapDeadTrainingJobs(staleAfter: 600)
      if let job = try? store.activeTrainingJob(), job.status == .queued {
        _ = try runJob(store, job.id)
        continue
      }
      predictions.fill(store, batch: batchOption ?? 16, quiet: json)
      var idle = true
      // A shared workspace's raters ask with T in the review app: their requests become a job.
      if let shared = store as? PostgresStore, let requests = try? shared.pendingRetrainRequests(),
        !requests.isEmpty, settleRetrainRequests(shared, requests)
      {
        continue
      }
      // New corrections since the last job: a version the gate refused is not retrained on the
      // same corrections again and again.
      if let c = (try? store.correctionsSinceLastRetraining()) ?? nil, c.total >= threshold {
        let r = try? store.queueRetraining(
          reason: "train --watch: \(c.total) corrections", by: nil, tasks: nil,
          options: retrainOptionOverrides)
        if case .queued(let job, _)? = r {
          if !json { print("queued training job \(job.id) after \(c.total) corrections") }
          idle = false
        }
      }
      if idle && retraining.untilIdle { break }
      if !idle { continue }
      // Sleep in short steps so Ctrl-C is prompt.
      let until = Date().addingTimeInterval(retraining.poll)
      while Date() < until && !trainingInterrupted.load(ordering: .relaxed) { usleep(100_000) }
    }
  }

  /// Turns the pending requests of a shared workspace's raters into one job, or settles them
  /// with the reason none was queued (the requester's status line shows it). True when a job
  /// was queued (the loop runs it next).
  private func settleRetrainRequests(_ store: PostgresStore, _ requests: [PendingRetrainRequest]) -> Bool {
    let who = Array(Set(requests.map(\.requestedBy))).sorted()
    let ids = requests.map(\.id)
    let outcome: String
    do {
      switch try store.queueRetraining(
        reason: "T pressed by \(who.joined(separator: ", "))", by: who.first, tasks: nil,
        options: retrainOptionOverrides)
      {
      case .queued(let job, _):
        try store.settleRetrainRequests(ids, job: job.id, outcome: "queued as training job \(job.id)")
        if !json {
          print(
            "queued training job \(job.id) at the request of \(Sanitizer.sanitize(who.joined(separator: ", ")))"
          )
        }
        return true
      case .alreadyActive:
        return false  // dealt with once that job has ended
      case .noModel:
        outcome = "no model is promoted, so there is nothing to retrain"
      case .nothingToLearn(let c):
        outcome =
          "no label or mask correction since v\(c.since ?? 0) was trained, so there is nothing to retrain on"
      }
      try store.settleRetrainRequests(ids, job: nil, outcome: outcome)
    } catch {
      printError("cannot act on the retraining requests: \(error)")
    }
    return false
  }

  /// Scratch checkpoints (`models/.job-ID/`) of jobs that are no longer active: what a killed
  /// trainer left behind. Never a registered model (those are `models/vN.safetensors`).
  private func removeLeftoverScratch(_ store: any RetrainingStore) {
    let dir = store.workspace.modelsDirectory
    let active = (try? store.activeTrainingJob())?.id
    for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    where name.hasPrefix(".job-") {
      guard let id = Int64(name.dropFirst(5)), id != active else { continue }
      try? FileManager.default.removeItem(atPath: dir + "/" + name)
    }
  }

  /// Ctrl-C or SIGTERM: stop after the current batch (the job ends cancelled, nothing is
  /// registered); a second signal ends the process at once.
  private func installStopSignals() {
    trainingInterrupted.store(false, ordering: .relaxed)
    for sig in [SIGINT, SIGTERM] {
      signal(sig) { s in
        if trainingInterrupted.load(ordering: .relaxed) {
          signal(s, SIG_DFL)
          raise(s)
          return
        }
        trainingInterrupted.store(true, ordering: .relaxed)
      }
    }
    var unblock = sigset_t()
    sigemptyset(&unblock)
    sigaddset(&unblock, SIGINT)
    sigaddset(&unblock, SIGTERM)
    sigprocmask(SIG_UNBLOCK, &unblock, nil)
  }
}

struct QueueSummary: Encodable {
  var job: Int64
  var tasks: [String]
  var labels: Int
  var masks: Int
}

struct JobSummary: Encodable {
  var job: Int64
  var version: Int64
  var parent: Int64?
  var promoted: Bool
  var reason: String
  var frozenVerified: Bool?
  var trainedTasks: [String]
  var frozenTasks: [String]
  var predicted: Int
  var gate: ValidationGate.Decision

  init(_ o: RetrainJob.Outcome, job: Int64) {
    self.job = job
    version = o.version.version
    parent = o.version.parent
    promoted = o.decision.promote
    reason = o.decision.reason
    frozenVerified = o.frozenVerified
    trainedTasks = o.version.trainedTasks
    frozenTasks = o.version.frozenTasks
    predicted = o.predicted
    gate = o.decision
  }

  enum CodingKeys: String, CodingKey {
    case job, version, parent, promoted, reason, predicted, gate
    case frozenVerified = "frozen_verified"
    case trainedTasks = "trained_tasks"
    case frozenTasks = "frozen_tasks"
  }
}

/// The trainer predicts cases that have no prediction from the promoted model (new imports):
/// on a shared workspace only the service role stores predictions, so without this a
/// department's imported cases would wait for someone to run `predict --all-cases`; on an
/// embedded one it saves the review app the work. The same lock as every other predictor. A
/// model that cannot load or predict is not tried again by this loop; cases whose image cannot
/// be read are not retried until the number of cases changes.
struct NewCasePredictions {
  private var failedVersions: Set<Int64> = []
  private var settled: (version: Int64, cases: Int)? = nil

  mutating func fill(_ store: any RetrainingStore, batch: Int, quiet: Bool) {
    guard let version = (try? store.promotedModel()) ?? nil, !failedVersions.contains(version.version),
      let missing = try? store.casesMissingPrediction(model: version.version, limit: 1), !missing.isEmpty
    else { return }
    let cases = (try? store.caseCount()) ?? 0
    if let s = settled, s.version == version.version, s.cases == cases { return }
    guard let lock = PredictionLock.acquire(store: store, version: version.version) else {
      return
    }
    defer { lock.release() }
    do {
      let (net, meta) = try ModelCheckpoint.load(path: try store.verifiedModelFile(version))
      let summary = try WorkspacePredictions.fill(
        store: store, version: version, net: net, batch: batch, colourReference: meta.colourReference,
        shouldStop: { trainingInterrupted.load(ordering: .relaxed) }, skipped: { printError($0) })
      if summary.skipped > 0 { settled = (version.version, cases) }
      if !quiet && summary.predicted > 0 {
        print("predicted \(summary.predicted) new cases with v\(version.version)")
        fflush(nil)
      }
    } catch {
      failedVersions.insert(version.version)
      let message = String(describing: error)
      try? store.recordPredictionFailure(model: version.version, message: message)
      printError("cannot predict new cases with v\(version.version): \(Sanitizer.sanitize(message))")
    }
  }
}
