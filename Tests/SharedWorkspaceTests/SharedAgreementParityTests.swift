import Agreement
import CaseStore
import Foundation
import Imaging
import Testing
import Workflows

/// `SessionAgreementReport` (the dashboard and `agree --session`) from a shared workspace equals
/// the embedded one for the same data, read as each rater: blind labels, a revision after
/// unblinding, two raters' masks, an adjudication, the promoted model's predictions, and a
/// `--hide-model` session that still hides predictions (and labels) from the rater who has not
/// labelled those cases. The shared copy is made by `migrate`, so both hold the same rows.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct SharedAgreementParityTests {
  @Test func theReportIsTheSameOnBothBackendsForEachRater() throws {
    let pg = try PGTestCluster.require()
    let base = NSTemporaryDirectory() + "bv-agree-parity-\(UUID().uuidString)"
    let images = base + "/images/Pre-B"
    try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
    let source = ContractFixture.repo.appendingPathComponent("SampleData/wbc-seg/images/lymphocyte").path
    for n in try FileManager.default.contentsOfDirectory(atPath: source).sorted().prefix(4) {
      try FileManager.default.copyItem(atPath: source + "/" + n, toPath: images + "/" + n)
    }
    let store = try Workspace.create(at: base + "/ws", schema: .all4)
    try store.addRater("bvana", role: .rater)
    try store.addRater("bvben", role: .rater)
    try store.addRater("bvlead", role: .adjudicator)
    let c = try store.importImages(
      ImportOptions(paths: [images], labelsFromFolders: true), progress: { _ in }
    )
    .caseIDs
    // A model (any bytes: the store only hashes and keeps them) with a prediction per case.
    let modelFile = base + "/model.bin"
    try Data("weights".utf8).write(to: URL(fileURLWithPath: modelFile))
    let model = try store.registerModel(
      file: modelFile, parent: nil, tasks: ["cls"], trainedTasks: ["cls"], frozenTasks: [])
    try store.promote(version: model.version, by: "bvlead", reason: "parity test")
    let classes = store.labelSchema.classNames
    func probabilities(_ label: String) -> [Double] {
      classes.map { $0 == label ? 0.7 : 0.3 / Double(classes.count - 1) }
    }
    try store.savePredictions(
      zip(c, ["Pre-B", "Pro-B", "Pre-B", "Benign"]).map {
        NewPrediction(caseID: $0.0, probabilities: probabilities($0.1))
      }, model: model.version)
    try store.createSession(
      name: "m", raters: ["bvana", "bvben"], cases: .all, blinded: true, hideModel: true, createdBy: "bvlead")
    let record = try store.caseRecord(id: c[0], viewer: .system)
    var anaMask = Mask(width: record.width, height: record.height)
    var benMask = Mask(width: record.width, height: record.height)
    for y in 10..<40 {
      for x in 10..<40 { anaMask.values[y * record.width + x] = 255 }
      for x in 20..<50 { benMask.values[y * record.width + x] = 255 }
    }
    for (i, label) in ["Pre-B", "Pre-B", "Pre-B", "Benign"].enumerated() {
      try store.annotate(case: c[i], rater: "bvana", label: label, mask: i == 0 ? anaMask : nil, session: "m")
    }
    try store.annotate(case: c[0], rater: "bvben", label: "Pre-B", mask: benMask, session: "m")
    try store.annotate(case: c[1], rater: "bvben", label: "Pro-B", session: "m")
    try store.annotate(case: c[1], rater: "bvben", label: "Pre-B", session: "m", note: "after peeking")
    try store.adjudicate(case: c[1], adjudicator: "bvlead", label: "Pro-B", reason: "nucleoli")

    let db = try pg.createDatabase()
    let service = try PostgresStore.create(pg.url(db, as: "blastview"), schema: store.labelSchema)
    _ = try service.importEmbedded(store)

    let options = SessionAgreementOptions(
      weights: SessionAgreementOptions.dashboardWeights(categories: classes), bootstrapSamples: 50, seed: 7)
    for rater in ["bvana", "bvben"] {
      let embedded = try SessionAgreementReport.compute(
        store: store, session: "m", viewer: .rater(rater), options: options)
      let shared = try SessionAgreementReport.compute(
        store: try PostgresStore.open(pg.url(db, as: rater)), session: "m", viewer: .rater(rater),
        options: options)
      #expect(shared == embedded, "\(rater):\nPostgreSQL \(shared)\nSQLite \(embedded)")
      #expect(embedded.masks.first?.cases.count == 1 && embedded.revisions.count == 1, "\(embedded)")
    }
    // Ben has not labelled cases 3 and 4: their predictions stay hidden from him, counted only.
    let ben = try SessionAgreementReport.compute(
      store: try PostgresStore.open(pg.url(db, as: "bvben")), session: "m", viewer: .rater("bvben"),
      options: options)
    #expect(ben.model?.hiddenPredictions == 2 && ben.visibleCases == 2, "\(String(describing: ben.model))")
    let ana = try SessionAgreementReport.compute(
      store: try PostgresStore.open(pg.url(db, as: "bvana")), session: "m", viewer: .rater("bvana"),
      options: options)
    // Ana sees everything: consensus on case 1 (both Pre-B) and case 2 (adjudicated Pro-B);
    // the model got both right.
    #expect(
      ana.model?.hiddenPredictions == 0 && ana.model?.n == 2 && ana.model?.adjudicated == 1,
      "\(String(describing: ana.model))")
    #expect(ana.model?.report?.accuracy == 1, "\(String(describing: ana.model))")
  }
}
