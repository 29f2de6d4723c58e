import Foundation
import Testing

@testable import CaseStore

@Suite struct RegistryAndJobTests {
  @Test func registryCopiesVerifiesAndRefusesADamagedCheckpoint() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 2)
    let src = dir.sub("trained.safetensors")
    let bytes = Data((0..<5000).map { UInt8($0 % 251) })
    try bytes.write(to: URL(fileURLWithPath: src))
    let v1 = try store.registerModel(
      file: src, parent: nil, tasks: ["classification", "segmentation"],
      trainedTasks: ["classification", "segmentation"],
      frozenTasks: [], metrics: .object(["macro_f1": .number(0.8)]), trainedThroughAnnotation: 0)
    #expect(v1.version == 1 && v1.file == store.workspace.modelsDirectory + "/v1.safetensors")
    #expect(v1.sha256 == Digest.sha256Hex([UInt8](bytes)))
    #expect(try Data(contentsOf: URL(fileURLWithPath: v1.file)) == bytes)
    #expect(v1.metrics["macro_f1"]?.doubleValue == 0.8 && !v1.isPromoted)
    try store.promote(version: v1.version, by: "lead")
    #expect(try store.promotedModel()?.version == 1)

    let v2 = try store.registerModel(
      file: src, parent: 1, tasks: ["classification", "segmentation"], trainedTasks: ["classification"],
      frozenTasks: ["segmentation"], frozenVerified: true)
    #expect(v2.parent == 1 && v2.frozenTasks == ["segmentation"] && v2.frozenVerified == true)
    // Damage v2's file: it must not be promoted, and v1 stays.
    try Data("garbage".utf8).write(to: URL(fileURLWithPath: v2.file))
    #expect(throws: StoreError.modelFileMismatch(version: 2, path: v2.file)) { try store.promote(version: 2) }
    #expect(try store.promotedModel()?.version == 1)
    #expect(throws: StoreError.unknownModel(7)) { try store.promote(version: 7) }
    #expect(throws: StoreError.unknownModel(9)) {
      try store.registerModel(file: src, parent: 9, tasks: [], trainedTasks: [], frozenTasks: [])
    }
    try store.updateModel(
      version: 2, metrics: .object(["macro_f1": .number(0.7)]), notes: "worse: not promoted")
    #expect(try store.model(version: 2).notes == "worse: not promoted")
    #expect(try store.models().map(\.version) == [2, 1])
  }

  @Test func oneTrainerPerWorkspaceAndProgressIsPollable() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 2)
    let (job, created) = try store.enqueueTrainingJob(
      tasks: ["classification"], trigger: .object(["label_corrections": .number(3)]), parentModel: nil)
    #expect(created && job.status == .queued)
    let (again, created2) = try store.enqueueTrainingJob(
      tasks: ["segmentation"], trigger: .null, parentModel: nil)
    #expect(!created2 && again.id == job.id)
    try store.startTrainingJob(id: job.id)
    #expect(throws: StoreError.self) { try store.startTrainingJob(id: job.id) }
    try store.updateTrainingProgress(
      id: job.id,
      TrainingProgress(
        progress: 0.5, epoch: 2, totalEpochs: 4, batch: 3, totalBatches: 10, loss: 0.42, etaSeconds: 30))
    try store.appendTrainingLog(id: job.id, epoch: 1, trainLoss: 0.9, valLoss: 1.0, valMetric: 0.5)
    try store.appendTrainingLog(id: job.id, epoch: 2, trainLoss: 0.5, valLoss: 0.7, valMetric: 0.6)
    // Another process (here another store on the same workspace) sees it.
    let other = try Workspace.open(path: store.workspace.directory)
    let seen = try other.activeTrainingJob()!
    #expect(seen.status == .running && seen.epoch == 2 && seen.loss == 0.42 && seen.pid == getpid())
    #expect(try other.trainingLog(id: job.id).map(\.valMetric) == [0.5, 0.6])
    try store.finishTrainingJob(id: job.id, status: .succeeded)
    #expect(try other.trainingJob(id: job.id).progress == 1)
    #expect(try other.activeTrainingJob() == nil)
    #expect(throws: StoreError.self) { try store.finishTrainingJob(id: job.id, status: .failed) }

    // A trainer that died holds no lock: its job is failed when the next one is asked for.
    let (j2, _) = try store.enqueueTrainingJob(tasks: ["c"], trigger: .null, parentModel: nil)
    let deadPID: Int32 = 999_999
    try store.startTrainingJob(id: j2.id, pid: deadPID)
    let (j3, created3) = try store.enqueueTrainingJob(tasks: ["c"], trigger: .null, parentModel: nil)
    #expect(created3 && j3.id != j2.id)
    let dead = try store.trainingJob(id: j2.id)
    #expect(dead.status == .failed && dead.error!.contains("gone"))
  }

  @Test func anotherProcessesCommitsChangeTheExternalVersion() throws {
    let dir = TempDir()
    let mine = try makeStore(dir, cases: 2)
    let other = try Workspace.open(path: mine.workspace.directory)
    let v0 = try mine.externalChangeVersion()
    try mine.annotate(case: 1, rater: "ana", label: "Pre-B")
    #expect(try mine.externalChangeVersion() == v0)  // my own write: I know about it
    try other.annotate(case: 2, rater: "ben", label: "Pro-B")
    let v1 = try mine.externalChangeVersion()
    #expect(v1 != v0)
    #expect(try mine.externalChangeVersion() == v1)  // stable until the next outside commit
  }
}

@Suite struct TriageTests {
  @Test func queueOrdersBySeverityThenUncertaintyAndDropsAdjudicatedCases() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 8)
    let file = dir.sub("m.bin")
    try Data("m".utf8).write(to: URL(fileURLWithPath: file))
    let v = try store.registerModel(
      file: file, parent: nil, tasks: ["c"], trainedTasks: ["c"], frozenTasks: [])
    try store.promote(version: v.version)
    // Probabilities in all4 order: Benign, Early-B, Pre-B, Pro-B.
    try store.savePredictions(
      [
        NewPrediction(caseID: 1, probabilities: [0.1, 0.1, 0.7, 0.1]),  // Pre-B 0.7
        NewPrediction(caseID: 2, probabilities: [0.1, 0.1, 0.6, 0.2]),  // Pre-B 0.6
        NewPrediction(caseID: 3, probabilities: [0.9, 0.0, 0.1, 0.0]),  // Benign 0.9
        NewPrediction(caseID: 4, probabilities: [0.3, 0.25, 0.25, 0.2]),  // Benign 0.3: low confidence
        NewPrediction(caseID: 5, probabilities: [0.05, 0.05, 0.85, 0.05]),  // Pre-B 0.85
        NewPrediction(caseID: 6, probabilities: [0.05, 0.05, 0.05, 0.85]),  // Pro-B 0.85
      ], model: v.version)
    try store.annotate(case: 1, rater: "ana", label: "Pre-B")
    try store.annotate(case: 1, rater: "ben", label: "Pro-B")  // subtype, conf 0.7
    try store.annotate(case: 2, rater: "ana", label: "Pro-B")  // subtype vs model, conf 0.6
    try store.annotate(case: 3, rater: "ana", label: "Pre-B")  // benign vs malignant (model), conf 0.9
    try store.annotate(case: 5, rater: "ana", label: "Pre-B")  // agrees, confident: not queued
    try store.annotate(case: 6, rater: "ana", label: "Benign")
    try store.annotate(case: 6, rater: "ben", label: "Pro-B")  // benign vs malignant, conf 0.85
    try store.annotate(case: 7, rater: "ana", label: "Early-B")
    try store.annotate(case: 7, rater: "ben", label: "Benign")  // benign vs malignant, no prediction
    let q = try store.triageQueue(viewer: .system, confidenceBelow: 0.5)
    #expect(q.map(\.caseID) == [6, 3, 7, 2, 1, 4])
    #expect(
      q.map(\.severity) == [
        .groupDisagreement, .groupDisagreement, .groupDisagreement, .classDisagreement, .classDisagreement,
        .lowConfidence,
      ])
    #expect(
      q[1].disagreesWithModel && !q[2].disagreesWithModel && q[0].labels == ["ana": "Benign", "ben": "Pro-B"])
    // Adjudication: only adjudicators; the case then leaves the queue.
    #expect(throws: StoreError.notAdjudicator("ana")) {
      try store.setRole(.rater, for: "ana")
      try store.adjudicate(case: 6, adjudicator: "ana", label: "Pro-B", reason: "blasts")
    }
    try store.setRole(.adjudicator, for: "lead")
    let j = try store.adjudicate(
      case: 6, adjudicator: "lead", label: "pro", reason: "nuclear chromatin, blasts")
    #expect(j.label == "Pro-B")
    #expect(throws: StoreError.self) {
      try store.adjudicate(case: 3, adjudicator: "lead", label: "Pre-B", reason: "  ")
    }
    #expect(try store.triageQueue(viewer: .system, confidenceBelow: 0.5).map(\.caseID) == [3, 7, 2, 1, 4])
    #expect(try store.adjudications(case: 6, viewer: .system).map(\.reason) == ["nuclear chromatin, blasts"])
  }
}
