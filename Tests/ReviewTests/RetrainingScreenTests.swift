import Foundation
import Testing
import Workflows

@testable import CaseStore
@testable import Review
@testable import Terminal

/// Issue 8's retraining in the review app: the status-line item and the model screen as pure
/// views, the update of T / promote / roll back, and their effects on a real store (the
/// trainer itself is another process: here a stand-in executable).
@Suite struct RetrainingScreenTests {
  static func state(rows: Int = 30, columns: Int = 120) -> AppState {
    AppState(
      rows: rows, columns: columns, graphics: false, schema: .all4, rater: "alice", workspaceName: "ws",
      modelVersion: 1, totalCases: 20)
  }

  static func job(_ id: Int64 = 5, status: JobStatus = .running) -> TrainingJob {
    TrainingJob(
      id: id, status: status, tasks: ["classification"], trigger: .null, parentModel: 1, resultModel: nil,
      progress: 0.3, epoch: 2, totalEpochs: 10, batch: 14, totalBatches: 80, loss: 0.41234, etaSeconds: 190,
      message: "classification (stage 1/1)", pid: 4242, createdAt: Date(), startedAt: Date(),
      heartbeatAt: Date(),
      finishedAt: nil, error: nil)
  }

  static func version(
    _ v: Int64, parent: Int64?, promoted: Bool, metrics: JSONValue = .object([:]), trained: [String] = [],
    frozen: [String] = [], verified: Bool? = nil
  ) -> ModelVersion {
    ModelVersion(
      version: v, parent: parent, file: "/ws/models/v\(v).safetensors",
      sha256: String(repeating: "0", count: 64),
      tasks: ["classification", "segmentation"], trainedTasks: trained, frozenTasks: frozen,
      frozenVerified: verified, metrics: metrics, config: .null, trainingJobID: parent == nil ? nil : 7,
      trainedThroughAnnotation: nil, notes: nil, createdAt: Date(), isPromoted: promoted,
      promotedAt: promoted ? Date() : nil)
  }

  /// v2 retrained from v1 (classification, segmentation frozen and verified), three epochs of
  /// curves, failed the gate; v1 promoted.
  static var registry: [ModelVersion] {
    let curves: [JSONValue] = [(1.0, 0.9, 0.5), (0.5, 0.7, 0.75), (0.25, 0.8, 1.0)].enumerated().map { i, p in
      .object([
        "epoch": .number(Double(i + 1)), "train_loss": .number(p.0), "val_loss": .number(p.1),
        "val_metric": .number(p.2), "val_metric_name": .string("macro_f1"),
      ])
    }
    let metrics: JSONValue = .object([
      "macro_f1": .number(0.9), "dice": .number(0.8), "training_seconds": .number(95),
      "curves": .array(curves),
      "gate": .object([
        "promote": .bool(false),
        "reason": .string("macro-F1 0.900 is worse than v1's 0.950 by more than 0.01"),
      ]),
    ])
    return [
      version(
        2, parent: 1, promoted: false, metrics: metrics, trained: ["classification"],
        frozen: ["segmentation"],
        verified: true),
      version(1, parent: nil, promoted: true, metrics: .object(["macro_f1": .number(0.95)])),
    ]
  }

  // MARK: Pure views

  @Test func theStatusLineShowsTheRunningJob() {
    var s = Self.state()
    #expect(View.retrainStatusText(s) == nil)
    s.retrain.job = Self.job()
    let f = View.render(s)
    let last = f.text(row: s.rows - 1)
    #expect(last.hasSuffix("⟳ training v1: cls epoch 2/10 · batch 14/80 · loss 0.412 · ETA 3:10"), "\(last)")
    // The key hints stay on the left.
    #expect(last.hasPrefix(" Enter open"))
    // At 80 columns, the compact form.
    var narrow = s
    narrow.columns = 80
    #expect(
      View.render(narrow).text(row: s.rows - 1).hasSuffix("⟳ cls e2/10 · b14/80 · loss 0.412 · ETA 3:10"))
    s.retrain.job = Self.job(status: .queued)
    #expect(View.render(s).text(row: s.rows - 1).hasSuffix("⟳ job 5 queued"))
  }

  @Test func textPlotPutsEachPointInItsCell() {
    // Hand-worked: 3 points over 11 columns go to columns 0, 5, 10; values 1, 0.5, 0 on 3 rows
    // (top = high) to rows 0, 1, 2.
    let plot = TextPlot(series: [.init(name: "loss", values: [1, 0.5, 0], glyph: "*", style: Style(.text))])
    #expect(plot.low == 0 && plot.high == 1)
    #expect(plot.cell(index: 0, count: 3, value: 1, width: 11, height: 3) == (0, 0))
    #expect(plot.cell(index: 1, count: 3, value: 0.5, width: 11, height: 3) == (1, 5))
    #expect(plot.cell(index: 2, count: 3, value: 0, width: 11, height: 3) == (2, 10))
    var f = Frame(rows: 3, columns: 19)
    plot.draw(into: &f, rect: CellRect(row: 0, column: 0, rows: 3, columns: 19))
    #expect(f.text(row: 0) == "  1.000┤*")
    #expect(f.text(row: 1) == "       ┤     *")
    #expect(f.text(row: 2) == "  0.000┤          *")
  }

  @Test func theModelScreenListsVersionsWithTheirLineageGateAndCurves() {
    var s = Self.state(rows: 30, columns: 120)
    s.screen = .models
    s.retrain.models = Self.registry
    s.retrain.loaded = true
    let f = View.render(s)
    #expect(
      f.text(row: 1) == " Models · promoted v1 · gate: F1, Dice ≥ promoted − 0.01, loss ≤ +5%")
    #expect(f.text(row: 2) == ("  ver   parent trained  frozen     macro-F1  Dice    time     state"))
    #expect(
      f.text(row: 3)
        == "▶ v2    v1     cls      seg ✓      0.900     0.800   1:35     gate failed")
    #expect(
      f.text(row: 4)
        == "  v1    —      —        —          0.950     —       —        promoted")
    #expect(f.contains("v2 · from v1 · job 7 · trained classification · in 1:35"))
    #expect(f.contains("frozen: segmentation · verified byte-identical to v1"))
    #expect(f.contains("gate failed: macro-F1 0.900 is worse than v1's 0.950 by more than 0.01"))
    #expect(f.contains("· train  • validation"))
    #expect(f.contains("× validation macro-F1"))
    // Labelled axes (issue 18, item 5): the y quantities above the plots, the epochs below.
    #expect(f.contains("loss per epoch") && f.contains("macro-F1 (0–1) per epoch"))
    #expect(f.contains("  epoch ") && f.contains("└┬"))
    // The curves: find the plots' top rows; train loss 1.0 (the maximum of both loss series) sits
    // top-left, macro-F1 1.0 top-right of its plot.
    let top = f.find("  1.000┤")!
    #expect(f[top.row, 9].character == "·")
    #expect(f.text(row: top.row).hasSuffix("×"))
    // The newest epoch's validation macro-F1 (1.0) is the last column of the metric plot, and
    // the lowest train loss (0.25) the bottom row of the loss plot.
    let bottom = try! #require(f.find("  0.250┤"))
    #expect(bottom.row > top.row + 4)
    #expect(f.text(row: bottom.row).contains("  0.000┤"))
  }

  // MARK: Update

  @Test func tQueuesAndTheAnswerSaysWhoTrains() {
    let s = Self.state()
    let (_, effects) = update(s, .input(.key(KeyPress("T"))))
    #expect(effects == [.retrain(.queue(reason: "T pressed by alice"))])
    let c = CorrectionSummary(labels: 3, masks: 0, throughAnnotation: 9, throughAdjudication: 0, since: 1)
    // Nobody holds the trainer lock: update asks the runner to start a trainer for the job.
    let queued = RetrainRequest.queued(Self.job(status: .queued), c)
    let (waiting, launch) = update(s, .retrain(.queued(queued, trainer: nil)))
    #expect(launch == [.retrain(.launchTrainer(queued))])
    #expect(waiting.status == s.status)
    var (next, _) = update(s, .retrain(.launched(queued, launch: .started(pid: 42))))
    #expect(
      next.status?.text
        == "Retraining job 5 started (pid 42): classification from 3 label, 0 mask corrections")
    #expect(next.retrain.job?.id == 5)
    // A trainer holds the lock: it runs the job, nothing is started.
    let holder = try! JSONDecoder().decode(
      TrainerLockHolder.self,
      from: Data(#"{"pid": 77, "host": "lab-1", "purpose": "watch", "since": 0, "heartbeat": 0}"#.utf8))
    var later: [Effect]
    (next, later) = update(s, .retrain(.queued(queued, trainer: holder)))
    #expect(later.isEmpty)
    #expect(
      next.status?.text.hasPrefix(
        "Retraining job 5 queued (classification, 3 label, 0 mask corrections); the trainer") == true)
    // A job already running needs no trainer; one left queued without one gets one.
    (next, later) = update(s, .retrain(.queued(.alreadyActive(Self.job()), trainer: nil)))
    #expect(later.isEmpty)
    #expect(next.status?.text.hasPrefix("Training job 5 is already running: cls epoch 2/10") == true)
    let stuck = RetrainRequest.alreadyActive(Self.job(status: .queued))
    (_, later) = update(s, .retrain(.queued(stuck, trainer: nil)))
    #expect(later == [.retrain(.launchTrainer(stuck))])
    (next, later) = update(s, .retrain(.queued(.nothingToLearn(c), trainer: nil)))
    #expect(later.isEmpty)
    #expect(next.status?.text == "No label or mask correction since v1 was trained: nothing to retrain on")
  }

  @Test func statusRefreshesOnExternalChangesAndReportsTheEnd() {
    var s = Self.state()
    s.changeVersion = 3
    let (_, polled) = update(s, .sessions(.changesPolled(version: 4)))
    #expect(polled.contains(.retrain(.loadStatus)))
    let (_, same) = update(s, .sessions(.changesPolled(version: 3)))
    #expect(!same.contains(.retrain(.loadStatus)))

    s.retrain.job = Self.job()
    var done = Self.job()
    done.status = .succeeded
    done.message = "v2 promoted"
    let (next, _) = update(
      s, .retrain(.statusLoaded(RetrainStatus(job: nil, lastFinished: done, promoted: 2))))
    #expect(next.retrain.job == nil)
    #expect(next.modelVersion == 2)
    #expect(next.status == StatusMessage("Retraining job 5 finished: v2 promoted", .ok))

    // Automatic: enough corrections and nothing running queue a job.
    var auto = Self.state()
    auto.retrain.job = nil
    let c = CorrectionSummary(labels: 12, masks: 0, throughAnnotation: 12, throughAdjudication: 0, since: 1)
    let (_, effects) = update(
      auto, .retrain(.statusLoaded(RetrainStatus(corrections: c, promoted: 1, autoAfter: 10))))
    #expect(effects == [.retrain(.queue(reason: "auto: 12 corrections (auto_retrain_after 10)"))])
    let (_, below) = update(
      auto, .retrain(.statusLoaded(RetrainStatus(corrections: c, promoted: 1, autoAfter: 20))))
    #expect(below.isEmpty)
  }

  @Test func promoteAndRollBackAskFirst() {
    var s = Self.state()
    let (opened, effects) = update(s, .input(.key(KeyPress("V"))))
    #expect(opened.screen == .models)
    #expect(effects == [.retrain(.loadModels), .retrain(.loadStatus)])
    s = opened
    (s, _) = update(s, .retrain(.modelsLoaded(Self.registry, [])))
    // p on v2: asks; n cancels; p then y promotes with the reason.
    (s, _) = update(s, .input(.key(KeyPress("p"))))
    #expect(s.retrain.confirm == .promote(2))
    #expect(s.status?.text.hasPrefix("Promote v2 (gate failed: macro-F1 0.900") == true)
    let (cancelled, none) = update(s, .input(.key(KeyPress("n"))))
    #expect(none.isEmpty && cancelled.retrain.confirm == nil && cancelled.status?.text == "Nothing changed")
    var promoteEffects: [Effect]
    (s, promoteEffects) = update(s, .input(.key(KeyPress("y"))))
    #expect(
      promoteEffects == [.retrain(.promote(version: 2, reason: "promoted by alice on the model screen"))])
    // After v2 is promoted, R rolls back to its parent.
    var registry = Self.registry
    registry[0].isPromoted = true
    registry[1].isPromoted = false
    (s, _) = update(s, .retrain(.modelsLoaded(registry, [])))
    (s, _) = update(s, .input(.key(KeyPress("R"))))
    #expect(s.retrain.confirm == .rollback(from: 2, to: 1))
    (s, promoteEffects) = update(s, .input(.key(KeyPress("y"))))
    #expect(
      promoteEffects == [
        .retrain(.promote(version: 1, reason: "rolled back from v2 by alice on the model screen"))
      ])
    let (back, _) = update(s, .input(.key(KeyPress(.escape))))
    #expect(back.screen == .browser)
    // Its help lists every key, in full.
    let (help, _) = update(s, .input(.key(KeyPress("?"))))
    let f = View.render(help)
    #expect(f.contains("Keys: models"))
    for binding in KeyMap.models { #expect(f.contains(binding.help), "\(binding.help)") }
    for binding in KeyMap.retrainKeys {
      #expect(View.render(update(Self.state(), .input(.key(KeyPress("?")))).0).contains(binding.help))
    }
  }

  // MARK: Effects on a real store

  @Test func theEffectsQueueAJobStartATrainerAndPromote() throws {
    let (app, store, dir) = try makeApp(rows: 30, columns: 120, graphics: false)
    // Two registered versions (any file: the app never loads them), v1 promoted.
    let file = dir.appendingPathComponent("model.bin").path
    try Data("weights".utf8).write(to: URL(fileURLWithPath: file))
    let v1 = try store.registerModel(
      file: file, parent: nil, tasks: ["classification"], trainedTasks: ["classification"], frozenTasks: [])
    try store.promote(version: v1.version, by: "lead", reason: "first")
    let v2 = try store.registerModel(
      file: file, parent: v1.version, tasks: ["classification"], trainedTasks: ["classification"],
      frozenTasks: [])

    // T with no correction: nothing to learn from.
    app.dispatch(key("T"))
    #expect(app.state.status?.text.hasPrefix("No label or mask correction since v1") == true)
    // A label, then T: a job is queued and its trainer started (a stand-in that exits at once).
    let args = dir.appendingPathComponent("args").path
    let script = dir.appendingPathComponent("trainer.sh").path
    try "#!/bin/sh\necho \"$@\" > \(args)\n".write(toFile: script, atomically: true, encoding: .utf8)
    chmod(script, 0o755)
    app.launcher = ProcessLauncher(executable: script)
    app.dispatch(key(.enter))
    app.dispatch(key("2"))
    app.dispatch(key(.escape))
    app.dispatch(key("T"))
    let job = try #require(try store.activeTrainingJob())
    #expect(job.tasks == ["cls"] && job.parentModel == v1.version)
    #expect(app.state.status?.text.hasPrefix("Retraining job \(job.id) started (pid ") == true)
    #expect(app.frame.text(row: 29).contains("⟳ job \(job.id) queued"))
    #expect(
      EndToEndWait.until(seconds: 10) {
        (try? String(contentsOfFile: args, encoding: .utf8))
          == "train --job \(job.id) --workspace \(store.workspace.directory)\n"
      })
    // A second T queues no other job. The stand-in trainer exited without running it: T gives
    // the queued job a trainer again; while a trainer holds the lock, T only reports the job.
    try FileManager.default.removeItem(atPath: args)
    app.dispatch(key("T"))
    #expect(try store.trainingJobs().count == 1)
    #expect(
      app.state.status?.text.hasPrefix(
        "Training job \(job.id) was queued with no trainer running: started one")
        == true, "\(app.state.status?.text ?? "")")
    #expect(EndToEndWait.until(seconds: 10) { FileManager.default.fileExists(atPath: args) })
    try store.acquireTrainerLock(purpose: "watch")
    app.dispatch(key("T"))
    #expect(app.state.status?.text.hasPrefix("Training job \(job.id) is already queued") == true)
    try store.releaseTrainerLock()
    // The automatic trigger counts only corrections made after the job was queued; the job
    // itself learns from everything since v1.
    #expect(try store.correctionsSinceLastRetraining()?.total == 0)
    app.dispatch(key(.enter))
    app.dispatch(key("3"))
    app.dispatch(key(.escape))
    #expect(try store.correctionsSinceLastRetraining()?.labels == 1)
    // Both labels went to the same case: one corrected case, not two (issue 18, item 5).
    #expect(try store.corrections(since: v1).labels == 1)

    // The model screen: promote v2, then roll back to v1; both recorded with reasons.
    app.dispatch(key("V"))
    #expect(app.frame.contains("▶ v2"))
    app.dispatch(key("p"))
    app.dispatch(key("y"))
    #expect(try store.promotedModel()?.version == v2.version)
    #expect(app.state.modelVersion == v2.version)
    app.dispatch(key("R"))
    app.dispatch(key("y"))
    #expect(try store.promotedModel()?.version == v1.version)
    let history = try store.modelPromotions()
    #expect(history.first?.reason == "rolled back from v2 by alice on the model screen")
    #expect(history.first?.by == "alice")
    #expect(history[1].reason == "promoted by alice on the model screen")
    #expect(app.state.status?.text == "Rolled back to v1")
  }
}

enum EndToEndWait {
  static func until(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      usleep(50_000)
    }
    return condition()
  }
}

@Suite struct TrainerLockAndHeartbeatTests {
  /// The store's side of "one trainer per workspace": a live holder refuses another, a dead
  /// one (a process that has exited) is taken over; a heartbeat keeps a quiet job alive.
  @Test func aDeadHoldersLockIsTakenOverAndAHeartbeatKeepsAJobAlive() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)")
    let store = try Workspace.create(at: dir.path)
    // A holder that has exited: its pid is gone.
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/bin/true")
    try child.run()
    child.waitUntilExit()
    let dead = TrainerLockHolder(
      pid: child.processIdentifier, host: ProcessIdentity.hostName, processStart: 1, purpose: "watch",
      since: Date(), heartbeat: Date())
    try store.setSetting("trainer_lock", String(decoding: try JSONEncoder().encode(dead), as: UTF8.self))
    #expect(try store.trainerLockHolder() == nil)
    let mine = try store.acquireTrainerLock(purpose: "job 1")
    #expect(mine.pid == getpid() && mine.processStart == ProcessIdentity.startTime(of: getpid()))
    #expect(try store.trainerLockHolder()?.pid == getpid())
    // A live holder on another host, heartbeat fresh: refused, naming it.
    let remote = TrainerLockHolder(
      pid: 99, host: "elsewhere", processStart: nil, purpose: "watch", since: Date(), heartbeat: Date())
    try store.setSetting("trainer_lock", String(decoding: try JSONEncoder().encode(remote), as: UTF8.self))
    #expect(throws: StoreError.trainerBusy("pid 99 on elsewhere (watch)")) {
      try store.acquireTrainerLock(purpose: "job 1")
    }

    let (job, _) = try store.enqueueTrainingJob(tasks: ["classification"], trigger: .null, parentModel: nil)
    try store.startTrainingJob(id: job.id)
    let before = try #require(try store.trainingJob(id: job.id).heartbeatAt)
    usleep(1_100_000)
    try store.heartbeatTrainingJob(id: job.id)
    let after = try #require(try store.trainingJob(id: job.id).heartbeatAt)
    #expect(after > before)
    #expect(try store.trainingJob(id: job.id).progress == 0)
  }
}

/// `T` on a shared workspace: the app records a request for the service trainer, and the
/// status line says what became of it (its job followed to the end, or why none was queued).
@Suite struct SharedRetrainRequestUpdateTests {
  @Test func aRequestIsFollowedToItsJobOrToTheTrainersReason() {
    let s = RetrainingScreenTests.state()
    let (asked, none) = update(s, .retrain(.requested(id: 7, created: true)))
    #expect(none.isEmpty && asked.retrain.pendingRequest == 7)
    #expect(asked.status?.text.contains("Retraining requested") == true)
    let (again, _) = update(s, .retrain(.requested(id: 7, created: false)))
    #expect(again.status?.text.contains("still waiting") == true)

    // Not yet handled: nothing said, still pending.
    let waiting = RetrainStatus(
      promoted: 1, request: RetrainRequestStatus(id: 7, handled: false, jobID: nil, outcome: nil))
    let (still, _) = update(asked, .retrain(.statusLoaded(waiting)))
    #expect(still.retrain.pendingRequest == 7 && still.status == asked.status)

    // Settled without a job: the trainer's reason, sanitised.
    let refused = RetrainStatus(
      promoted: 1,
      request: RetrainRequestStatus(
        id: 7, handled: true, jobID: nil, outcome: "nothing to retrain on\u{1b}[2J"))
    let (told, _) = update(asked, .retrain(.statusLoaded(refused)))
    #expect(told.retrain.pendingRequest == nil)
    #expect(told.status?.text.contains("\u{1b}") == false)
    #expect(told.status?.text.hasPrefix("Retraining not queued: nothing to retrain on") == true)

    // Queued as job 5, which ran and ended between two reads: how it ended.
    var done = RetrainingScreenTests.job(5, status: .succeeded)
    done.message = "promoted v2"
    let ended = RetrainStatus(
      lastFinished: done, promoted: 2,
      request: RetrainRequestStatus(id: 7, handled: true, jobID: 5, outcome: nil))
    let (finished, _) = update(asked, .retrain(.statusLoaded(ended)))
    #expect(finished.status?.text == "Retraining job 5 finished: promoted v2")

    // Queued and running: followed like any job, then its end reported.
    let running = RetrainStatus(
      job: RetrainingScreenTests.job(5), promoted: 1,
      request: RetrainRequestStatus(id: 7, handled: true, jobID: 5, outcome: nil))
    let (following, _) = update(asked, .retrain(.statusLoaded(running)))
    #expect(following.retrain.job?.id == 5 && following.retrain.pendingRequest == nil)
    let (after, _) = update(following, .retrain(.statusLoaded(ended)))
    #expect(after.status?.text == "Retraining job 5 finished: promoted v2")
  }
}
