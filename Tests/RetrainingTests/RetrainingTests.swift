import CaseStore
import FileSafety
import Foundation
import GRDB
import Imaging
import MTACNN
import NeuralEngine
import TestSupport
import Testing

@testable import Workflows

/// Issue 8's retraining through the real binary: `train --queue`, `train --job`, `train --watch`
/// on a synthetic workspace (see `Synthetic`). Short runs at S = 32; what they check is the
/// guarantees (frozen tensors and outputs bit-identical, the gate, SIGKILL safety, the lock).
@Suite(.serialized) struct RetrainingTests {
  static func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
  }

  /// Every case of the workspace with its split.
  static func cases(_ store: CaseStore) throws -> [CaseRecord] {
    try store.cases(limit: 10_000, viewer: .system)
  }

  static func batch(size: Int) -> Tensor {
    let t = Tensor(shape: [4, 3, size, size])
    for k in 0..<4 {
      let (im, _) = Synthetic.image(class: k, index: 100 + k)
      let p = PlanarImage(im)
      for j in 0..<p.data.count { t[k * 3 * size * size + j] = p.data[j] }
    }
    return t
  }

  /// Label corrections only: classification trains, segmentation stays frozen, and the new
  /// file's segmentation tensors (and everything they read) and outputs are bit-identical to
  /// the parent's; the registry records parent, tasks, the check and the curves.
  @Test func labelOnlyRetrainKeepsSegmentationBitIdentical() throws {
    let ws = try Synthetic.promotedWorkspace()
    let store = try Workspace.open(path: ws)
    let v1 = try #require(try store.promotedModel())
    // A rater confirms ten training cases' labels: label corrections, no masks.
    let train = try Self.cases(store).filter { $0.split == .train }.prefix(10)
    for c in train {
      try store.annotate(case: c.id, rater: "alice", label: Synthetic.classes[Synthetic.classIndex(c)])
    }
    #expect(try store.corrections(since: v1).labels == 10)
    #expect(try store.corrections(since: v1).masks == 0)

    let q = try Synthetic.run([
      "train", "--queue", "--workspace", ws, "--epochs", "2", "--batch", "8", "--max-batches", "3", "--json",
    ])
    #expect(q.status == 0, "\(q.err)")
    let queued = try Self.json(q.out)
    #expect(queued["tasks"] as? [String] == ["cls"])
    let jobID = Int64(try #require(queued["job"] as? Int))

    let r = try Synthetic.run([
      "train", "--job", String(jobID), "--workspace", ws, "--threads", "2", "--json",
    ])
    #expect(r.status == 0, "\(r.err)")
    let summary = try Self.json(r.out)
    #expect(summary["trained_tasks"] as? [String] == ["cls"])
    #expect(summary["frozen_tasks"] as? [String] == ["seg"])
    #expect(summary["frozen_verified"] as? Bool == true)

    let v2 = try store.model(version: Int64(try #require(summary["version"] as? Int)))
    #expect(v2.parent == v1.version)
    #expect(v2.frozenVerified == true)
    #expect(v2.trainingJobID == jobID)
    guard case .array(let curve)? = v2.metrics["curves"] else {
      Issue.record("no curves in \(v2.metrics)")
      return
    }
    #expect(curve.count == 2)
    #expect((v2.metrics["training_seconds"]?.doubleValue ?? 0) > 0)
    let job = try store.trainingJob(id: jobID)
    #expect(job.status == .succeeded && job.resultModel == v2.version)
    #expect(try store.trainingLog(id: jobID).filter { $0.epoch != nil }.count == 2)
    // Nothing left to learn from: the corrections are in v2.
    #expect(try store.corrections(since: v2).total == 0)

    // Independently of the runner's own check: every tensor segmentation depends on.
    let (parentNet, _) = try ModelCheckpoint.load(path: v1.file)
    try parentNet.freeze([.seg])
    let frozen = parentNet.frozenTensorNames
    #expect(frozen.contains { $0.hasPrefix("seg.") } && frozen.contains { $0.hasPrefix("encoder.") })
    let before = try FrozenTensors.rawTensors(v1.file)
    let after = try FrozenTensors.rawTensors(v2.file)
    for name in frozen { #expect(before[name] == after[name], "\(name) changed") }
    #expect(
      before.keys.filter { $0.hasPrefix("cls.") && !$0.hasPrefix("adam.") }.contains {
        before[$0] != after[$0]
      },
      "classification did not train")
    // And the segmentation outputs on a fixed batch, bit for bit.
    func segmentation(_ path: String) throws -> [Float] {
      let (m, _) = try ModelCheckpoint.load(path: path)
      m.isTraining = false
      return m.forward(Self.batch(size: m.size), heads: [.seg]).maskLogits!.array
    }
    #expect(try segmentation(v1.file) == segmentation(v2.file))

    // Promoted or not, the reason is stored; promoted, every case has its prediction.
    let notes = try #require(v2.notes)
    if try store.promotedModel()?.version == v2.version {
      #expect(notes.hasPrefix("promoted"))
      #expect(try store.casesMissingPrediction(model: v2.version).isEmpty)
    } else {
      #expect(notes.hasPrefix("not promoted"))
    }
  }

  /// Issue 18, item 5: a retrain whose gate figures rest on a handful of validation cases is
  /// proposed, not promoted (before: promoted on 5 validation cases with no n shown); every gate
  /// figure carries its n, the printed verdict says how a lead promotes it, and `model promote`
  /// does. The synthetic workspace has 5 labelled validation cases, below the default 20.
  @Test func retrainOnFewValidationCasesIsProposedNotPromoted() throws {
    let ws = try Synthetic.promotedWorkspace()
    let store = try Workspace.open(path: ws)
    let v1 = try #require(try store.promotedModel())
    for c in try Self.cases(store).filter({ $0.split == .train }).prefix(6) {
      try store.annotate(case: c.id, rater: "alice", label: Synthetic.classes[Synthetic.classIndex(c)])
    }
    let q = try Synthetic.run([
      "train", "--queue", "--workspace", ws, "--epochs", "1", "--batch", "8", "--max-batches", "2", "--json",
    ])
    #expect(q.status == 0, "\(q.err)")
    let jobID = try #require(try Self.json(q.out)["job"] as? Int)
    let r = try Synthetic.run([
      "train", "--job", String(jobID), "--workspace", ws, "--threads", "2", "--json",
    ])
    #expect(r.status == 0, "\(r.err)")
    let summary = try Self.json(r.out)
    let gate = try #require(summary["gate"] as? [String: Any])
    let labelled = try #require((gate["candidate"] as? [String: Any])?["labelled"] as? Int)
    #expect(labelled < 20)
    #expect(summary["promoted"] as? Bool == false)
    let reason = try #require(summary["reason"] as? String)
    if gate["verdict"] as? String == "proposed" {
      #expect(
        reason.hasPrefix("proposed, not promoted: only \(labelled) labelled validation case"), "\(reason)")
      #expect(reason.contains("(at least 20 needed)") && reason.contains("(n \(labelled))"), "\(reason)")
    } else {
      // Worse than v1 on these few cases: rejected, and the figure still says its n.
      #expect(gate["verdict"] as? String == "rejected" && reason.contains("(n "), "\(reason)")
    }
    #expect(try store.promotedModel()?.version == v1.version)
    let v2 = Int(try #require(summary["version"] as? Int))
    // A retrain on a few corrections keeps the parent's colour reference (before, the warning
    // jumped from the one off-colour image to others): the checkpoint carries v1's, and the
    // registry says why.
    func colour(_ file: String) throws -> ColourOutlierDetector? {
      try ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: file)).colourReference
    }
    let parentColour = try #require(try colour(v1.file))
    let v2Model = try store.model(version: Int64(v2))
    #expect(try colour(v2Model.file) == parentColour)
    guard case .object(let data)? = v2Model.metrics["training_data"],
      case .string(let source)? = data["colour_reference"]
    else {
      Issue.record("no colour_reference in \(v2Model.metrics)")
      return
    }
    #expect(
      source.hasPrefix("the parent's (the workspace has ") && source.contains("fewer than 200"), "\(source)")
    // What the retrain did to its corrected cases: each one's prediction before and after.
    guard case .object(let changes)? = v2Model.metrics["corrected_cases"],
      case .array(let rows)? = changes["cases"]
    else {
      Issue.record("no corrected_cases in \(v2Model.metrics)")
      return
    }
    #expect(changes["n"] == .number(6) && rows.count == 6)
    #expect(rows.allSatisfy { $0["before"] != nil && $0["after"] != nil && $0["corrected_to"] != .null })
    // The lead confirms on the command line.
    let p = try Synthetic.run(["model", "promote", "v\(v2)", "--rater", "lead", "--workspace", ws])
    #expect(p.status == 0 && p.out.contains("Promoted v\(v2) (was v\(v1.version)) by lead"), "\(p.err)")
    #expect(try store.promotedModel()?.version == Int64(v2))
  }

  /// A model made worse on purpose (every training case relabelled to another class) fails the
  /// validation gate: registered, kept unpromoted with the reason, the promoted model unchanged.
  ///
  /// Which of the gate's criteria refuses it is not the premise: training keeps the epoch with
  /// the lowest validation loss, and with permuted labels that is always the first, the least
  /// damaged one. On this workspace's five validation cases (four Benign, one Pro-B) that
  /// checkpoint still classifies every case right, so its macro-F1 equals the base model's (0.500
  /// vs 0.500, deterministic: the same figures with 1 or 2 threads, loaded machine or not) while
  /// its validation loss is 35 times the base model's (0.245 vs 0.007). That is the case the
  /// loss criterion exists for (commit 31b9d9c). What holds by construction is checked: the base
  /// model fits validation almost perfectly and any step on wrong labels raises the loss far
  /// beyond 5 %; the reason names the first criterion the gate found broken (macro-F1 is checked
  /// before the loss).
  @Test func modelTrainedOnPermutedLabelsIsNotPromoted() throws {
    let ws = try Synthetic.promotedWorkspace()
    let store = try Workspace.open(path: ws)
    let v1 = try #require(try store.promotedModel())
    for c in try Self.cases(store) where c.split == .train {
      let wrong = (Synthetic.classIndex(c) + 1) % 4
      try store.annotate(case: c.id, rater: "mallory", label: Synthetic.classes[wrong])
    }
    let q = try Synthetic.run([
      "train", "--queue", "--workspace", ws, "--epochs", "2", "--batch", "8", "--lr", "0.02", "--json",
    ])
    #expect(q.status == 0, "\(q.err)")
    let jobID = try #require(try Self.json(q.out)["job"] as? Int)
    let r = try Synthetic.run([
      "train", "--job", String(jobID), "--workspace", ws, "--threads", "2", "--json",
    ])
    #expect(r.status == 0, "\(r.err)")
    let summary = try Self.json(r.out)
    let gate = try #require(summary["gate"] as? [String: Any])
    let current = try #require(gate["current"] as? [String: Any])
    let candidate = try #require(gate["candidate"] as? [String: Any])
    let currentF1 = try #require(current["macro_f1"] as? Double)
    let candidateF1 = try #require(candidate["macro_f1"] as? Double)
    let currentLoss = try #require(current["loss"] as? Double)
    let candidateLoss = try #require(candidate["loss"] as? Double)
    // The base model is right on validation (macro-F1 counts the classes the few validation
    // cases lack as 0, so accuracy tells), the permuted one clearly worse: its validation loss
    // beyond the gate's 5 % whatever epoch was kept, its macro-F1 possibly too.
    #expect((current["accuracy"] as? Double ?? 0) >= 0.8, "base model: \(current)")
    #expect(candidateLoss > currentLoss * (1 + ValidationGate.lossTolerance), "gate: \(gate)")
    let f1Worse = candidateF1 < currentF1 - ValidationGate.tolerance
    let refusal = f1Worse ? "macro-F1 " : "validation loss "
    #expect(summary["promoted"] as? Bool == false)
    #expect((summary["reason"] as? String)?.hasPrefix(refusal) == true, "gate: \(gate)")
    #expect(try store.promotedModel()?.version == v1.version)
    let v2 = try store.model(version: Int64(try #require(summary["version"] as? Int)))
    #expect(!v2.isPromoted)
    #expect(v2.notes?.hasPrefix("not promoted: " + refusal) == true)
    #expect(try store.trainingJob(id: Int64(jobID)).status == .succeeded)
  }

  /// SIGKILL in the middle of an epoch: the database passes its integrity check, the promoted
  /// model and its file are untouched, nothing half-made is registered, and the job is marked
  /// failed when the next trainer starts; the dead trainer's lock is taken over.
  @Test func killingTheTrainerMidEpochLosesNothing() throws {
    let ws = try Synthetic.promotedWorkspace()
    let store = try Workspace.open(path: ws)
    let v1 = try #require(try store.promotedModel())
    let v1Bytes = try Data(contentsOf: URL(fileURLWithPath: v1.file))
    for c in try Self.cases(store).prefix(12) {
      try store.annotate(case: c.id, rater: "alice", label: Synthetic.classes[Synthetic.classIndex(c)])
    }
    let annotations = try store.latestAnnotationID()
    let q = try Synthetic.run([
      "train", "--queue", "--workspace", ws, "--epochs", "1000", "--patience", "1000", "--batch", "8",
      "--json",
    ])
    #expect(q.status == 0, "\(q.err)")
    let jobID = Int64(try #require(try Self.json(q.out)["job"] as? Int))
    let log = Synthetic.folder("retrain-kill") + "/log.txt"
    let p = try Synthetic.start(
      ["train", "--job", String(jobID), "--workspace", ws, "--threads", "2"], log: log)
    // Wait until it is inside an epoch (a batch reported), then kill it without warning.
    let deadline = Date().addingTimeInterval(180)
    var job = try store.trainingJob(id: jobID)
    while Date() < deadline {
      job = try store.trainingJob(id: jobID)
      if job.status == .running, (job.batch ?? 0) >= 1 { break }
      usleep(100_000)
    }
    #expect(
      job.status == .running && (job.batch ?? 0) >= 1,
      "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    #expect(try store.trainerLockHolder()?.pid == p.processIdentifier)
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    #expect(p.terminationReason == .uncaughtSignal)

    let check = try DatabaseQueue(path: store.workspace.databasePath).read { db in
      try String.fetchAll(db, sql: "PRAGMA integrity_check")
    }
    #expect(check == ["ok"])
    #expect(try store.promotedModel()?.version == v1.version)
    #expect(try Data(contentsOf: URL(fileURLWithPath: v1.file)) == v1Bytes)
    #expect(try store.models().count == 1)
    #expect(try store.latestAnnotationID() == annotations)
    #expect(try store.trainerLockHolder() == nil)

    // The next trainer (here a --queue, which reaps first) marks the job failed and can queue.
    let again = try Synthetic.run(["train", "--queue", "--workspace", ws, "--json"])
    #expect(again.status == 0, "\(again.err)")
    let dead = try store.trainingJob(id: jobID)
    #expect(dead.status == .failed)
    #expect(dead.error?.contains("gone") == true)
    // And the lock the dead trainer left is taken over.
    let mine = try store.acquireTrainerLock(purpose: "test")
    #expect(mine.pid == getpid())
    try store.releaseTrainerLock()
  }

  /// A workspace made before tasks had one spelling holds jobs that name `classification` and
  /// `segmentation`: they still train the right tasks, in the paper's order; a name that is no
  /// task is refused.
  @Test func jobsQueuedWithTheOldTaskNamesStillRun() throws {
    let ws = try Synthetic.promotedWorkspace()
    let store = try Workspace.open(path: ws)
    let v1 = try #require(try store.promotedModel())
    let (net, _) = try ModelCheckpoint.load(path: v1.file)
    let (old, _) = try store.enqueueTrainingJob(
      tasks: ["segmentation", "classification"], trigger: .null, parentModel: v1.version)
    #expect(try RetrainJob.stages(of: old, parent: v1, parentNet: net) == [.cls, .seg])
    try store.finishTrainingJob(id: old.id, status: .cancelled, error: "test")
    let (unknown, _) = try store.enqueueTrainingJob(
      tasks: ["nuclei"], trigger: .null, parentModel: v1.version)
    #expect(throws: WorkflowError("unknown task nuclei")) {
      try RetrainJob.stages(of: unknown, parent: v1, parentNet: net)
    }
    try store.finishTrainingJob(id: unknown.id, status: .cancelled, error: "test")
  }

  /// One trainer per workspace: while `train --watch` holds the lock, a second `--watch` and a
  /// `--job` are refused with a message naming the holder's pid.
  @Test func theLockRefusesASecondTrainer() throws {
    let ws = try Synthetic.promotedWorkspace()
    let store = try Workspace.open(path: ws)
    let log = Synthetic.folder("retrain-watch") + "/log.txt"
    let watcher = try Synthetic.start(
      ["train", "--watch", "--workspace", ws, "--after", "1000", "--poll", "0.2"], log: log)
    defer {
      kill(watcher.processIdentifier, SIGTERM)
      watcher.waitUntilExit()
    }
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline, (try? store.trainerLockHolder()) == nil { usleep(100_000) }
    let holder = try #require(try store.trainerLockHolder())
    #expect(holder.pid == watcher.processIdentifier && holder.purpose == "watch")

    let second = try Synthetic.run(["train", "--watch", "--workspace", ws, "--after", "1000"])
    #expect(second.status != 0)
    #expect(second.err.contains("pid \(watcher.processIdentifier)"), "\(second.err)")
    let job = try Synthetic.run(["train", "--job", "1", "--workspace", ws])
    #expect(job.status != 0)
    #expect(job.err.contains("pid \(watcher.processIdentifier)"), "\(job.err)")
    #expect(throws: StoreError.self) { try store.acquireTrainerLock(purpose: "test") }

    // SIGTERM: the watcher stops and releases the lock.
    kill(watcher.processIdentifier, SIGTERM)
    watcher.waitUntilExit()
    #expect(watcher.terminationStatus == 0, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    #expect(try store.trainerLockHolder() == nil)
  }
}

extension RetrainingTests {
  /// Label and mask corrections: both tasks train, in the paper's order (classification with
  /// segmentation frozen, then segmentation with classification frozen), each stage's frozen
  /// tensors verified; the curves hold both stages.
  @Test func labelAndMaskCorrectionsTrainBothInThePapersOrder() throws {
    let ws = try Synthetic.promotedWorkspace()
    let store = try Workspace.open(path: ws)
    let train = try Self.cases(store).filter { $0.split == .train }
    for c in train.prefix(4) {
      try store.annotate(case: c.id, rater: "alice", label: Synthetic.classes[Synthetic.classIndex(c)])
    }
    for c in train.dropFirst(4).prefix(3) {
      // A corrected mask: the reference disc, one pixel row trimmed.
      var m = try store.mask(id: try #require(try store.referenceMaskID(case: c.id)))
      for x in 0..<m.width { m[x, 0] = 0 }
      try store.annotate(case: c.id, rater: "alice", mask: m)
    }
    let q = try Synthetic.run([
      "train", "--queue", "--workspace", ws, "--epochs", "2", "--batch", "8", "--max-batches", "2", "--json",
    ])
    #expect(q.status == 0, "\(q.err)")
    let queued = try Self.json(q.out)
    #expect(queued["tasks"] as? [String] == ["cls", "seg"])
    #expect(queued["labels"] as? Int == 4 && queued["masks"] as? Int == 3)
    let r = try Synthetic.run([
      "train", "--job", String(try #require(queued["job"] as? Int)), "--workspace", ws, "--threads", "2",
      "--json",
    ])
    #expect(r.status == 0, "\(r.err)")
    let summary = try Self.json(r.out)
    #expect(summary["trained_tasks"] as? [String] == ["cls", "seg"])
    #expect(summary["frozen_verified"] as? Bool == true)
    let v2 = try store.model(version: Int64(try #require(summary["version"] as? Int)))
    guard case .array(let stages)? = v2.metrics["stages"], case .array(let curves)? = v2.metrics["curves"]
    else {
      Issue.record("no stages or curves in \(v2.metrics)")
      return
    }
    #expect(stages.count == 2)
    #expect(stages.map { $0["task"] } == [.string("cls"), .string("seg")])
    #expect(
      stages.map { $0["frozen"] } == [.array([.string("seg")]), .array([.string("cls")])])
    #expect(stages.allSatisfy { $0["frozen_verified"] == .bool(true) })
    #expect(curves.map { $0["task"] } == [.string("cls"), .string("cls"), .string("seg"), .string("seg")])
    // The second stage kept classification frozen: its outputs are those of the first stage's
    // result, which the job checked byte for byte; here, at least, segmentation changed.
    let before = try FrozenTensors.rawTensors(try store.model(version: 1).file)
    let after = try FrozenTensors.rawTensors(v2.file)
    #expect(before["seg.out.weight"] != after["seg.out.weight"])
  }

  /// The headless loop: after `--after N` corrections it queues a job and runs it; the same
  /// corrections never trigger a second job (whether or not the gate promoted the first).
  @Test func watchQueuesAndRunsAJobOnceEnoughCorrectionsWait() throws {
    let ws = try Synthetic.promotedWorkspace()
    let store = try Workspace.open(path: ws)
    for c in try Self.cases(store).filter({ $0.split == .train }).prefix(6) {
      try store.annotate(case: c.id, rater: "alice", label: Synthetic.classes[Synthetic.classIndex(c)])
    }
    let options = ["--epochs", "1", "--batch", "8", "--max-batches", "2", "--threads", "2"]
    let w = try Synthetic.run(
      ["train", "--watch", "--workspace", ws, "--after", "5", "--until-idle"] + options)
    #expect(w.status == 0, "\(w.err)")
    #expect(w.out.contains("queued training job 1 after 6 corrections"), "\(w.out)")
    let job = try store.trainingJob(id: 1)
    #expect(job.status == .succeeded && job.resultModel == 2)
    #expect(try store.model(version: 2).trainedTasks == ["cls"])
    #expect(try store.trainerLockHolder() == nil)
    let again = try Synthetic.run(
      ["train", "--watch", "--workspace", ws, "--after", "5", "--until-idle"] + options)
    #expect(again.status == 0, "\(again.err)")
    #expect(try store.trainingJobs().count == 1)
  }
}

/// The loop from the terminal: in `blastview review` (tmux), T starts the trainer as a
/// background process, the status line follows it, and its end is reported; V shows the new
/// version.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux"))) struct RetrainingEndToEndTests {
  @Test func tInTheReviewAppRetrainsInTheBackground() throws {
    let ws = try Synthetic.promotedWorkspace()
    let store = try Workspace.open(path: ws)
    for c in try RetrainingTests.cases(store).filter({ $0.split == .train }).prefix(5) {
      try store.annotate(case: c.id, rater: "alice", label: Synthetic.classes[Synthetic.classIndex(c)])
    }
    // A short retraining (workspace settings, as a lead would set them).
    try store.setSetting("retrain_epochs", "2")
    try store.setSetting("retrain_batch", "8")
    try store.setSetting("retrain_max_batches", "2")
    let binary = try #require(EndToEnd.binary)
    let t = try #require(
      TmuxSession(
        columns: 120, rows: 32,
        command:
          "\(EndToEnd.shellQuote(binary)) review --workspace \(EndToEnd.shellQuote(ws)) --graphics none --rater alice"
      ))
    #expect(t.waitFor("model v1"), "\(t.capture())")
    t.send("T")
    #expect(t.waitFor("Retraining job 1 started (pid"), "\(t.capture())")
    #expect(t.waitFor("Retraining job 1 finished", seconds: 180), "\(t.capture())")
    let job = try store.trainingJob(id: 1)
    #expect(job.status == .succeeded && job.resultModel == 2)
    // The trainer was its own process, not the app.
    #expect(job.pid != nil && job.pid != t.panePID)
    t.send("V")
    #expect(t.waitFor("v2    v1     cls"), "\(t.capture())")
    #expect(FileManager.default.fileExists(atPath: ws + "/logs/\(SafeFile.userFolderName)/train-job-1.log"))
    t.send("q")
  }
}

/// The gate's decisions, by hand-worked cases.
@Suite struct ValidationGateTests {
  /// Enough cases for the default minimums (20 labelled, 10 masked) unless told.
  func scores(_ f1: Double?, dice: Double? = nil, n: Int = 30) -> ValidationScores {
    ValidationScores(
      cases: n, labelled: f1 == nil ? 0 : n, masked: dice == nil ? 0 : n, macroF1: f1, accuracy: f1,
      dice: dice)
  }

  /// Automatic promotion on, so that a pass promotes.
  let auto = GateSettings(autoPromote: true)

  @Test func promotesWithinTheTolerance() {
    let d = ValidationGate.decide(
      candidate: scores(0.895), current: scores(0.90), currentVersion: 3, settings: auto)
    #expect(d.promote && d.verdict == "promoted")
    #expect(d.reason.contains("macro-F1 0.895 vs v3's 0.900 (n 30)"))
    #expect(d.reason.contains("v3") && d.reason.contains("0.01"))
  }

  @Test func refusesAWorseMacroF1() {
    let d = ValidationGate.decide(candidate: scores(0.88), current: scores(0.90), currentVersion: 3)
    #expect(!d.promote)
    #expect(d.reason.contains("macro-F1 0.880 is worse than v3's 0.900"))
  }

  @Test func refusesAWorseDiceEvenWithABetterF1() {
    let d = ValidationGate.decide(
      candidate: scores(0.95, dice: 0.70), current: scores(0.90, dice: 0.80), currentVersion: 2)
    #expect(!d.promote)
    #expect(d.reason.hasPrefix("Dice 0.700"))
    let ok = ValidationGate.decide(
      candidate: scores(0.95, dice: 0.795), current: scores(0.90, dice: 0.80), currentVersion: 2,
      settings: auto)
    #expect(ok.promote && ok.reason.contains("Dice 0.795 vs 0.800 (n 30)"))
  }

  @Test func refusesAMuchWorseValidationLossEvenWithABetterF1() {
    var candidate = scores(0.95)
    var current = scores(0.90)
    candidate.loss = 0.8
    current.loss = 0.33
    let d = ValidationGate.decide(candidate: candidate, current: current, currentVersion: 3)
    #expect(!d.promote)
    #expect(d.reason.hasPrefix("validation loss 0.800 is more than 5% above v3's 0.330"))
    candidate.loss = 0.34  // 3 % above: within
    let ok = ValidationGate.decide(candidate: candidate, current: current, currentVersion: 3, settings: auto)
    #expect(ok.promote)
    #expect(ok.reason.contains("loss 0.340 vs 0.330"))
  }

  @Test func needsLabelledValidationCases() {
    let d = ValidationGate.decide(candidate: scores(nil), current: scores(0.9), currentVersion: 1)
    #expect(!d.promote)
    #expect(d.reason.contains("no labelled validation case"))
  }

  @Test func promotesWhenNothingIsPromoted() {
    #expect(
      ValidationGate.decide(candidate: scores(0.2), current: nil, currentVersion: nil, settings: auto).promote
    )
  }

  /// Issue 18, item 5: "macro-F1 0.750 vs 0.750" from 5 validation cases promoted a model.
  @Test func tooFewValidationCasesProposeRatherThanPromote() {
    let d = ValidationGate.decide(
      candidate: scores(0.75, n: 5), current: scores(0.75, n: 5), currentVersion: 1, settings: auto)
    #expect(!d.promote && d.verdict == "proposed")
    #expect(
      d.reason.hasPrefix("proposed, not promoted: only 5 labelled validation cases (at least 20 needed)"))
    #expect(d.reason.contains("macro-F1 0.750 vs v1's 0.750 (n 5)"))
    // The minimum is a workspace setting: at 5 the same figures promote.
    let lowered = GateSettings(minimumLabelled: 5, autoPromote: true)
    #expect(
      ValidationGate.decide(
        candidate: scores(0.75, n: 5), current: scores(0.75, n: 5), currentVersion: 1, settings: lowered
      ).promote)
  }

  /// Issue 18, item 5: segmentation retrained with no validation mask passed on "Dice —" and a
  /// loss of 0.0000. A task with no validation data of its own cannot pass.
  @Test func aRetrainedTaskWithoutValidationDataCannotPass() {
    let d = ValidationGate.decide(
      candidate: scores(0.9), current: scores(0.9), currentVersion: 1, settings: auto,
      trainedTasks: ["cls", "seg"])
    #expect(!d.promote && d.verdict == "proposed")
    #expect(d.reason.contains("segmentation was retrained but no validation case has a mask"))
    let few = ValidationGate.decide(
      candidate: ValidationScores(
        cases: 30, labelled: 30, masked: 3, macroF1: 0.9, accuracy: 0.9, dice: 0.8),
      current: ValidationScores(cases: 30, labelled: 30, masked: 3, macroF1: 0.9, accuracy: 0.9, dice: 0.8),
      currentVersion: 1, settings: auto, trainedTasks: ["seg"])
    #expect(!few.promote && few.reason.contains("only 3 validation cases with a mask (at least 10 needed)"))
    // Classification alone retrained: no mask needed.
    #expect(
      ValidationGate.decide(
        candidate: scores(0.9), current: scores(0.9), currentVersion: 1, settings: auto, trainedTasks: ["cls"]
      ).promote)
  }

  /// Automatic promotion is a workspace setting, off by default: a pass is a proposal.
  @Test func withAutomaticPromotionOffAPassIsAProposal() {
    let d = ValidationGate.decide(candidate: scores(0.9), current: scores(0.9), currentVersion: 1)
    #expect(!d.promote && d.verdict == "proposed")
    #expect(d.reason.hasPrefix("passed, proposed for a lead to promote (automatic promotion is off)"))
  }
}
