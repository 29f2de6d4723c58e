import Foundation
import Testing

/// Issue 16's "must show", on one machine over the Unix socket with peer authentication:
/// three OS users (the lead bvlead, the raters bvana and bvben) each run the real binary with
/// their own workspace directory on one shared database. The second rater cannot act as the
/// first, cannot read her blinded label, note or mask through any blastview command nor
/// through psql with his own role (every relation in the database is tried), cannot UPDATE or
/// DELETE annotations, grant himself a role, change roles or close the lead's session; after
/// labelling he sees her label; and `agree --session` gives the same numbers as an embedded
/// workspace with the same labels.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct SharedWorkspaceIdentityTests {
  static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  let note = "ana-secret-note-4c1e"

  struct Failed: Error, CustomStringConvertible {
    let description: String
  }

  @discardableResult
  func ok(_ r: (status: Int32, out: String, err: String), _ what: String) throws -> String {
    guard r.status == 0 else { throw Failed(description: "\(what) failed (\(r.status)): \(r.err)\(r.out)") }
    return r.out
  }

  func json(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }

  @Test func secondRaterCanNeitherActAsNorReadTheFirst() throws {
    guard geteuid() == 0 else {
      if PGTestCluster.inCI { Issue.record("the identity tests need root (to run as other OS users)") }
      return
    }
    let pg = try PGTestCluster.require()
    let db = try pg.createDatabase()
    let u = try OSUsers(socket: pg.socket)
    let url = pg.url(db)

    // Images (8 lymphocytes) and the mask of the first, readable by everyone.
    let images = try u.publicDirectory("images")
    let source = Self.repo.appendingPathComponent("SampleData/wbc-seg/images/lymphocyte").path
    let names = try FileManager.default.contentsOfDirectory(atPath: source).sorted().prefix(8)
    for n in names {
      try FileManager.default.copyItem(atPath: source + "/" + n, toPath: images + "/" + n)
      chmod(images + "/" + n, 0o644)
    }
    let maskFile = u.work + "/mask.png"
    try FileManager.default.copyItem(
      atPath: Self.repo.appendingPathComponent("SampleData/wbc-seg/masks/\(names.first!)").path,
      toPath: maskFile)
    chmod(maskFile, 0o644)

    // The service role creates the schema and names the lead; the lead adds the raters,
    // imports and creates a blinded session.
    try ok(
      try u.blastview(
        nil,
        [
          "init", "--workspace", u.work + "/ws-service", "--database", pg.url(db, as: "blastview"),
          "--lead", "bvlead",
        ]), "init as the service role")
    func initAs(_ user: String) throws {
      let out = try ok(
        try u.blastview(user, ["init", "--workspace", u.work + "/ws-\(user)", "--database", url, "--json"]),
        "init as \(user)")
      #expect(try json(out)["connectedAs"] as? String == user)
    }
    func bv(_ user: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
      try u.blastview(user, args + ["--workspace", u.work + "/ws-\(user)"])
    }
    try initAs("bvlead")
    try ok(try bv("bvlead", ["rater", "add", "bvana", "--role", "rater"]), "rater add bvana")
    try ok(try bv("bvlead", ["rater", "add", "bvben", "--role", "rater"]), "rater add bvben")
    try initAs("bvana")
    try initAs("bvben")
    try ok(try bv("bvlead", ["import", images]), "import")
    try ok(
      try bv("bvlead", ["session", "create", "s1", "--raters", "bvana,bvben", "--cases", "all", "--blind"]),
      "session create")

    // Ana labels case 1 with a mask and a note, and case 2.
    let a1 = try json(
      try ok(
        try bv(
          "bvana",
          [
            "annotate", "1", "--label", "Pro-B", "--mask", maskFile, "--session", "s1",
            "--note", note, "--json",
          ]), "ana annotates case 1"))
    let anaMask = try #require(a1["maskID"] as? Int)
    try ok(
      try bv("bvana", ["annotate", "2", "--label", "Early-B", "--session", "s1"]), "ana annotates case 2")

    // 1. Ben cannot act as Ana: refused, naming both.
    let asAna = try bv("bvben", ["annotate", "1", "--label", "Benign", "--rater", "bvana"])
    #expect(asAna.status != 0)
    #expect(asAna.err.contains("bvana") && asAna.err.contains("bvben"), "\(asAna.err)")
    let historyAsAna = try bv("bvben", ["history", "1", "--rater", "bvana"])
    #expect(historyAsAna.status != 0 && historyAsAna.err.contains("bvben"), "\(historyAsAna.err)")

    // 2. No blastview command shows him Ana's label, note or mask.
    let history = try json(try ok(try bv("bvben", ["history", "1", "--json"]), "ben history"))
    #expect((history["annotations"] as? [Any])?.isEmpty == true, "\(history)")
    let outputs = [
      try bv("bvben", ["history", "1"]), try bv("bvben", ["history", "2", "--json"]),
      try bv("bvben", ["agree", "--session", "s1", "--json"]),
      try bv("bvben", ["session", "list", "--json"]),
      try bv("bvben", ["rater", "list"]),
    ]
    for o in outputs {
      #expect(!(o.out + o.err).contains(note))
    }
    let agree = outputs[2]
    if agree.status == 0 { #expect(try json(agree.out)["n_items"] as? Int == 0, "\(agree.out)") }

    // 3. Nor does psql with his own role: every relation of the database is tried; every one
    // of BlastView's refuses him, and nothing he can read holds Ana's note or mask digest.
    let maskSHA = try ok(
      try u.psql("blastview", db, "SELECT sha256 FROM blastview.mask WHERE id = \(anaMask)"), "mask digest"
    )
    .trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(maskSHA.count == 64)
    let scan = try u.psql(
      "bvben", db,
      """
      DO $$
      DECLARE r record; n bigint; denied text[] := '{}'; leaked text[] := '{}'; failed text[] := '{}';
        readable int := 0;
      BEGIN
        FOR r IN SELECT quote_ident(ns.nspname) || '.' || quote_ident(c.relname) AS rel FROM pg_class c
                 JOIN pg_namespace ns ON ns.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND ns.nspname NOT LIKE 'pg_toast%'
                   AND ns.nspname NOT LIKE 'pg_temp%' ORDER BY 1 LOOP
          BEGIN
            EXECUTE format('SELECT count(*) FROM %s t WHERE strpos(t::text, reverse(%L)) > 0 OR strpos(t::text, reverse(%L)) > 0',
              r.rel, '\(String(note.reversed()))', '\(String(maskSHA.reversed()))') INTO n;
            readable := readable + 1;
            IF n > 0 THEN leaked := leaked || r.rel; END IF;
          EXCEPTION
            WHEN insufficient_privilege THEN denied := denied || r.rel;
            WHEN others THEN failed := failed || r.rel;
          END;
        END LOOP;
        RAISE NOTICE 'denied=%', array_to_string(denied, ',');
        RAISE NOTICE 'leaked=%', array_to_string(leaked, ',');
        RAISE NOTICE 'readable=%', readable;
      END $$;
      """)
    #expect(scan.status == 0, "\(scan.err)")
    func notice(_ key: String) -> [String] {
      let line = scan.err.split(separator: "\n").first { $0.contains("NOTICE:  \(key)=") } ?? ""
      let value = line.components(separatedBy: "\(key)=").last ?? ""
      return value.split(separator: ",").map(String.init)
    }
    let denied = Set(notice("denied"))
    let ours = try ok(
      try u.psql(
        "blastview", db,
        "SELECT quote_ident(ns.nspname) || '.' || quote_ident(c.relname) FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace "
          + "WHERE ns.nspname = 'blastview' AND c.relkind IN ('r', 'v', 'm', 'p', 'f') ORDER BY 1"),
      "our relations"
    )
    .split(separator: "\n").map(String.init)
    #expect(ours.count >= 20 && ours.contains("blastview.annotation"), "\(ours)")
    for rel in ours { #expect(denied.contains(rel), "bvben can read \(rel)") }
    #expect(notice("leaked").isEmpty, "\(scan.err)")
    #expect((Int(notice("readable").first ?? "0") ?? 0) > 50, "the scan read the catalogs too: \(scan.err)")
    // The functions psql can call show him what blastview shows him.
    #expect(
      try ok(try u.psql("bvben", db, "SELECT count(*) FROM blastview.history(1)"), "psql history") == "0\n")
    #expect(
      try ok(try u.psql("bvben", db, "SELECT count(*) FROM blastview.mask_png(\(anaMask))"), "psql mask")
        == "0\n")
    #expect(
      try ok(try u.psql("bvben", db, "SELECT count(*) FROM blastview.current_labels('s1')"), "psql labels")
        == "0\n")

    // 4. He can change nothing blastview would not let him change.
    let attacks: [(String, String)] = [
      ("UPDATE blastview.annotation SET label = 'Benign'", "permission denied"),
      ("DELETE FROM blastview.annotation", "permission denied"),
      (
        "INSERT INTO blastview.annotation (case_id, rater_id, label, changed) VALUES (1, 1, 'Benign', 1)",
        "permission denied"
      ),
      ("TRUNCATE blastview.annotation", "permission denied"),
      ("DELETE FROM blastview.blind_pending", "permission denied"),
      ("GRANT blastview_lead TO bvben", "admin option"),
      ("GRANT blastview_adjudicator TO bvben", "admin option"),
      ("SET ROLE blastview", "permission denied"),
      ("SET SESSION AUTHORIZATION bvana", "permission denied"),
      ("SELECT blastview.rater_add('bvben', 'lead')", "only a lead"),
      ("SELECT blastview.session_close('s1')", "only the creator"),
      (
        "SELECT * FROM blastview.annotate_as('bvana', 1, 'Benign', NULL, NULL, NULL, NULL, 's1', 0, NULL)",
        "only the workspace's service role"
      ),
      ("SELECT blastview.me()", "permission denied"),
    ]
    for (sql, expected) in attacks {
      let r = try u.psql("bvben", db, sql)
      #expect(r.status != 0, "bvben ran: \(sql)")
      #expect(r.err.contains(expected), "\(sql): \(r.err)")
    }
    let promote = try bv("bvben", ["rater", "add", "bvben", "--role", "lead"])
    #expect(promote.status != 0 && promote.err.contains("only a lead"), "\(promote.err)")
    let demote = try bv("bvben", ["rater", "set-role", "bvana", "adjudicator"])
    #expect(demote.status != 0 && demote.err.contains("only a lead"), "\(demote.err)")
    let close = try bv("bvben", ["session", "close", "s1"])
    #expect(close.status != 0 && close.err.contains("only the creator"), "\(close.err)")
    let roles = try ok(try bv("bvlead", ["rater", "list"]), "rater list")
    // Ben's own attacks left no trace: Ana is still a rater and Ben no lead. (Roles are
    // cluster-wide and other suites on the test cluster make bvben an adjudicator meanwhile, so
    // his exact role is not this test's to assert.)
    #expect(
      roles.contains("bvana  rater") && !roles.contains("bvben  lead") && roles.contains("bvlead  lead"),
      "\(roles)")
    #expect(try ok(try bv("bvben", ["session", "list"]), "session list").contains("[open, blinded]"))

    // 5. After labelling case 1 he sees Ana's label, note and mask on it (and still not case 2).
    try ok(try bv("bvben", ["annotate", "1", "--label", "Pre-B", "--session", "s1"]), "ben annotates case 1")
    let after = try json(try ok(try bv("bvben", ["history", "1", "--json"]), "ben history after"))
    let entries = try #require(after["annotations"] as? [[String: Any]])
    #expect(entries.map { $0["rater"] as? String } == ["bvana", "bvben"])
    #expect(entries.first?["label"] as? String == "Pro-B" && entries.first?["note"] as? String == note)
    #expect(
      try ok(try u.psql("bvben", db, "SELECT count(*) FROM blastview.mask_png(\(anaMask))"), "mask") == "1\n")
    #expect(
      try json(try ok(try bv("bvben", ["history", "2", "--json"]), "h2"))["annotations"] as? [Any] != nil)
    #expect(
      (try json(try ok(try bv("bvben", ["history", "2", "--json"]), "h2"))["annotations"] as? [Any])?.isEmpty
        == true)

    // 6. agree --session: the same numbers as an embedded workspace with the same labels.
    let ana: [String] = ["Benign", "Pre-B", "Pre-B", "Pro-B", "Early-B", "Benign", "Pre-B", "Pro-B"]
    let ben: [String] = ["Benign", "Pre-B", "Pro-B", "Pro-B", "Early-B", "Pre-B"]
    func csv(_ rater: String, _ labels: [String]) -> String {
      "case,rater,label\n" + labels.enumerated().map { "\($0.offset + 1),\(rater),\($0.element)\n" }.joined()
    }
    try u.publicFile(u.work + "/ana.csv", csv("bvana", ana))
    try u.publicFile(u.work + "/ben.csv", csv("bvben", ben))
    try u.publicFile(
      u.work + "/all.csv", csv("bvana", ana) + csv("bvben", ben).dropFirst("case,rater,label\n".count))
    try ok(
      try bv("bvana", ["labels", "import", u.work + "/ana.csv", "--session", "s1"]), "ana labels import")
    let benImportsAna = try bv("bvben", ["labels", "import", u.work + "/ana.csv", "--session", "s1"])
    #expect(benImportsAna.status != 0 && benImportsAna.err.contains("bvana"), "\(benImportsAna.err)")
    try ok(
      try bv("bvben", ["labels", "import", u.work + "/ben.csv", "--session", "s1"]), "ben labels import")
    let shared = try json(
      try ok(try bv("bvlead", ["agree", "--session", "s1", "--json"]), "agree on PostgreSQL"))

    let sqlite = u.work + "/embedded"
    // No shipped model: the shared workspace has none promoted either.
    try ok(try u.blastview(nil, ["init", "--workspace", sqlite, "--no-model"]), "init embedded")
    try ok(try u.blastview(nil, ["import", "--workspace", sqlite, images]), "import embedded")
    try ok(
      try u.blastview(
        nil,
        [
          "session", "create", "--workspace", sqlite, "s1", "--raters", "bvana,bvben", "--cases",
          "all", "--blind", "--created-by", "bvlead",
        ]), "session embedded")
    // The same session history as on PostgreSQL: ana's blind labels of cases 1 (with her mask
    // and note) and 2, ben's of case 1, then both CSVs, which revise those three.
    for (rater, args) in [
      ("bvana", ["1", "--label", "Pro-B", "--mask", maskFile, "--note", note]),
      ("bvana", ["2", "--label", "Early-B"]), ("bvben", ["1", "--label", "Pre-B"]),
    ] {
      try ok(
        try u.blastview(
          nil, ["annotate", "--workspace", sqlite, "--session", "s1", "--rater", rater] + args),
        "annotate embedded as \(rater)")
    }
    try ok(
      try u.blastview(
        nil, ["labels", "import", "--workspace", sqlite, u.work + "/all.csv", "--session", "s1"]),
      "labels embedded")
    let embedded = try json(
      try ok(
        try u.blastview(
          nil, ["agree", "--workspace", sqlite, "--session", "s1", "--json", "--rater", "bvlead"]),
        "agree embedded"))
    // The whole JSON, session object, revisions after unblinding, mask agreement and the
    // model against the consensus included: nothing differs between the backends.
    let a = shared
    #expect(
      NSDictionary(dictionary: shared).isEqual(to: embedded), "PostgreSQL \(shared)\nSQLite \(embedded)")
    let revisions = try #require(a["revisions"] as? [String: Any])
    #expect((revisions["cases"] as? [Any])?.count == 3, "\(revisions)")
    let masks = try #require((a["masks"] as? [[String: Any]])?.first)
    #expect(
      masks["a"] as? String == "bvana" && masks["only_a"] as? Int == 1, "ana's mask on case 1: \(masks)")
    let kappa = (a["cohen"] as? [String: Any])?["kappa"] as? Double
    // By hand, on the blind labels of the 6 cases both labelled (ana Pro-B, Early-B, Pre-B, Pro-B,
    // Early-B, Benign; ben Pre-B, Pre-B, Pro-B, Pro-B, Early-B, Pre-B): po = 2/6, pe = (1·0 + 2·1
    // + 1·3 + 2·2)/36 = 1/4, kappa = (1/3 - 1/4)/(3/4) = 1/9. The current labels would give 5/9.
    #expect(kappa != nil && abs(kappa! - 1.0 / 9.0) < 1e-9, "\(a)")
    #expect(a["n_items"] as? Int == 8)
    let list = try ok(try bv("bvben", ["session", "list", "--json"]), "session list")
    let sessions = try #require(try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [[String: Any]])
    #expect(sessions.first?["labelled"] as? [String: Int] == ["bvana": 8, "bvben": 6], "\(list)")
  }
}
