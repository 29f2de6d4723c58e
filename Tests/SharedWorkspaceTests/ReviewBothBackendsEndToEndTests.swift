import CaseStore
import Foundation
import TestSupport
import Testing

/// `blastview review` for real, in tmux, with the same script on both backends (issue 16): the
/// rater bvana opens the review app, labels a case and sees it saved; triage lists her
/// disagreement with bvben; she is refused adjudication (on PostgreSQL by the database: the
/// CLI sends the adjudication and the server's function refuses it); the adjudicator bvjudge
/// adjudicates the case in the app and it leaves the queue.
///
/// On SQLite the raters are named with `--rater` (the embedded store takes the caller's word);
/// on PostgreSQL each is the OS user running the binary (peer authentication), with their own
/// workspace directory on one database.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux"))) struct ReviewBothBackendsEndToEndTests {
  static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  struct Failed: Error, CustomStringConvertible {
    let description: String
  }

  /// One workspace on one backend, and how each user runs the binary on it.
  struct Setup {
    let backend: Backend
    let users: OSUsers
    /// PostgreSQL: the database's name.
    let database: String?
    let cluster: PGTestCluster?

    func workspace(_ user: String) -> String {
      backend == .sqlite ? users.work + "/ws" : users.work + "/ws-\(user)"
    }

    /// `blastview ARGS` as `user`; `asRater` appends `--rater user` on SQLite.
    func cli(_ user: String, _ args: [String], asRater: Bool = true) throws -> (
      status: Int32, out: String, err: String
    ) {
      let ws = ["--workspace", workspace(user)]
      switch backend {
      case .sqlite: return try users.blastview(nil, args + ws + (asRater ? ["--rater", user] : []))
      case .postgres: return try users.blastview(user, args + ws)
      }
    }

    /// The shell command that runs the review app as `user` in a tmux pane (with `extra`
    /// arguments, shell-quoted).
    func reviewCommand(_ user: String, _ extra: [String] = []) -> String {
      let q = EndToEnd.shellQuote
      let review =
        "\(q(users.binary)) review --workspace \(q(workspace(user))) --graphics blocks"
        + extra.map { " " + q($0) }.joined()
      let env = "/usr/bin/env -i HOME=\(q(users.work)) PATH=/usr/bin:/bin LANG=C.UTF-8 TERM=screen"
      let run =
        backend == .sqlite
        ? "\(env) \(review) --rater \(user)" : "/usr/sbin/runuser -u \(user) -- \(env) \(review)"
      return "sh -c \(q(run + "; echo EXIT=$?; sleep 60"))"
    }

    /// Where a test registers and promotes a model: the embedded store, or the service role.
    func modelTarget() throws -> ContractFixture.ModelTarget {
      switch backend {
      case .sqlite: return .embedded(try Workspace.open(path: workspace("")), scratch: users.work)
      case .postgres: return .shared(try PGConnection(cluster!.url(database!, as: "blastview")))
      }
    }

    /// The workspace as the service (SQLite: as the system), to check what was saved.
    func systemStore() throws -> any ReviewStore {
      switch backend {
      case .sqlite: return try Workspace.open(path: workspace(""))
      case .postgres: return try PostgresStore.open(cluster!.url(database!, as: "blastview"))
      }
    }
  }

  @discardableResult
  func ok(_ r: (status: Int32, out: String, err: String), _ what: String) throws -> String {
    guard r.status == 0 else { throw Failed(description: "\(what) failed (\(r.status)): \(r.err)\(r.out)") }
    return r.out
  }

  /// The cases `blastview triage --json` lists for `user`.
  func triageCases(_ s: Setup, _ user: String) throws -> [Int] {
    let out = try ok(try s.cli(user, ["triage", "--json"]), "triage as \(user)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
    return try #require(json["queue"] as? [[String: Any]]).compactMap { $0["case"] as? Int }
  }

  /// A workspace with four SampleData lymphocytes, raters bvana and bvben, the adjudicator
  /// bvjudge, and the lead bvlead.
  func setUp(_ backend: Backend) throws -> Setup? {
    var cluster: PGTestCluster? = nil
    var database: String? = nil
    if backend == .postgres {
      guard geteuid() == 0 else {
        if PGTestCluster.inCI { Issue.record("the shared review test needs root (to run as other OS users)") }
        return nil
      }
      cluster = try PGTestCluster.require()
      database = try cluster!.createDatabase()
    }
    let u = try OSUsers(socket: cluster?.socket ?? "/nonexistent")
    let s = Setup(backend: backend, users: u, database: database, cluster: cluster)
    let images = try u.publicDirectory("images")
    let source = Self.repo.appendingPathComponent("SampleData/wbc-seg/images/lymphocyte").path
    for n in try FileManager.default.contentsOfDirectory(atPath: source).sorted().prefix(4) {
      try FileManager.default.copyItem(atPath: source + "/" + n, toPath: images + "/" + n)
      chmod(images + "/" + n, 0o644)
    }
    switch backend {
    case .sqlite:
      try ok(try u.blastview(nil, ["init", "--workspace", s.workspace(""), "--no-model"]), "init")
      try ok(try s.cli("bvlead", ["import", images], asRater: false), "import")
      for (r, role) in [("bvana", "rater"), ("bvben", "rater"), ("bvjudge", "adjudicator")] {
        try ok(try s.cli("bvlead", ["rater", "add", r, "--role", role], asRater: false), "rater add \(r)")
      }
    case .postgres:
      let pg = cluster!
      try ok(
        try u.blastview(
          nil,
          [
            "init", "--workspace", u.work + "/ws-service", "--database", pg.url(database!, as: "blastview"),
            "--lead", "bvlead", "--no-model",
          ]), "init as the service role")
      try ok(
        try u.blastview(
          "bvlead", ["init", "--workspace", s.workspace("bvlead"), "--database", pg.url(database!)]),
        "init as bvlead")
      for (r, role) in [("bvana", "rater"), ("bvben", "rater"), ("bvjudge", "adjudicator")] {
        try ok(try s.cli("bvlead", ["rater", "add", r, "--role", role]), "rater add \(r)")
      }
      try ok(try s.cli("bvlead", ["import", images]), "import")
      for r in ["bvana", "bvben", "bvjudge"] {
        try ok(
          try u.blastview(r, ["init", "--workspace", s.workspace(r), "--database", pg.url(database!)]),
          "init as \(r)")
      }
    }
    return s
  }

  /// The model screen (`V`) on both backends (issue 16): the lead promotes the version the
  /// trainer registered (`p`, `y`), and the registry records him and the screen's reason. On
  /// PostgreSQL a rater's promotion from the same screen is refused by the server, and the
  /// screen says so.
  @Test(arguments: Backend.all) func theModelScreenPromotesAsTheLeadOnly(_ backend: Backend) throws {
    guard let s = try setUp(backend) else { return }
    defer { try? FileManager.default.removeItem(atPath: s.users.work) }
    let trainer = try #require(try s.systemStore() as? any RetrainingStore)
    let weights = Self.repo.appendingPathComponent("Models/all4.safetensors").path
    func register(parent: Int64?) throws -> ModelVersion {
      try trainer.registerModel(
        file: weights, parent: parent, tasks: ["cls", "seg"], trainedTasks: ["cls"], frozenTasks: ["seg"],
        frozenVerified: true, metrics: .object([:]), config: .object([:]), trainingJob: nil,
        trainedThroughAnnotation: nil, notes: "registered by the trainer")
    }
    let v1 = try register(parent: nil)
    do {
      let lead = try #require(TmuxSession(columns: 120, rows: 40, command: s.reviewCommand("bvlead")))
      #expect(lead.waitFor("4 matching", seconds: 20), "\(lead.capture())")
      lead.send("V")
      #expect(lead.waitFor("v\(v1.version)"), "\(lead.capture())")
      lead.send("p")
      #expect(
        lead.waitFor("Promote v\(v1.version) (registered by the trainer)? y promotes"), "\(lead.capture())")
      lead.send("y")
      #expect(lead.waitFor("Promoted v\(v1.version)", seconds: 20), "\(lead.capture())")
      lead.send("q")
      #expect(lead.waitFor("EXIT=0"), "\(lead.capture())")
    }
    let store = try s.systemStore()
    #expect(try store.promotedModelVersion() == v1.version)
    let promotion = try #require(try store.modelPromotions().first)
    #expect(promotion.by == "bvlead" && promotion.reason == "promoted by bvlead on the model screen")

    guard backend == .postgres else { return }
    let v2 = try register(parent: v1.version)
    do {
      let ana = try #require(TmuxSession(columns: 120, rows: 40, command: s.reviewCommand("bvana")))
      #expect(ana.waitFor("4 matching", seconds: 20), "\(ana.capture())")
      ana.send("V")
      #expect(ana.waitFor("v\(v2.version)"), "\(ana.capture())")
      ana.send("p")
      #expect(
        ana.waitFor("Promote v\(v2.version) (registered by the trainer)? y promotes"), "\(ana.capture())")
      ana.send("y")
      #expect(ana.waitFor("only a lead promotes", seconds: 20), "\(ana.capture())")
      ana.send("q")
      #expect(ana.waitFor("EXIT=0"), "\(ana.capture())")
    }
    #expect(try store.promotedModelVersion() == v1.version && store.modelPromotions().count == 1)
  }

  @Test(arguments: Backend.all) func labelTriageAndAdjudicateInTheReviewApp(_ backend: Backend) throws {
    guard let s = try setUp(backend) else { return }
    defer { try? FileManager.default.removeItem(atPath: s.users.work) }
    try ok(try s.cli("bvben", ["annotate", "1", "--label", "Benign"]), "bvben labels case 1")
    if backend == .postgres {
      // Nobody reviews as another rater: refused before the terminal is touched.
      let other = try s.users.blastview(
        "bvana", ["review", "--workspace", s.workspace("bvana"), "--rater", "bvben", "--graphics", "none"])
      #expect(other.status != 0 && other.err.contains("--rater bvben refused") && other.err.contains("bvana"))
    }

    // bvana labels case 1 in the app: saved, and triage lists the disagreement.
    do {
      let ana = try #require(TmuxSession(columns: 120, rows: 40, command: s.reviewCommand("bvana")))
      #expect(ana.waitFor("4 matching", seconds: 20), "\(ana.capture())")
      ana.send("Enter")
      #expect(ana.waitFor("Case #1"))
      ana.send("3")
      #expect(ana.waitFor("Saved: case #1 labelled Pre-B"), "\(ana.capture())")
      // A stroke in the mask editor: saved, when the visit ends, as a new (insert-only)
      // annotation.
      ana.send("m")
      #expect(ana.waitFor("Mask editor · case #1"), "\(ana.capture())")
      ana.send("Space")
      ana.send("L")
      ana.send("L")
      ana.send("Space")
      ana.send("Escape")
      #expect(ana.waitFor("Saved: mask of case #1"), "\(ana.capture())")
      #expect(ana.waitFor("My label: Pre-B"))
      ana.send("Escape")
      #expect(ana.waitFor("me:Pre-B 001.png"), "\(ana.capture())")
      #expect(ana.capture().contains("▶#1 –"))
      ana.send("!")
      #expect(ana.waitFor("1 case: "), "\(ana.capture())")
      #expect(ana.capture().contains("#1"))
      // The app asks the store for her role: she is refused.
      ana.send("Enter")
      #expect(ana.waitFor("Refused: only adjudicators adjudicate"), "\(ana.capture())")
      ana.send("q")
      #expect(ana.waitFor("EXIT=0"), "\(ana.capture())")
    }
    let store = try s.systemStore()
    let history = try store.history(case: 1, viewer: .system)
    #expect(
      history.map { "\($0.rater) \($0.label ?? "-") \($0.maskID == nil ? "-" : "mask")" } == [
        "bvben Benign -", "bvana Pre-B -", "bvana Pre-B mask",
      ])
    let stroke = try store.storedMask(id: try #require(history.last?.maskID))
    #expect(stroke.values.filter { $0 >= 128 }.count > 100)

    // The CLI sends her adjudication; the store (on PostgreSQL: the database) refuses it.
    let refused = try s.cli("bvana", ["adjudicate", "1", "--label", "Pre-B", "--reason", "mine"])
    #expect(refused.status != 0)
    #expect(refused.err.contains("does not have the adjudicator role"), "\(refused.err)")
    #expect(try triageCases(s, "bvana") == [1])

    do {
      let judge = try #require(TmuxSession(columns: 120, rows: 40, command: s.reviewCommand("bvjudge")))
      #expect(judge.waitFor("4 matching", seconds: 20), "\(judge.capture())")
      judge.send("!")
      #expect(judge.waitFor("1 case: "), "\(judge.capture())")
      judge.send("Enter")
      #expect(judge.waitFor("Adjudicate case #1"), "\(judge.capture(history: true))")
      #expect(judge.capture().contains("bvana: Pre-B") && judge.capture().contains("bvben: Benign"))
      judge.send("3")
      judge.send("r")
      judge.send("-l", "blasts, fine chromatin")
      judge.send("Enter")
      #expect(judge.waitFor("Reason kept"))
      judge.send("Enter")
      #expect(judge.waitFor("Adjudicated case #1: Pre-B"), "\(judge.capture())")
      #expect(judge.waitFor("0 cases"))
      judge.send("q")
      #expect(judge.waitFor("EXIT=0"))
    }
    let final = try #require(try store.caseDetail(id: 1, viewer: .system).adjudication)
    #expect(
      final.label == "Pre-B" && final.adjudicator == "bvjudge" && final.reason == "blasts, fine chromatin")
    #expect(try triageCases(s, "bvana").isEmpty)
  }

  /// The screening flag, its filter and the agreement dashboard in the app, the same script on
  /// both backends: the promoted model's operating point (0.3, from its checkpoint) flags
  /// cases 1 (P(malignant) 0.30, predicted Benign) and 2 (0.95); the `*` filter lists exactly
  /// those; case 1's view says POSSIBLY MALIGNANT and case 3's (0.02) does not; and in the
  /// session the dashboard shows the pair's kappa as `agree --session --json` computes it.
  @Test(arguments: Backend.all) func screeningFlagAndDashboardInTheReviewApp(_ backend: Backend) throws {
    guard let s = try setUp(backend) else { return }
    defer { try? FileManager.default.removeItem(atPath: s.users.work) }
    try ContractFixture.promoteModel(
      ReviewStoreContractTests.checkpoint(threshold: 0.3),
      predictions: [
        1: [0.7, 0.2, 0.05, 0.05], 2: [0.05, 0.9, 0.03, 0.02], 3: [0.98, 0.01, 0.005, 0.005],
        4: [0.9, 0.05, 0.03, 0.02],
      ],
      in: try s.modelTarget())
    try ok(
      try s.cli(
        "bvlead",
        ["session", "create", "s1", "--raters", "bvana,bvben", "--cases", "all", "--created-by", "bvlead"],
        asRater: false), "session create")
    for (user, labels) in [
      ("bvana", ["Pre-B", "Benign", "Benign"]), ("bvben", ["Pre-B", "Benign", "Pre-B"]),
    ] {
      for (i, l) in labels.enumerated() {
        try ok(
          try s.cli(user, ["annotate", String(i + 1), "--label", l, "--session", "s1"]), "\(user) labels")
      }
    }

    do {
      let ana = try #require(TmuxSession(columns: 120, rows: 40, command: s.reviewCommand("bvana")))
      #expect(ana.waitFor("4 matching", seconds: 20), "\(ana.capture())")
      ana.send("Enter")
      #expect(ana.waitFor("Case #1"), "\(ana.capture())")
      #expect(ana.waitFor("POSSIBLY MALIGNANT"), "\(ana.capture())")
      #expect(ana.capture().contains("P(malignant) 0.30"), "\(ana.capture())")
      ana.send("n")
      #expect(ana.waitFor("Case #2"), "\(ana.capture())")
      #expect(
        ana.waitFor("P(malignant) 0.95") && ana.capture().contains("POSSIBLY MALIGNANT"), "\(ana.capture())")
      ana.send("n")
      #expect(ana.waitFor("Case #3"), "\(ana.capture())")
      #expect(ana.waitFor("Screening: below 0.3"), "\(ana.capture())")
      #expect(!ana.capture().contains("POSSIBLY MALIGNANT"))
      ana.send("Escape")
      #expect(ana.waitFor("4 matching"), "\(ana.capture())")
      ana.send("*")
      #expect(ana.waitFor("2 matching"), "\(ana.capture())")
      #expect(ana.capture().contains("possibly malignant (P>=0.3)"), "\(ana.capture())")
      ana.send("q")
      #expect(ana.waitFor("EXIT=0"), "\(ana.capture())")
    }

    let agree = try ok(try s.cli("bvana", ["agree", "--session", "s1", "--json"]), "agree as bvana")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(agree.utf8)) as? [String: Any])
    let cohen = try #require(json["cohen"] as? [String: Any])
    let kappa = try #require(cohen["kappa"] as? Double)
    // Three cases, two agreements; margins ana (Pre-B 1, Benign 2), ben (Pre-B 2, Benign 1):
    // chance 4/9, so kappa = (2/3 - 4/9) / (5/9) = 0.4.
    #expect(abs(kappa - 0.4) < 1e-9, "\(agree)")
    do {
      let ana = try #require(
        TmuxSession(columns: 120, rows: 40, command: s.reviewCommand("bvana", ["--session", "s1"])))
      #expect(ana.waitFor("session s1", seconds: 20), "\(ana.capture())")
      ana.send("A")
      #expect(ana.waitFor("bvana × bvben"), "\(ana.capture())")
      let line = ana.capture().split(separator: "\n").first { $0.contains("bvana × bvben") } ?? ""
      #expect(line.contains(String(format: "%.3f", kappa)), "\(ana.capture())")
      #expect(!ana.capture().contains("not available on a shared"), "\(ana.capture())")
      ana.send("q")
      #expect(ana.waitFor("EXIT=0"), "\(ana.capture())")
    }
  }
}
