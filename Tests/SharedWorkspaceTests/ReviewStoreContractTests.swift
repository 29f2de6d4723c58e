import CaseStore
import Foundation
import Imaging
import Review
import Terminal
import Testing
import Workflows

/// The review TUI's store operations (`ReviewStore`), one set of assertions on both backends
/// (the fixture of `StoreContractTests`: four SampleData lymphocytes imported from a folder
/// named `Pre-B`, a lead, and the raters bvana and bvben, each acting through their own store).
@Suite(.serialized) struct ReviewStoreContractTests {
  /// The model screen's registry (`ModelRegistryStore`): two versions the trainer registered
  /// are listed alike to every rater, newest first; the lead promotes, the promotion names
  /// him, a roll back returns along the lineage, and the weights read back are the bytes
  /// registered. On PostgreSQL a rater's promotion is refused by the server.
  @Test(arguments: Backend.all) func theModelRegistryListsPromotesAndRollsBackAlike(_ backend: Backend) throws
  {
    let f = try ContractFixture(backend)
    let trainer = try f.trainerStore()
    let dir = NSTemporaryDirectory() + "bv-registry-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    func register(_ text: String, parent: Int64?) throws -> ModelVersion {
      let file = dir + "/" + UUID().uuidString
      try Data(text.utf8).write(to: URL(fileURLWithPath: file))
      return try trainer.registerModel(
        file: file, parent: parent, tasks: ["cls", "seg"], trainedTasks: ["cls"], frozenTasks: ["seg"],
        frozenVerified: true, metrics: .object(["gate": .object(["verdict": .string("proposed")])]),
        config: .object([:]), trainingJob: nil, trainedThroughAnnotation: 7, notes: "test \(text)")
    }
    let v1 = try register("weights one", parent: nil)
    let v2 = try register("weights two", parent: v1.version)
    let lead = try f.reviewStore(f.lead)
    let ana = try f.reviewStore(f.ana)
    #expect(try ana.models().map(\.version) == [v2.version, v1.version])
    #expect(try lead.promotedModel() == nil && lead.rollbackTarget() == nil)

    try lead.promote(version: v1.version, by: f.lead, reason: "first")
    try lead.promote(version: v2.version, by: f.lead, reason: "second")
    let seen = try ana.models()
    #expect(seen.map(\.isPromoted) == [true, false])
    let shown = try #require(seen.first)
    #expect(shown.parent == v1.version && shown.trainedTasks == ["cls"] && shown.frozenTasks == ["seg"])
    #expect(
      shown.frozenVerified == true && shown.trainedThroughAnnotation == 7 && shown.notes == "test weights two"
    )
    #expect(shown.metrics["gate"]?["verdict"] == .string("proposed"))
    #expect(try ana.promotedModelVersion() == v2.version)
    let promotions = try ana.modelPromotions()
    #expect(promotions.map(\.version) == [v2.version, v1.version])
    #expect(promotions.map(\.by) == [f.lead, f.lead] && promotions.map(\.reason) == ["second", "first"])
    let coverage = try ana.predictionCoverage(model: v2.version)
    #expect(coverage.predicted == 0 && coverage.total == 4)

    #expect(try lead.rollbackTarget() == v1.version)
    try lead.promote(version: v1.version, by: f.lead, reason: "rolled back from v\(v2.version)")
    #expect(try ana.promotedModel()?.version == v1.version)
    let weights = try lead.verifiedModelFile(v2)
    #expect(
      String(decoding: try Data(contentsOf: URL(fileURLWithPath: weights)), as: UTF8.self) == "weights two")

    if backend == .postgres {
      do {
        try ana.promote(version: v2.version, by: f.ana, reason: "mine")
        Issue.record("a rater promoted a model")
      } catch {
        #expect("\(error)".contains("only a lead promotes or rolls back a model"), "\(error)")
      }
      do {
        try ana.setRetrainingSetting("auto_promote", "on")
        Issue.record("a rater turned automatic promotion on")
      } catch {
        #expect("\(error)".contains("only a lead changes the validation gate"), "\(error)")
      }
      #expect(try ana.promotedModelVersion() == v1.version && ana.setting("auto_promote") == nil)
    }
  }

  @Test(arguments: Backend.all) func browsePagesFiltersAndSortsAsTheViewerMaySee(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    let ana = try f.reviewStore(f.ana)
    let ben = try f.reviewStore(f.ben)
    let (c0, c1, c2, c3) = (f.cases[0], f.cases[1], f.cases[2], f.cases[3])
    try ana.annotate(case: c0, rater: f.ana, label: "Pre-B", mask: nil, session: nil, clear: [], note: nil)
    try ana.annotate(case: c1, rater: f.ana, label: "Benign", mask: nil, session: nil, clear: [], note: nil)
    try ben.annotate(case: c0, rater: f.ben, label: "Early-B", mask: nil, session: nil, clear: [], note: nil)
    let me = Viewer.rater(f.ana)

    // Keyset pages of two, forward and back again.
    let first = try ana.casePage(CasePageRequest(limit: 2), viewer: me)
    #expect(first.rows.map(\.id) == [c0, c1] && first.previous == nil)
    let second = try ana.casePage(CasePageRequest(cursor: try #require(first.next), limit: 2), viewer: me)
    #expect(second.rows.map(\.id) == [c2, c3] && second.next == nil)
    let back = try ana.casePage(
      CasePageRequest(cursor: try #require(second.previous), backward: true, limit: 2), viewer: me)
    #expect(back.rows.map(\.id) == [c0, c1])
    let descending = try ana.casePage(CasePageRequest(ascending: false, limit: 3), viewer: me)
    #expect(descending.rows.map(\.id) == [c3, c2, c1])

    // What a tile shows: my label, the disagreement, how many raters labelled.
    let tile = try #require(first.rows.first)
    #expect(tile.myLabel == "Pre-B" && tile.disagreement == true && tile.labelCount == 2 && !tile.blinded)
    #expect(tile.path.hasSuffix(".png") && tile.sha256.count == 64)
    #expect(first.rows[1].disagreement == false && first.rows[1].labelCount == 1)

    // Filters, and the counts the header shows.
    func ids(_ filter: CaseFilter, sort: CaseSort = .id) throws -> [Int64] {
      try ana.casePage(CasePageRequest(filter: filter, sort: sort), viewer: me).rows.map(\.id)
    }
    #expect(try ids(CaseFilter(myLabel: "pre-b")) == [c0])
    #expect(try ids(CaseFilter(unreviewed: true)) == [c2, c3])
    #expect(try ana.caseCount(CaseFilter(unreviewed: true), viewer: me) == 2)
    #expect(try ids(CaseFilter(disagreement: true)) == [c0])
    #expect(try ana.caseCount(CaseFilter(disagreement: true), viewer: me) == 1)
    #expect(try ids(CaseFilter(search: "#\(c2)")) == [c2])
    let name = (tile.path as NSString).lastPathComponent
    #expect(try ids(CaseFilter(search: name.uppercased())) == [c0])
    #expect(try ids(CaseFilter(search: String(tile.sha256.prefix(10)))) == [c0])
    #expect(try ana.caseCount(CaseFilter(), viewer: me) == 4)
    // My last edit, ascending: cases I never edited first (as NULL), then by time.
    #expect(try ids(CaseFilter(), sort: .myLastEdit) == [c2, c3, c0, c1])
    #expect(throws: StoreError.unknownLabel("Blast", valid: ["Benign", "Early-B", "Pre-B", "Pro-B"])) {
      try ana.casePage(CasePageRequest(filter: CaseFilter(myLabel: "Blast")), viewer: me)
    }
  }

  @Test(arguments: Backend.all) func blindingHoldsInTheBrowserAndTheCaseView(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    try f.store(f.lead).createSession(
      name: "s1", raters: [f.ana, f.ben], cases: .all, blinded: true, hideModel: true, createdBy: f.lead)
    let ana = try f.reviewStore(f.ana)
    let ben = try f.reviewStore(f.ben)
    let c0 = f.cases[0]
    try ben.annotate(case: c0, rater: f.ben, label: "Early-B", mask: nil, session: "s1", clear: [], note: "b")
    let inSession = Viewer.rater(f.ana, session: "s1")

    // Ana has not labelled c0: Ben's label, the disagreement, the path (it names the class)
    // and the reference label are hidden, in the browser, its search, and the case view.
    let page = try ana.casePage(CasePageRequest(sort: .sessionQueue), viewer: inSession)
    let row = try #require(page.rows.first { $0.id == c0 })
    #expect(row.blinded && row.modelHidden && row.labelCount == nil && row.disagreement == nil)
    #expect(row.path == CaseStore.opaqueName(c0) && row.adjudicated == nil)
    #expect(try ana.caseCount(CaseFilter(search: "png"), viewer: inSession) == 0)
    var detail = try ana.caseDetail(id: c0, viewer: inSession)
    #expect(detail.blinded && detail.modelHidden && detail.current.isEmpty && detail.mine == nil)
    #expect(detail.record.referenceLabel == nil && detail.record.path == CaseStore.opaqueName(c0))
    #expect(detail.record.shownPath == CaseStore.opaqueName(c0))
    // Nor may she read as Ben, nor browse a session she is no rater of.
    if backend == .postgres {
      #expect(throws: StoreError.self) { try ana.caseDetail(id: c0, viewer: .rater(f.ben, session: "s1")) }
    }

    // Labelling lifts her blinding for that case only; the session queue puts it last.
    try ana.annotate(case: c0, rater: f.ana, label: "Pre-B", mask: nil, session: "s1", clear: [], note: nil)
    detail = try ana.caseDetail(id: c0, viewer: inSession)
    #expect(
      !detail.blinded && detail.current.map(\.rater) == [f.ana, f.ben] && detail.mine?.label == "Pre-B")
    #expect(detail.record.referenceLabel == "Pre-B" && !detail.record.pathHidden)
    let queue = try ana.casePage(CasePageRequest(sort: .sessionQueue), viewer: inSession).rows
    #expect(queue.map(\.id) == [f.cases[1], f.cases[2], f.cases[3], c0])
    #expect(queue.last?.disagreement == true && queue.last?.labelCount == 2)
    #expect(queue.first?.blinded == true)
    // The session's own numbers: my label there, disagreement among its labels.
    #expect(
      try ana.casePage(CasePageRequest(filter: CaseFilter(myLabel: "Pre-B")), viewer: inSession).rows.count
        == 1)
  }

  @Test(arguments: Backend.all) func maskEditsFromTwoEditorsMerge(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    let ana = try f.reviewStore(f.ana)
    let other = try f.anotherClient(f.ana)
    let c = f.cases[1]
    let r = try ana.caseRecord(id: c, viewer: .rater(f.ana))
    let empty = MaskEditBase(annotationID: nil, mask: nil)
    var a = Mask(width: r.width, height: r.height)
    a.values[0] = 255
    var b = Mask(width: r.width, height: r.height)
    b.values[1] = 255
    let first = try ana.saveMaskEdit(case: c, rater: f.ana, mask: a, base: empty, session: nil)
    #expect(!first.merged && first.annotation.maskID != nil)
    // The other editor started from the same (empty) version: its save keeps the first stroke.
    let second = try other.saveMaskEdit(case: c, rater: f.ana, mask: b, base: empty, session: nil)
    #expect(second.merged && second.annotation.supersedes == first.annotation.id)
    let saved = try ana.storedMask(id: try #require(second.annotation.maskID))
    #expect(saved.values[0] == 255 && saved.values[1] == 255 && saved.values[2...].allSatisfy { $0 == 0 })
    // An edit on the current version is saved as it is.
    var c2 = saved
    c2.values[0] = 0
    let third = try ana.saveMaskEdit(
      case: c, rater: f.ana, mask: c2, base: MaskEditBase(annotationID: second.annotation.id, mask: saved),
      session: nil)
    #expect(!third.merged && third.mask == c2)
    #expect(try ana.caseDetail(id: c, viewer: .rater(f.ana)).mine?.maskID == third.annotation.maskID)
  }

  @Test(arguments: Backend.all) func triageListsDisagreementsAndOnlyAdjudicatorsAdjudicate(_ backend: Backend)
    throws
  {
    let f = try ContractFixture(backend)
    let ana = try f.reviewStore(f.ana)
    let ben = try f.reviewStore(f.ben)
    let c0 = f.cases[0]
    try ana.annotate(case: c0, rater: f.ana, label: "Pre-B", mask: nil, session: nil, clear: [], note: nil)
    try ben.annotate(case: c0, rater: f.ben, label: "Benign", mask: nil, session: nil, clear: [], note: nil)
    try ana.annotate(
      case: f.cases[1], rater: f.ana, label: "Benign", mask: nil, session: nil, clear: [], note: nil)
    let queue = try ana.triageQueue(
      viewer: .rater(f.ana), confidenceBelow: 0.6, limit: 100, session: nil, possiblyMalignantFrom: nil)
    #expect(queue.map(\.caseID) == [c0])
    #expect(
      queue.first?.severity == .groupDisagreement && queue.first?.labels == [f.ana: "Pre-B", f.ben: "Benign"])

    // A rater is refused by the store itself (on PostgreSQL: by the database's function).
    #expect(try ana.reviewRole(of: f.ana) == .rater)
    #expect(throws: StoreError.notAdjudicator(f.ana)) {
      try ana.adjudicate(case: c0, adjudicator: f.ana, label: "Pre-B", mask: nil, reason: "x", session: nil)
    }
    try f.store(f.lead).addRater(f.judge, role: .adjudicator)
    let judge = try f.reviewStore(f.judge)
    #expect(try judge.reviewRole(of: f.judge) == .adjudicator)
    #expect(throws: StoreError.self) {
      try judge.adjudicate(
        case: c0, adjudicator: f.judge, label: "Pre-B", mask: nil, reason: "  ", session: nil)
    }
    let j = try judge.adjudicate(
      case: c0, adjudicator: f.judge, label: "pre-b", mask: nil, reason: "blasts on review", session: nil)
    #expect(
      j.label == "Pre-B" && j.adjudicator == f.judge && j.reason == "blasts on review" && j.supersedes == nil)
    // Adjudicated cases leave the queue; everyone sees the final label.
    #expect(
      try ana.triageQueue(
        viewer: .rater(f.ana), confidenceBelow: 0.6, limit: 100, session: nil, possiblyMalignantFrom: nil
      ).isEmpty)
    let detail = try ana.caseDetail(id: c0, viewer: .rater(f.ana))
    #expect(detail.adjudication?.label == "Pre-B" && detail.adjudications.count == 1)
    #expect(
      try ana.casePage(CasePageRequest(filter: CaseFilter(adjudicated: true)), viewer: .rater(f.ana)).rows
        .map(\.id) == [c0])
    // Another client's commits move the change version the app polls.
    let poller = try f.anotherClient(f.ana)
    let seen = try poller.externalChangeVersion()
    try ben.annotate(
      case: f.cases[2], rater: f.ben, label: "Pro-B", mask: nil, session: nil, clear: [], note: nil)
    #expect(try poller.externalChangeVersion() != seen)
  }

  @Test(arguments: Backend.all) func caseImagesAreReadAndVerified(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    let ana = try f.reviewStore(f.ana)
    let row = try #require(try ana.casePage(CasePageRequest(limit: 1), viewer: .rater(f.ana)).rows.first)
    let image = try ana.caseImage(at: row.imagePath)
    #expect(image.width == row.width && image.height == row.height)
    let detail = try ana.caseDetail(id: row.id, viewer: .rater(f.ana))
    #expect(detail.record.imagePath == row.imagePath)
    let bytes = try ana.imageBytes(case: row.id)
    #expect(try decodeImage(data: bytes, name: "x").pixels == image.pixels)
  }

  /// A checkpoint of nothing but a safetensors header whose metadata carries a screening
  /// operating point at `threshold` (what `eval --set-operating-point` writes).
  static func checkpoint(threshold: Double) -> [UInt8] {
    let point =
      #"{"threshold":\#(threshold),"target_sensitivity":0.995,"sensitivity":1,"specificity":0.5,"#
      + #""malignant":2,"benign":2,"split":"val"}"#
    let escaped = point.replacingOccurrences(of: "\"", with: "\\\"")
    var header = Array(#"{"__metadata__":{"format":"test","operating_point":"\#(escaped)"}}"#.utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var bytes: [UInt8] = []
    var n = UInt64(header.count)
    for _ in 0..<8 {
      bytes.append(UInt8(n & 0xff))
      n >>= 8
    }
    return bytes + header
  }

  /// The screening rule of issue 17 on both backends: the promoted model's operating point
  /// (from its checkpoint's header), the possibly-malignant filter, triage's first severity
  /// with P(malignant), and none of it for a case whose prediction a session hides.
  @Test(arguments: Backend.all) func screeningPointFilterAndTriage(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    let (c0, c1, c2, c3) = (f.cases[0], f.cases[1], f.cases[2], f.cases[3])
    let model = Self.checkpoint(threshold: 0.3)
    // P(malignant) = 1 - P(Benign): c0 0.3 (argmax Benign), c1 0.95, c2 0.02; c3 has none.
    let version = try f.promoteModel(
      model,
      predictions: [
        c0: [0.7, 0.2, 0.05, 0.05], c1: [0.05, 0.9, 0.03, 0.02], c2: [0.98, 0.01, 0.005, 0.005],
      ])
    let ana = try f.reviewStore(f.ana)
    let me = Viewer.rater(f.ana)
    let entry = try #require(try ana.promotedModelMetadata("operating_point"))
    #expect(entry.version == version)
    let point = try #require(ScreeningOperatingPoint.promoted(in: ana)?.point)
    #expect(point.threshold == 0.3 && point.targetSensitivity == 0.995 && point.split == "val")
    #expect(try ana.promotedModelMetadata("no such entry")?.value == nil)
    // The weights, for the explanations: a local file with the registered bytes.
    let file = try #require(try ana.modelFileForReading(version: version))
    #expect(try Array(Data(contentsOf: URL(fileURLWithPath: file.path))) == model)
    #expect(try ana.modelFileForReading(version: version + 1) == nil)

    var filter = CaseFilter()
    filter.pMalignantAtLeast = 0.3
    #expect(try ana.casePage(CasePageRequest(filter: filter), viewer: me).rows.map(\.id) == [c0, c1])
    #expect(try ana.caseCount(filter, viewer: me) == 2)
    filter.predictedLabel = "Benign"
    #expect(try ana.casePage(CasePageRequest(filter: filter), viewer: me).rows.map(\.id) == [c0])
    #expect(
      try ana.caseDetail(id: c1, viewer: me).prediction?.pMalignant.map { abs($0 - 0.95) < 1e-9 } == true)

    // Ana calls c0 and c1 Benign, c3 Pre-B; Ben calls c3 Benign. Both possibly-malignant
    // cases come first, highest P(malignant) first; then the raters' disagreement.
    for (c, l) in [(c0, "Benign"), (c1, "Benign"), (c3, "Pre-B")] {
      try ana.annotate(case: c, rater: f.ana, label: l, mask: nil, session: nil, clear: [], note: nil)
    }
    try f.reviewStore(f.ben).annotate(
      case: c3, rater: f.ben, label: "Benign", mask: nil, session: nil, clear: [], note: nil)
    let queue = try ana.triageQueue(
      viewer: me, confidenceBelow: 0.5, limit: 100, session: nil, possiblyMalignantFrom: point.threshold)
    #expect(queue.map(\.caseID) == [c1, c0, c3], "\(queue)")
    #expect(queue.prefix(2).allSatisfy { $0.severity == .possiblyMalignantCalledBenign })
    #expect(
      queue[0].pMalignant.map { abs($0 - 0.95) < 1e-9 } == true && queue[2].severity == .groupDisagreement)
    let plain = try ana.triageQueue(
      viewer: me, confidenceBelow: 0.5, limit: 100, session: nil, possiblyMalignantFrom: nil)
    #expect(!plain.contains { $0.severity == .possiblyMalignantCalledBenign })

    // Ben, in a session that hides the model on c0 and c1: neither matches the filter for him,
    // nor comes first in his triage, though their predictions reach the point.
    try f.store(f.lead).createSession(
      name: "h", raters: [f.ben], cases: .ids([c0, c1]), blinded: false, hideModel: true, createdBy: f.lead)
    let ben = try f.reviewStore(f.ben)
    var screen = CaseFilter()
    screen.pMalignantAtLeast = 0.3
    #expect(try ben.casePage(CasePageRequest(filter: screen), viewer: .rater(f.ben)).rows.isEmpty)
    let benQueue = try ben.triageQueue(
      viewer: .rater(f.ben), confidenceBelow: 0.5, limit: 100, session: nil, possiblyMalignantFrom: 0.3)
    #expect(!benQueue.contains { $0.severity == .possiblyMalignantCalledBenign || $0.pMalignant != nil })
    // The operating point stays readable (it predicts no case); on PostgreSQL the weights do not,
    // while the session hides the model from him (the server's rule; explanations are refused).
    #expect(try ScreeningOperatingPoint.promoted(in: ben)?.point?.threshold == 0.3)
    if backend == .postgres {
      #expect(throws: StoreError.self) { try ben.modelFileForReading(version: version) }
    }
  }

  /// Explanations in the review app on either backend: the weights come through the store (on
  /// PostgreSQL from the database, SHA-256 checked, into the rater's private cache) and the
  /// image through the store (a shared workspace's image address is no file); Grad-CAM and
  /// LIME are computed for the case opened. The Grad-CAM fixture model of MTACNNTests (all4,
  /// random weights) stands in for a trained one.
  @Test(arguments: Backend.all) func explanationsReadTheModelAndImageThroughTheStore(_ backend: Backend)
    throws
  {
    let f = try ContractFixture(backend)
    let model = try Array(
      Data(
        contentsOf: ContractFixture.repo.appendingPathComponent(
          "Tests/MTACNNTests/Fixtures/gradcam_all4.safetensors")))
    try f.promoteModel(
      model, predictions: Dictionary(uniqueKeysWithValues: f.cases.map { ($0, [0.1, 0.2, 0.3, 0.4]) }))
    let store = try f.reviewStore(f.ana)
    let row = try #require(try store.casePage(CasePageRequest(limit: 1), viewer: .rater(f.ana)).rows.first)
    let image = try store.verifiedCaseImage(at: row.imagePath, sha256: row.sha256)
    #expect(image.width == row.width && image.height == row.height)
    #expect(throws: StoreError.self) {
      try store.verifiedCaseImage(at: row.imagePath, sha256: String(repeating: "0", count: 64))
    }
    let app = try ReviewApp(store: store, rater: f.ana, session: nil, rows: 40, columns: 120, graphics: true)
    app.begin()
    app.explanationWorker.request.lime.samples = 16
    var failures: [String] = []
    app.eventObserver = { if case .explain(.failed(_, let why)) = $0 { failures.append(why) } }
    app.dispatch(.input(.key(KeyPress(.enter))))
    app.dispatch(.input(.key(KeyPress("e"))))
    #expect(app.waitForBackgroundWork())
    #expect(failures.isEmpty, "\(failures)")
    let shown = try #require(app.state.explanations.current)
    #expect(shown.key.caseID == row.id && shown.key.method == .lime, "\(shown.key)")
    #expect(shown.explanation.superpixels != nil && !shown.explanation.heatmap.values.isEmpty)
  }

  /// The agreement dashboard reads the store it reviews through, on either backend: the same
  /// report as `agree --session`, blinded for the rater who has not labelled yet.
  @Test(arguments: Backend.all) func theDashboardReportsFromTheReviewStore(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    try f.store(f.lead).createSession(
      name: "s1", raters: [f.ana, f.ben], cases: .all, blinded: true, hideModel: false, createdBy: f.lead)
    let ana = try f.reviewStore(f.ana)
    let ben = try f.reviewStore(f.ben)
    for (i, (a, b)) in [("Pre-B", "Pre-B"), ("Pre-B", "Benign"), ("Benign", "Benign")].enumerated() {
      try ana.annotate(
        case: f.cases[i], rater: f.ana, label: a, mask: nil, session: "s1", clear: [], note: nil)
      try ben.annotate(
        case: f.cases[i], rater: f.ben, label: b, mask: nil, session: "s1", clear: [], note: nil)
    }
    try ana.annotate(
      case: f.cases[3], rater: f.ana, label: "Pro-B", mask: nil, session: "s1", clear: [], note: nil)
    let options = SessionAgreementOptions(categories: try f.store(f.ana).labelSchema.classNames, weights: nil)
    let forAna = try SessionAgreementReport.compute(
      store: ana, session: "s1", viewer: .rater(f.ana), options: options)
    // Three cases both labelled: observed agreement 2/3; kappa by hand: expected agreement
    // from the margins (ana Pre-B 2 Benign 1, ben Pre-B 1 Benign 2) = 2/9 + 2/9 = 4/9, so
    // kappa = (2/3 - 4/9) / (1 - 4/9) = 2/5.
    let kappa = try #require(try forAna.labels.twoRater?.cohen.get().kappa)
    #expect(abs(kappa - 0.4) < 1e-12, "\(forAna.labels)")
    #expect(forAna.visibleCases == 4, "\(forAna)")
    // Ben has not labelled case 4: Ana's label of it is not his to count.
    let forBen = try SessionAgreementReport.compute(
      store: ben, session: "s1", viewer: .rater(f.ben), options: options)
    #expect(forBen.visibleCases == 3, "\(forBen)")
  }

  /// The model's output under `--hide-model`, on PostgreSQL: predictions stored by the service
  /// role (as the trainer would) are shown, filtered, sorted and triaged for a rater until a
  /// session hides the model from her, and again once she labelled the case.
  @Test(.enabled(if: PGTestCluster.shouldRun)) func hiddenPredictionsStayHiddenOnPostgres() throws {
    let f = try ContractFixture(.postgres)
    let service = try f.serviceConnection()
    try service.query(
      "SELECT blastview.model_register(NULL, encode(sha256('\\x010203'::bytea), 'hex'), '\\x010203'::bytea, "
        + "'[]', '[]', '[]', NULL, NULL)")
    try service.query(
      "INSERT INTO blastview.model_promotion (model_version, promoted_by, reason) VALUES (1, 'test', 'test')")
    try service.query(
      #"SELECT blastview.prediction_save(c.id, 1, 'Pro-B', 0.55, '[0.1, 0.1, 0.25, 0.55]') FROM blastview."case" c"#
    )
    let ana = try f.reviewStore(f.ana)
    let (c0, c1, c2, c3) = (f.cases[0], f.cases[1], f.cases[2], f.cases[3])
    let me = Viewer.rater(f.ana)
    #expect(try ana.promotedModelVersion() == 1)
    let shown = try #require(try ana.caseDetail(id: c0, viewer: me).prediction)
    #expect(
      shown.label == "Pro-B" && shown.confidence == 0.55 && shown.probabilities == [0.1, 0.1, 0.25, 0.55])
    #expect(
      try ana.triageQueue(
        viewer: me, confidenceBelow: 0.6, limit: 100, session: nil, possiblyMalignantFrom: nil
      ).count == 4)

    try f.store(f.lead).createSession(
      name: "s1", raters: [f.ana], cases: .ids([c0, c1]), blinded: false, hideModel: true, createdBy: f.lead)
    let hidden = try ana.caseDetail(id: c0, viewer: me)
    #expect(hidden.prediction == nil && hidden.modelHidden && !hidden.blinded)
    #expect(try ana.caseDetail(id: c2, viewer: me).prediction?.label == "Pro-B")
    let rows = try ana.casePage(CasePageRequest(sort: .confidence), viewer: me).rows
    // Hidden predictions sort as none (first, ascending) and show nothing.
    #expect(rows.map(\.id) == [c0, c1, c2, c3])
    #expect(rows.map(\.predictedLabel) == [nil, nil, "Pro-B", "Pro-B"] && rows[0].modelHidden)
    #expect(
      try ana.casePage(CasePageRequest(filter: CaseFilter(predictedLabel: "Pro-B")), viewer: me).rows.map(
        \.id)
        == [c2, c3])
    #expect(try ana.caseCount(CaseFilter(confidenceBelow: 0.6), viewer: me) == 2)
    #expect(
      try ana.triageQueue(
        viewer: me, confidenceBelow: 0.6, limit: 100, session: nil, possiblyMalignantFrom: nil
      ).map(\.caseID) == [
        c2, c3,
      ])
    // The weights are withheld too while she has cases pending under the hidden model.
    #expect(throws: StoreError.self) { try ana.connection(for: "SELECT * FROM blastview.model_file(1)") }
    // Ben is in no such session: he sees every prediction.
    #expect(try f.reviewStore(f.ben).caseDetail(id: c0, viewer: .rater(f.ben)).prediction?.label == "Pro-B")
    // Labelling the case in the session shows her the model's answer.
    try ana.annotate(case: c0, rater: f.ana, label: "Pre-B", mask: nil, session: "s1", clear: [], note: nil)
    #expect(try ana.caseDetail(id: c0, viewer: me).prediction?.label == "Pro-B")
  }
}

extension ReviewStore {
  /// Runs `sql` on a PostgreSQL store's own connection (as its rater).
  @discardableResult
  func connection(for sql: String) throws -> [PGRow] {
    try #require(self as? PostgresStore).connection.query(sql)
  }
}
