import CaseStore
import Foundation
import Imaging
import Testing

/// The store contract (`WorkspaceStore`), one set of assertions run on both backends: the
/// embedded SQLite store and the PostgreSQL one. Each rater acts through their own store:
/// on SQLite one store serves all (it takes the caller's word), on PostgreSQL each is a
/// connection as that role (the server knows who is asking).
enum Backend: String, CustomTestStringConvertible, Sendable {
  case sqlite, postgres
  var testDescription: String { rawValue }

  /// SQLite always; PostgreSQL with the test cluster (and in CI, where its absence fails).
  static var all: [Backend] { PGTestCluster.shouldRun ? [.sqlite, .postgres] : [.sqlite] }
}

/// A workspace on one backend with a lead, two raters and four SampleData images under a
/// folder named `Pre-B` (so each case has the reference label Pre-B).
final class ContractFixture {
  let backend: Backend
  let lead = "bvlead"
  let ana = "bvana"
  let ben = "bvben"
  /// An adjudicator (a role no other test changes: roles are cluster-wide on PostgreSQL).
  let judge = "bvjudge"
  let imageDir: String
  /// The embedded workspace's directory (SQLite), or the shared one's local directory.
  let workspaceDir: String
  private var stores: [String: any WorkspaceStore] = [:]
  private var sqlite: CaseStore?
  private var cluster: PGTestCluster?
  private var database: String?
  var cases: [Int64] = []
  /// The PostgreSQL database's name (nil on SQLite).
  var databaseName: String { database ?? "" }

  static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  init(_ backend: Backend) throws {
    self.backend = backend
    let base = NSTemporaryDirectory() + "bv-contract-\(UUID().uuidString)"
    imageDir = base + "/images/Pre-B"
    workspaceDir = base + "/ws"
    try FileManager.default.createDirectory(atPath: imageDir, withIntermediateDirectories: true)
    let source = Self.repo.appendingPathComponent("SampleData/wbc-seg/images/lymphocyte").path
    for n in try FileManager.default.contentsOfDirectory(atPath: source).sorted().prefix(4) {
      try FileManager.default.copyItem(atPath: source + "/" + n, toPath: imageDir + "/" + n)
    }
    switch backend {
    case .sqlite:
      let s = try Workspace.create(at: base + "/ws", schema: .all4)
      sqlite = s
      for r in [ana, ben] { try s.addRater(r, role: .rater) }
    case .postgres:
      let pg = try PGTestCluster.require()
      cluster = pg
      let db = try pg.createDatabase()
      database = db
      _ = try PostgresStore.create(pg.url(db, as: "blastview"), schema: .all4, leads: [lead])
      for r in [ana, ben] { try store(lead).addRater(r, role: .rater) }
    }
    let summary = try store(lead).importImages(
      ImportOptions(paths: [imageDir], labelsFromFolders: true), progress: { _ in })
    cases = summary.caseIDs
  }

  /// The store `rater` acts through.
  func store(_ rater: String) throws -> any WorkspaceStore {
    if let s = sqlite { return s }
    if let s = stores[rater] { return s }
    let s = try PostgresStore.open(cluster!.url(database!, as: rater))
    s.localWorkspace = Workspace(directory: workspaceDir)
    stores[rater] = s
    return s
  }

  /// PostgreSQL: a connection as the service role, which owns the tables (the trainer's role).
  func serviceConnection() throws -> PGConnection {
    try PGConnection(cluster!.url(database!, as: "blastview"))
  }

  /// The store the trainer registers models through: the embedded store, or a connection as
  /// the service role.
  func trainerStore() throws -> any RetrainingStore {
    if let s = sqlite { return s }
    let s = try PostgresStore.open(cluster!.url(database!, as: "blastview"))
    s.localWorkspace = Workspace(directory: workspaceDir + "-trainer")
    return s
  }

  /// The store `rater` reviews through (`blastview review`'s operations).
  func reviewStore(_ rater: String) throws -> any ReviewStore {
    try #require(try store(rater) as? any ReviewStore)
  }

  /// Registers `model` (a checkpoint's bytes) and promotes it, with a prediction per given case
  /// (see the static one). Returns the model version.
  @discardableResult
  func promoteModel(_ model: [UInt8], predictions: [Int64: [Double]]) throws -> Int64 {
    if let s = sqlite {
      return try Self.promoteModel(
        model, predictions: predictions, in: .embedded(s, scratch: workspaceDir + "/.."))
    }
    return try Self.promoteModel(model, predictions: predictions, in: .shared(try serviceConnection()))
  }

  /// Where `promoteModel` registers: an embedded store (the file is written to `scratch`
  /// first), or a shared workspace's service-role connection (the trainer's role).
  enum ModelTarget {
    case embedded(CaseStore, scratch: String)
    case shared(PGConnection)
  }

  /// Registers `model` and promotes it, with a prediction per given case from `probabilities`
  /// (in the all4 class order): on SQLite through the store, on PostgreSQL as the service role
  /// stores them, P(malignant) = 1 - P(Benign) as `savePredictions` derives it.
  static func promoteModel(_ model: [UInt8], predictions: [Int64: [Double]], in target: ModelTarget) throws
    -> Int64
  {
    switch target {
    case .embedded(let s, let scratch):
      let file = scratch + "/model-\(UUID().uuidString).safetensors"
      try Data(model).write(to: URL(fileURLWithPath: file))
      let v = try s.registerModel(
        file: file, parent: nil, tasks: ["cls"], trainedTasks: ["cls"], frozenTasks: [])
      try s.promote(version: v.version)
      try s.savePredictions(
        predictions.map { NewPrediction(caseID: $0.key, probabilities: $0.value) }, model: v.version)
      return v.version
    case .shared(let service):
      let version = try #require(
        try service.query(
          "SELECT blastview.model_register(NULL, encode(sha256($1), 'hex'), $1, '[\"cls\"]', '[\"cls\"]', '[]', "
            + "NULL, NULL)", [.bytes(model)]
        ).first?[0].flatMap { Int64($0) })
      try service.query(
        "INSERT INTO blastview.model_promotion (model_version, promoted_by, reason) VALUES ($1, 'test', 'test')",
        [.int(version)])
      let classes = LabelSchema.all4.classNames
      for (id, p) in predictions {
        let best = p.indices.max { p[$0] < p[$1] }!
        let json = "[" + p.map { String($0) }.joined(separator: ",") + "]"
        try service.query(
          "INSERT INTO blastview.prediction (case_id, model_version, label, confidence, probabilities, p_malignant) "
            + "VALUES ($1, $2, $3, $4, $5, $6)",
          [.int(id), .int(version), .text(classes[best]), .double(p[best]), .text(json), .double(1 - p[0])])
      }
      return version
    }
  }

  /// Another client of the same workspace as `rater`: a second process's connection.
  func anotherClient(_ rater: String) throws -> any ReviewStore {
    if sqlite != nil { return try Workspace.open(path: workspaceDir) }
    return try PostgresStore.open(cluster!.url(database!, as: rater))
  }
}

@Suite(.serialized) struct StoreContractTests {
  @Test(arguments: Backend.all) func importStoresVerifiedImagesWithFolderLabels(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    #expect(f.cases.count == 4)
    let s = try f.store(f.ana)
    #expect(try s.caseCount() == 4)
    let files = try FileManager.default.contentsOfDirectory(atPath: f.imageDir).sorted()
    for (id, name) in zip(f.cases, files) {
      let record = try s.caseRecord(id: id, viewer: .rater(f.ana))
      #expect(record.referenceLabel == "Pre-B")
      let bytes = try s.imageBytes(case: id)
      #expect(bytes == [UInt8](try Data(contentsOf: URL(fileURLWithPath: f.imageDir + "/" + name))))
      #expect(try s.resolveCase(String(record.sha256.prefix(12))) == id)
    }
    // The same bytes again are the same cases.
    let again = try f.store(f.lead).importImages(ImportOptions(paths: [f.imageDir]), progress: { _ in })
    #expect(again.imported == 0 && again.duplicates == 4)
  }

  @Test(arguments: Backend.all) func annotationsChainAndCarryForward(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    let s = try f.store(f.ana)
    let c = f.cases[0]
    let first = try s.annotate(
      case: c, rater: f.ana, label: "pre-b", mask: nil, session: nil, clear: [], note: "one")
    #expect(first.label == "Pre-B" && first.supersedes == nil && first.changed == .label)
    let second = try s.annotate(
      case: c, rater: f.ana, label: "Pro-B", mask: nil, session: nil, clear: [], note: nil)
    #expect(second.supersedes == first.id)
    let cleared = try s.annotate(
      case: c, rater: f.ana, label: nil, mask: nil, session: nil, clear: .label, note: nil)
    #expect(cleared.label == nil && cleared.supersedes == second.id && cleared.changed == .label)
    let h = try s.history(case: c, viewer: .rater(f.ana))
    #expect(h.map(\.id) == [first.id, second.id, cleared.id])
    #expect(h.map(\.note) == ["one", nil, nil])
    #expect(throws: StoreError.nothingToRecord) {
      try s.annotate(case: c, rater: f.ana, label: nil, mask: nil, session: nil, clear: [], note: nil)
    }
    #expect(throws: StoreError.unknownLabel("Blast", valid: ["Benign", "Early-B", "Pre-B", "Pro-B"])) {
      try s.annotate(case: c, rater: f.ana, label: "Blast", mask: nil, session: nil, clear: [], note: nil)
    }
    #expect(throws: StoreError.unknownCase("ffffff")) { try s.resolveCase("ffffff") }
  }

  @Test(arguments: Backend.all) func masksAreStoredAndCarriedForward(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    let s = try f.store(f.ana)
    let c = f.cases[1]
    let r = try s.caseRecord(id: c, viewer: .rater(f.ana))
    var values = [UInt8](repeating: 0, count: r.width * r.height)
    for i in stride(from: 0, to: values.count, by: 7) { values[i] = 255 }
    let a = try s.annotate(
      case: c, rater: f.ana, label: nil, mask: Mask(width: r.width, height: r.height, values: values),
      session: nil,
      clear: [], note: nil)
    #expect(a.maskID != nil && a.changed == .mask)
    let b = try s.annotate(
      case: c, rater: f.ana, label: "Benign", mask: nil, session: nil, clear: [], note: nil)
    #expect(b.maskID == a.maskID && b.changed == .label)
    #expect(throws: StoreError.maskSizeMismatch(caseID: c, expected: "\(r.width)×\(r.height)", got: "2×2")) {
      try s.annotate(
        case: c, rater: f.ana, label: nil, mask: Mask(width: 2, height: 2, values: [0, 255, 0, 0]),
        session: nil,
        clear: [], note: nil)
    }
  }

  @Test(arguments: Backend.all) func blindedSessionHidesOthersUntilLabelled(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    let info = try f.store(f.lead).createSession(
      name: "s1", raters: [f.ana, f.ben], cases: .all, blinded: true, hideModel: false, createdBy: f.lead)
    #expect(info.raters == [f.ana, f.ben] && info.caseCount == 4 && info.createdBy == f.lead && info.isOpen)
    let c = f.cases[0]
    let ana = try f.store(f.ana)
    let ben = try f.store(f.ben)
    try ana.annotate(
      case: c, rater: f.ana, label: "Pro-B", mask: nil, session: "s1", clear: [], note: "secret")
    // Ben, blinded: nothing of Ana's, not even the imported reference label.
    #expect(try ben.history(case: c, viewer: .rater(f.ben)).isEmpty)
    #expect(try ben.currentLabels(session: "s1", viewer: .rater(f.ben)).isEmpty)
    #expect(try ben.caseRecord(id: c, viewer: .rater(f.ben)).referenceLabel == nil)
    #expect(try ben.caseRecord(id: f.cases[1], viewer: .rater(f.ben)).referenceLabel == nil)
    // Ana sees her own; the creator (no rater of the session) sees everything.
    #expect(try ana.currentLabels(session: "s1", viewer: .rater(f.ana)).map(\.label) == ["Pro-B"])
    #expect(try f.store(f.lead).currentLabels(session: "s1", viewer: .rater(f.lead)).count == 1)
    // Progress counts are not blinded.
    #expect(try ben.session(named: "s1").labelled == [f.ana: 1, f.ben: 0])
    // After Ben labels the case, he sees Ana's label and note on it, and only on it.
    try ben.annotate(case: c, rater: f.ben, label: "Pre-B", mask: nil, session: "s1", clear: [], note: nil)
    let labels = try ben.currentLabels(session: "s1", viewer: .rater(f.ben))
    #expect(
      labels.map { "\($0.caseID) \($0.rater) \($0.label)" } == ["\(c) \(f.ana) Pro-B", "\(c) \(f.ben) Pre-B"])
    #expect(try ben.history(case: c, viewer: .rater(f.ben)).map(\.note) == ["secret", nil])
    #expect(try ben.caseRecord(id: c, viewer: .rater(f.ben)).referenceLabel == "Pre-B")
    #expect(try ben.caseRecord(id: f.cases[1], viewer: .rater(f.ben)).referenceLabel == nil)
  }

  @Test(arguments: Backend.all) func sessionRulesAndClosing(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    let lead = try f.store(f.lead)
    try lead.createSession(
      name: "s1", raters: [f.ana], cases: .ids([f.cases[0], f.cases[2]]), blinded: true, hideModel: true,
      createdBy: f.lead)
    #expect(throws: StoreError.sessionExists("s1")) {
      try lead.createSession(
        name: "s1", raters: [f.ana], cases: .all, blinded: false, hideModel: false, createdBy: f.lead)
    }
    let ana = try f.store(f.ana)
    let ben = try f.store(f.ben)
    #expect(throws: StoreError.unknownSession("nope")) {
      try ana.annotate(
        case: f.cases[0], rater: f.ana, label: "Benign", mask: nil, session: "nope", clear: [], note: nil)
    }
    #expect(throws: StoreError.raterNotInSession(rater: f.ben, session: "s1")) {
      try ben.annotate(
        case: f.cases[0], rater: f.ben, label: "Benign", mask: nil, session: "s1", clear: [], note: nil)
    }
    #expect(throws: StoreError.caseNotInSession(caseID: f.cases[1], session: "s1")) {
      try ana.annotate(
        case: f.cases[1], rater: f.ana, label: "Benign", mask: nil, session: "s1", clear: [], note: nil)
    }
    #expect(throws: StoreError.notSessionCreator(rater: f.ben, session: "s1")) {
      try ben.closeSession("s1", by: f.ben)
    }
    #expect(throws: StoreError.notSessionCreator(rater: f.ana, session: "s1")) {
      try ana.closeSession("s1", by: f.ana)
    }
    #expect(try ana.sessions().map(\.name) == ["s1"])
    try lead.closeSession("s1", by: f.lead)
    #expect(try ana.session(named: "s1").isOpen == false)
    #expect(throws: StoreError.sessionClosed("s1")) {
      try ana.annotate(
        case: f.cases[0], rater: f.ana, label: "Benign", mask: nil, session: "s1", clear: [], note: nil)
    }
    #expect(throws: StoreError.sessionClosed("s1")) { try lead.closeSession("s1", by: f.lead) }
  }

  @Test(arguments: Backend.all) func labelsImportIsAllOrNothing(_ backend: Backend) throws {
    let f = try ContractFixture(backend)
    try f.store(f.lead).createSession(
      name: "s1", raters: [f.ana, f.ben], cases: .all, blinded: true, hideModel: false, createdBy: f.lead)
    let dir = NSTemporaryDirectory() + "bv-labels-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let good = dir + "/ana.csv"
    try "case,rater,label\n\(f.cases[0]),\(f.ana),Benign\n\(f.cases[1]),\(f.ana),pro-b\n".write(
      toFile: good, atomically: true, encoding: .utf8)
    let made = try f.store(f.ana).importLabels(csvPath: good, session: "s1")
    #expect(
      made.map(\.label) == ["Benign", "Pro-B"] && made.allSatisfy { $0.session == "s1" && $0.rater == f.ana })
    let bad = dir + "/bad.csv"
    try "case,rater,label\n\(f.cases[2]),\(f.ana),Benign\n\(f.cases[3]),\(f.ana),Blast\n".write(
      toFile: bad, atomically: true, encoding: .utf8)
    #expect(throws: StoreError.self) { try f.store(f.ana).importLabels(csvPath: bad, session: "s1") }
    #expect(try f.store(f.ana).currentLabels(session: "s1", viewer: .rater(f.ana)).count == 2)
  }
}

/// What only the shared workspace has: identity from the connection and leads.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct PostgresIdentityContractTests {
  @Test func aRaterCannotActOrReadAsAnother() throws {
    let f = try ContractFixture(.postgres)
    let ben = try f.store(f.ben)
    #expect(ben.connectedRater == f.ben)
    do {
      try ben.annotate(
        case: f.cases[0], rater: f.ana, label: "Benign", mask: nil, session: nil, clear: [], note: nil)
      Issue.record("ben wrote as ana")
    } catch {
      #expect(error.description.contains(f.ana) && error.description.contains(f.ben), "\(error)")
    }
    #expect(throws: StoreError.self) { try ben.history(case: f.cases[0], viewer: .rater(f.ana)) }
    #expect(try f.store(f.ana).history(case: f.cases[0], viewer: .rater(f.ana)).isEmpty)
  }

  @Test func onlyALeadChangesRolesOrImports() throws {
    let f = try ContractFixture(.postgres)
    let ben = try f.store(f.ben)
    for (name, role) in [(f.ben, WorkspaceRole.lead), (f.ana, .adjudicator), ("bvnew", .rater)] {
      do {
        try ben.addRater(name, role: role)
        Issue.record("ben changed \(name)'s role")
      } catch {
        #expect(error.description.contains("only a lead"), "\(error)")
      }
    }
    #expect(throws: StoreError.self) {
      try ben.importImages(ImportOptions(paths: [f.imageDir]), progress: { _ in })
    }
    #expect(try f.store(f.lead).workspaceRaters().map(\.role) == [.lead, .rater, .rater])
    // A lead creates a role and changes it (a role no other test uses: roles are cluster-wide).
    #expect(try f.store(f.lead).addRater("bvcarl", role: .adjudicator).role == .adjudicator)
    #expect(try f.store(f.lead).addRater("bvcarl", role: .rater).role == .rater)
    #expect(try f.store(f.lead).workspaceRaters().last == WorkspaceRater(name: "bvcarl", role: .rater))
  }
}

/// Roles are cluster-wide: leads of two workspaces on one server adding the same new rater at
/// the same moment both succeed (before: one failed with "duplicate key value violates unique
/// constraint pg_authid_rolname_index", seen when the suites' fixtures raced in CI).
@Suite(.enabled(if: PGTestCluster.shouldRun)) struct ConcurrentRaterAddTests {
  @Test func twoWorkspacesAddTheSameNewRaterAtOnce() throws {
    let a = try ContractFixture(.postgres)
    let b = try ContractFixture(.postgres)
    let leads = [try a.store(a.lead), try b.store(b.lead)]
    for round in 0..<8 {
      let name = "bvrace\(round)\(UInt32.random(in: 0...UInt32.max))"
      let failures = LockedList()
      DispatchQueue.concurrentPerform(iterations: 2) { i in
        do { _ = try leads[i].addRater(name, role: .rater) } catch { failures.append("\(error)") }
      }
      #expect(failures.items.isEmpty, "round \(round): \(failures.items)")
      for s in leads { #expect(try s.workspaceRaters().contains { $0.name == name && $0.role == .rater }) }
    }
  }
}

/// Errors collected from concurrent work.
final class LockedList: @unchecked Sendable {
  private let lock = NSLock()
  private var list: [String] = []
  func append(_ s: String) { lock.withLock { list.append(s) } }
  var items: [String] { lock.withLock { list } }
}
