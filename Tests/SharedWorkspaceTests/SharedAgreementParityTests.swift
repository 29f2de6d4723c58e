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
  /// The embedded workspace described above and its copy in a fresh PostgreSQL database
  /// (made by `migrate`'s `importEmbedded`), with the session `m` and the case ids.
  struct Workspaces {
    var base: String
    var store: CaseStore
    var database: String
    var cases: [Int64]
    var classes: [String]
  }

  static func makeWorkspaces() throws -> Workspaces {
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

    return Workspaces(base: base, store: store, database: db, cases: c, classes: classes)
  }

  @Test func theReportIsTheSameOnBothBackendsForEachRater() throws {
    let pg = try PGTestCluster.require()
    let w = try Self.makeWorkspaces()
    let (store, db, classes) = (w.store, w.database, w.classes)
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

  /// `blastview report --session` on the shared copy: the same report.json as on the embedded
  /// workspace for each rater (every number, the adjudications, the progress), and the audit
  /// head the database recomputes equals the embedded one (migrate reproduced the chain).
  @Test func theStudyReportIsTheSameOnBothBackends() throws {
    let pg = try PGTestCluster.require()
    let w = try Self.makeWorkspaces()
    func report(_ args: [String], out: String) throws -> [String: Any] {
      let r = try OSUsers.shell(
        OSUsers.builtBinary, ["report", "--session", "m", "--out", out, "--bootstrap", "20"] + args)
      try #require(r.status == 0, "\(args): \(r.err)")
      let data = try Data(contentsOf: URL(fileURLWithPath: out + "/report.json"))
      var json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
      json["generated_at"] = nil
      #expect(FileManager.default.fileExists(atPath: out + "/report.html"))
      return json
    }
    for rater in ["bvana", "bvben"] {
      let local = w.base + "/shared-\(rater)"
      let made = try OSUsers.shell(
        OSUsers.builtBinary, ["init", "--workspace", local, "--database", pg.url(w.database, as: rater)])
      try #require(made.status == 0, "\(made.err)")
      let embedded = try report(
        ["--workspace", w.base + "/ws", "--rater", rater], out: w.base + "/report-sqlite-\(rater)")
      let shared = try report(["--workspace", local], out: w.base + "/report-pg-\(rater)")
      #expect(
        NSDictionary(dictionary: shared).isEqual(to: embedded),
        "\(rater):\nPostgreSQL \(shared)\nSQLite \(embedded)")
      let chain = try #require(shared["audit_chain"] as? [String: Any])
      #expect(
        chain["head"] as? String == (try w.store.verifyAuditChain().head) && chain["ok"] as? Bool == true,
        "\(chain)")
      // The one adjudication is the lead's, of case 2; Ben may not see what he is blinded for.
      #expect((shared["adjudications"] as? [Any])?.count == 1, "\(shared)")
    }
  }

  /// `cases.csv` and the COCO export of the final masks hold the same rows on both backends for
  /// a rater still blinded for half the session (the image column aside: a shared workspace
  /// has no image root), and ana, who labelled everything, sees Ben's labels in hers.
  @Test func casesCSVAndFinalCOCOAreTheSameOnBothBackends() throws {
    let pg = try PGTestCluster.require()
    let w = try Self.makeWorkspaces()
    for rater in ["bvana", "bvben"] {
      let shared = try PostgresStore.open(pg.url(w.database, as: rater))
      func rows(_ text: String) -> [[Substring]] {
        text.split(separator: "\n").map { line in
          var cells = line.split(separator: ",", omittingEmptySubsequences: false)
          cells.remove(at: 1)
          return cells
        }
      }
      let embeddedCSV = try w.store.casesCSV(viewer: .rater(rater)).text
      let sharedCSV = try shared.casesCSV(viewer: .rater(rater)).text
      #expect(rows(sharedCSV) == rows(embeddedCSV), "\(rater):\n\(sharedCSV)\n\(embeddedCSV)")
      func coco(_ store: any ExportSource, _ dir: String, final: Bool) throws -> [String: Any] {
        _ = try store.export(
          ExportOptions(
            format: .coco, outDirectory: dir, viewer: .rater(rater), final: final, includeReference: final))
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/coco.json"))
        var json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        json["images"] = (json["images"] as? [[String: Any]])?.map { image -> [String: Any] in
          var i = image
          i["file_name"] = nil
          return i
        }
        return json
      }
      for final in [false, true] {
        let a = try coco(w.store, w.base + "/coco-sqlite-\(rater)-\(final)", final: final)
        let b = try coco(shared, w.base + "/coco-pg-\(rater)-\(final)", final: final)
        #expect(NSDictionary(dictionary: b).isEqual(to: a), "\(rater) final \(final):\n\(b)\n\(a)")
        // Both raters drew on case 1, and both labelled it: each sees both masks' nuclei.
        if !final {
          #expect(
            Set(((b["annotations"] as? [[String: Any]]) ?? []).compactMap { $0["rater"] as? String }) == [
              "bvana", "bvben",
            ])
        }
      }
    }
    // Ana labelled every case: Ben's labels of cases 1 and 2 are in her table; Ben (who did
    // not label cases 3 and 4) gets no other label of those, nor their reference label.
    let ana = try PostgresStore.open(pg.url(w.database, as: "bvana")).casesCSV(viewer: .rater("bvana"))
    #expect(ana.raters == ["bvana", "bvben"], "\(ana.text)")
    let ben = try PostgresStore.open(pg.url(w.database, as: "bvben")).casesCSV(viewer: .rater("bvben"))
    for line in ben.text.split(separator: "\n").dropFirst() {
      let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      guard cells[0] == String(w.cases[2]) || cells[0] == String(w.cases[3]) else { continue }
      #expect(cells[1].hasPrefix("case-") && cells[3].isEmpty, "\(line)")
      #expect(!cells[4...].contains { w.classes.contains($0) }, "\(line)")
    }
  }
}
