import CaseStore
import Foundation
import TestSupport
import Testing

/// Background retraining and the model registry on a shared workspace (issue 16): the synthetic
/// retraining workspace (`Synthetic`, its base model promoted as v1) moved into PostgreSQL by
/// `migrate --from-sqlite --lead bvlead`; bvlead labels cases; `train --watch` as the service
/// role picks the corrections up, trains with the same code as on SQLite and writes the model
/// into the database, where the server's own SHA-256 of the stored bytes is the registered one;
/// the gate proposes or promotes as the workspace's settings say. A rater is refused by the
/// server (not only by the CLI) when he registers, promotes, rolls back or changes the gate,
/// and gets no weights while a session hides the model from him.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct SharedRetrainingTests {
  struct Fixture {
    let pg: PGTestCluster
    let db: String
    let base: String
    let service: PostgresStore

    init() throws {
      pg = try PGTestCluster.require()
      base = Synthetic.folder("shared-retrain")
      let embedded = try Synthetic.promotedWorkspace()
      db = try pg.createDatabase()
      let m = try Synthetic.run([
        "migrate", "--from-sqlite", embedded, "--workspace", base + "/service", "--database",
        pg.url(db, as: "blastview"), "--lead", "bvlead",
      ])
      try #require(m.status == 0, "\(m.err)")
      service = try PostgresStore.open(pg.url(db, as: "blastview"))
      service.localWorkspace = Workspace(directory: base + "/service")
      try service.addRater("bvben", role: .rater)
    }

    /// A local workspace directory of `role` (root connects as it through pg_ident).
    func workspace(_ role: String) throws -> String {
      let dir = base + "/" + role + "-" + UUID().uuidString.prefix(8)
      try SharedWorkspace.attach(directory: dir, url: pg.url(db, as: role))
      return dir
    }

    func blastview(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
      try Synthetic.run(args)
    }

    /// `sql` as the PostgreSQL superuser (the postgres OS user through psql).
    func superuser(_ sql: String) throws -> String {
      let u = try OSUsers(socket: pg.socket)
      let r = try u.psql("postgres", db, sql)
      try #require(r.status == 0, "\(sql): \(r.err)")
      return r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `sha256sum` of a file: a digest computed outside BlastView.
    func sha256sum(_ path: String) throws -> String {
      let r = try OSUsers.shell("/usr/bin/sha256sum", [path])
      try #require(r.status == 0, "\(r.err)")
      return String(r.out.prefix(64))
    }

    /// Every case of the workspace, as the trainer reads them.
    func cases() throws -> [CaseRecord] {
      try service.cases(afterID: 0, limit: 10_000, viewer: .system)
    }
  }

  static let trainOptions = ["--epochs", "1", "--batch", "8", "--max-batches", "2", "--threads", "2"]

  static func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
  }

  /// `train --watch` as the service role: six labels by the lead queue a job, which trains
  /// classification with segmentation frozen and registers v2 in the database. The server's
  /// SHA-256 of the stored bytes is the registered one, the file the trainer reads back
  /// verifies, and with 5 labelled validation cases (fewer than the gate's 20) v1 stays
  /// promoted. A second watch finds nothing new and queues nothing.
  @Test func watchAsTheServiceRoleRegistersAModelInTheDatabase() throws {
    let f = try Fixture()
    let lead = try PostgresStore.open(f.pg.url(f.db, as: "bvlead"))
    #expect(lead.role == "lead", "migrate --lead made bvlead a lead")
    let v1 = try #require(try f.service.promotedModel())
    for c in try f.cases().filter({ $0.split == .train }).prefix(6) {
      try lead.annotate(
        case: c.id, rater: "bvlead", label: Synthetic.classes[Synthetic.classIndex(c)], mask: nil,
        session: nil,
        clear: [], note: nil)
    }
    let ws = try f.workspace("blastview")
    let w = try f.blastview(
      ["train", "--watch", "--workspace", ws, "--after", "5", "--until-idle"] + Self.trainOptions)
    try #require(w.status == 0, "\(w.out)\n\(w.err)")
    #expect(w.out.contains("queued training job 1 after 6 corrections"), "\(w.out)")

    let job = try f.service.trainingJob(id: 1)
    #expect(job.status == .succeeded && job.resultModel == v1.version + 1, "\(job)")
    let v2 = try f.service.model(version: v1.version + 1)
    #expect(v2.parent == v1.version && v2.trainedTasks == ["cls"] && v2.frozenTasks == ["seg"])
    #expect(v2.frozenVerified == true, "the frozen segmentation tensors are bit for bit v1's")
    #expect(v2.sha256 != v1.sha256 && v2.trainingJobID == 1)
    #expect(v2.file == "sha256:" + v2.sha256, "the file lives in the database: \(v2.file)")
    // The server's own hash of the bytes it holds (independent of the Swift digest).
    let serverSHA = try f.superuser(
      "SELECT encode(sha256(f.bytes), 'hex') FROM blastview.model_file f JOIN blastview.model m "
        + "ON m.sha256 = f.sha256 WHERE m.version = \(v2.version)")
    #expect(serverSHA == v2.sha256)
    let local = try f.service.verifiedModelFile(v2)
    #expect(try f.sha256sum(local) == v2.sha256)
    // The gate: 5 labelled validation cases are fewer than 20, so nothing is promoted.
    guard case .object(let gate)? = v2.metrics["gate"], case .string(let verdict)? = gate["verdict"] else {
      Issue.record("no gate verdict in \(v2.metrics)")
      return
    }
    #expect(verdict == "proposed" || verdict == "rejected", "\(verdict)")
    #expect(try f.service.promotedModel()?.version == v1.version)
    #expect(w.out.contains("v\(v2.version) not promoted"), "\(w.out)")

    let again = try f.blastview(
      ["train", "--watch", "--workspace", ws, "--after", "5", "--until-idle"] + Self.trainOptions)
    #expect(again.status == 0, "\(again.err)")
    #expect(try f.service.trainingJobs(limit: 10).count == 1)
  }

  /// The gate on a shared workspace is the lead's: with the minimums lowered and automatic
  /// promotion on, a retrained version the gate passes is promoted with its predictions filled
  /// (a worse one is rejected; never merely proposed). The lead then promotes and rolls back on
  /// the command line, and the server records him, not what the client says.
  @Test func theLeadsGateDecidesAndTheLeadPromotesAndRollsBack() throws {
    let f = try Fixture()
    let leadWS = try f.workspace("bvlead")
    let g = try f.blastview([
      "model", "gate", "--workspace", leadWS, "--min-labelled", "1", "--min-masked", "1", "--auto-promote",
      "on",
    ])
    try #require(g.status == 0, "\(g.err)")
    #expect(try f.service.setting("auto_promote") == "on" && f.service.setting("gate_min_labelled") == "1")
    let lead = try PostgresStore.open(f.pg.url(f.db, as: "bvlead"))
    for c in try f.cases().filter({ $0.split == .train }).prefix(6) {
      try lead.annotate(
        case: c.id, rater: "bvlead", label: Synthetic.classes[Synthetic.classIndex(c)], mask: nil,
        session: nil,
        clear: [], note: nil)
    }
    let v1 = try #require(try f.service.promotedModel())
    let ws = try f.workspace("blastview")
    let q = try f.blastview(["train", "--queue", "--workspace", ws, "--json"] + Self.trainOptions.prefix(6))
    try #require(q.status == 0, "\(q.err)")
    let jobID = try #require(try Self.json(q.out)["job"] as? Int)
    let r = try f.blastview(["train", "--job", String(jobID), "--workspace", ws, "--threads", "2", "--json"])
    try #require(r.status == 0, "\(r.err)")
    let summary = try Self.json(r.out)
    let verdict = try #require((summary["gate"] as? [String: Any])?["verdict"] as? String)
    let v2 = Int64(try #require(summary["version"] as? Int))
    if verdict == "promoted" {
      #expect(try f.service.promotedModel()?.version == v2)
      let coverage = try f.service.predictionCoverage(model: v2)
      #expect(coverage.predicted == coverage.total && coverage.total == 80, "\(coverage)")
      #expect(try f.service.modelPromotions().first?.by == "retraining job \(jobID)")
    } else {
      #expect(verdict == "rejected", "the lead's minimums are met: never only proposed (\(summary))")
      #expect(try f.service.promotedModel()?.version == v1.version)
    }

    // The lead promotes the other version, then rolls back; `--rater` for someone else is refused.
    let target = verdict == "promoted" ? v1.version : v2
    let other = try f.blastview([
      "model", "promote", String(target), "--workspace", leadWS, "--rater", "bvben",
    ])
    #expect(other.status != 0 && other.err.contains("bvben") && other.err.contains("bvlead"), "\(other.err)")
    let p = try f.blastview([
      "model", "promote", String(target), "--workspace", leadWS, "--reason", "checked",
    ])
    try #require(p.status == 0, "\(p.err)")
    #expect(try f.service.promotedModel()?.version == target)
    let promotion = try #require(try f.service.modelPromotions().first)
    #expect(promotion.by == "bvlead" && promotion.reason == "checked" && promotion.version == target)
    let back = try f.blastview(["model", "rollback", "--workspace", leadWS])
    try #require(back.status == 0, "\(back.err)")
    // Back along the lineage from v2, or from v1 (no parent) to the version promoted before it.
    #expect(try f.service.promotedModel()?.version == (target == v2 ? v1.version : v2))
    #expect(try f.service.verifyAuditChain().ok, "the promotions are sealed in the audit chain")

    // Every rater reads the registry.
    let benWS = try f.workspace("bvben")
    let list = try f.blastview(["model", "list", "--workspace", benWS])
    #expect(
      list.status == 0 && list.out.contains("v\(v2) ") && list.out.contains("v\(v1.version) "), "\(list)")
  }

  /// A rater is refused by PostgreSQL itself: registering a model, promoting, rolling back and
  /// changing the gate through the functions, and the tables directly; `train` and `model
  /// promote` as him fail with the reason. While a session hides the model from him, the
  /// weights are withheld (the lead, in no such session, still gets them).
  @Test func aRaterIsRefusedByTheServer() throws {
    let f = try Fixture()
    let v1 = try #require(try f.service.promotedModel())
    let ben = try PGConnection(f.pg.url(f.db, as: "bvben"))
    func refused(_ sql: String, _ params: [PGValue] = []) -> String {
      do {
        _ = try ben.query(sql, params)
        return ""
      } catch {
        return String(describing: error)
      }
    }
    let bytes: [UInt8] = Array("not a model".utf8)
    let sha = String(repeating: "ab", count: 32)
    let register = refused(
      "SELECT blastview.model_register_full(NULL, $1, $2, '[]', '[]', '[]', NULL, '{}', '{}', NULL, NULL, NULL)",
      [.text(sha), .bytes(bytes)])
    #expect(register.contains("only the workspace's service role registers models"), "\(register)")
    let old = refused(
      "SELECT blastview.model_register(NULL, $1, $2, '[]', '[]', '[]', '{}', '{}')",
      [.text(sha), .bytes(bytes)])
    #expect(old.contains("only the workspace's service role"), "\(old)")
    let promote = refused("SELECT blastview.model_promote($1, 'mine', 'bvlead')", [.int(v1.version)])
    #expect(promote.contains("only a lead promotes or rolls back a model"), "\(promote)")
    let gate = refused("SELECT blastview.gate_setting_set('auto_promote', 'on')")
    #expect(gate.contains("only a lead changes the validation gate"), "\(gate)")
    for sql in [
      "INSERT INTO blastview.model_promotion (model_version) VALUES (1)",
      "SELECT count(*) FROM blastview.training_job", "SELECT count(*) FROM blastview.model_file",
      "UPDATE blastview.setting SET value = 'on' WHERE key = 'auto_promote'",
    ] {
      #expect(refused(sql).contains("permission denied"), "\(sql)")
    }
    #expect(try f.service.models().count == 1 && f.service.setting("auto_promote") == nil)

    let benWS = try f.workspace("bvben")
    let t = try f.blastview(["train", "--watch", "--until-idle", "--workspace", benWS] + Self.trainOptions)
    #expect(t.status != 0 && t.err.contains("only the workspace's service role"), "\(t.err)")
    // A version to promote (v1's bytes registered again by the service role): refused by the
    // server, as is changing the gate.
    let v2 = try f.service.registerModel(
      file: try f.service.verifiedModelFile(v1), parent: v1.version, tasks: v1.tasks, trainedTasks: [],
      frozenTasks: [], frozenVerified: nil, metrics: .object([:]), config: .object([:]), trainingJob: nil,
      trainedThroughAnnotation: nil, notes: nil)
    let p = try f.blastview(["model", "promote", String(v2.version), "--workspace", benWS])
    #expect(p.status != 0 && p.err.contains("only a lead promotes or rolls back a model"), "\(p.err)")
    let g = try f.blastview(["model", "gate", "--auto-promote", "on", "--workspace", benWS])
    #expect(g.status != 0 && g.err.contains("only a lead changes the validation gate"), "\(g.err)")
    #expect(try f.service.promotedModel()?.version == v1.version && f.service.setting("auto_promote") == nil)
    let show = try f.blastview(["model", "show", "1", "--workspace", benWS])
    #expect(show.status == 0 && show.out.contains(v1.sha256), "\(show)")

    // --hide-model: no weights for ben while he has cases pending under it.
    let lead = try PostgresStore.open(f.pg.url(f.db, as: "bvlead"))
    let benStore = try PostgresStore.open(f.pg.url(f.db, as: "bvben"))
    benStore.localWorkspace = Workspace(directory: benWS)
    #expect(try benStore.verifiedModelFile(v1).hasSuffix(v1.sha256 + ".safetensors"), "before the session")
    try FileManager.default.removeItem(atPath: Workspace(directory: benWS).modelsDirectory)
    try lead.createSession(
      name: "hidden", raters: ["bvben"], cases: .all, blinded: true, hideModel: true, createdBy: "bvlead")
    do {
      _ = try benStore.verifiedModelFile(v1)
      Issue.record("bvben got the weights while a session hides the model from him")
    } catch {
      #expect("\(error)".contains("hidden from bvben"), "\(error)")
    }
    lead.localWorkspace = Workspace(directory: try f.workspace("bvlead"))
    #expect(try f.sha256sum(lead.verifiedModelFile(v1)) == v1.sha256)
  }

  /// `predict --all-cases --model FILE --promote` on a shared workspace, as the service role:
  /// an outside checkpoint (here the shipped all4 model; a GPU site's torchrun checkpoint goes
  /// the same way) is stored in the database under its SHA-256, every case gets its prediction,
  /// and it becomes the model the trainer retrains. A rater cannot register one.
  @Test func theServiceRoleRegistersAnOutsideCheckpointWithPredict() throws {
    let f = try Fixture()
    let file = EndToEnd.repositoryRoot.appendingPathComponent("Models/all4.safetensors").path
    let benWS = try f.workspace("bvben")
    let refused = try f.blastview(["predict", "--all-cases", "--model", file, "--workspace", benWS])
    #expect(
      refused.status != 0 && refused.err.contains("only the workspace's service role"), "\(refused.err)")
    #expect(try f.service.models().count == 1)
    let ws = try f.workspace("blastview")
    let r = try f.blastview([
      "predict", "--all-cases", "--model", file, "--promote", "--workspace", ws, "--threads", "2",
    ])
    try #require(r.status == 0, "\(r.err)")
    #expect(r.out.contains("model v2: 80 cases predicted, 0 skipped; v2 promoted"), "\(r.out)")
    let promoted = try #require(try f.service.promotedModel())
    let sha = try f.sha256sum(file)
    #expect(promoted.version == 2 && promoted.sha256 == sha)
    let coverage = try f.service.predictionCoverage(model: promoted.version)
    #expect(coverage.predicted == 80 && coverage.total == 80)
    let first = try #require(try f.cases().first)
    let p = try #require(try f.service.prediction(case: first.id, model: 2, viewer: .system))
    #expect(p.probabilities.count == 4 && abs(p.probabilities.reduce(0, +) - 1) < 1e-6)
    #expect(try f.service.predictionSummary(model: 2).counts.map(\.cases).reduce(0, +) == 80)
  }

  /// Verified on read: a model file the superuser altered in the database (its CHECK and
  /// trigger dropped) is refused by the server when the lead promotes it, and by the client
  /// when anyone reads it.
  @Test func anAlteredModelFileIsRefused() throws {
    let f = try Fixture()
    let v1 = try #require(try f.service.promotedModel())
    // A second version to promote: v1's bytes registered again by the service role.
    let file = try f.service.verifiedModelFile(v1)
    let v2 = try f.service.registerModel(
      file: file, parent: v1.version, tasks: v1.tasks, trainedTasks: [], frozenTasks: [], frozenVerified: nil,
      metrics: .object([:]), config: .object([:]), trainingJob: nil, trainedThroughAnnotation: nil,
      notes: "copy")
    #expect(v2.sha256 == v1.sha256)
    _ = try f.superuser(
      "ALTER TABLE blastview.model_file DROP CONSTRAINT model_file_check; "
        + "SET session_replication_role = replica; "
        + "UPDATE blastview.model_file SET bytes = set_byte(bytes, 200, (get_byte(bytes, 200) + 1) % 256) "
        + "WHERE sha256 = '\(v1.sha256)'")
    let leadWS = try f.workspace("bvlead")
    let p = try f.blastview(["model", "promote", String(v2.version), "--workspace", leadWS])
    #expect(p.status != 0 && p.err.contains("SHA-256 differs from the registry"), "\(p.err)")
    #expect(try f.service.promotedModel()?.version == v1.version)
    let fresh = try PostgresStore.open(f.pg.url(f.db, as: "bvlead"))
    fresh.localWorkspace = Workspace(directory: try f.workspace("bvlead"))
    #expect(throws: StoreError.modelFileMismatch(version: v1.version, path: "sha256:" + v1.sha256)) {
      _ = try fresh.verifiedModelFile(v1)
    }
  }
}
