import Agreement
import Foundation
import Imaging
import Testing

/// `agree --session` and `agree-masks --session` on a real workspace built with the real
/// binary: init, import of SampleData images, a blinded session, labels and masks.
@Suite(.serialized) struct AgreeSessionEndToEndTests {
  let runner = AgreeEndToEndTests()
  static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  static let images = repo.appendingPathComponent("SampleData/wbc-seg/images/lymphocyte").path
  static let masks = repo.appendingPathComponent("SampleData/wbc-seg/masks").path
  let all4 = ["Benign", "Early-B", "Pre-B", "Pro-B"]

  func check(_ r: (status: Int32, out: String, err: String), _ what: String) throws {
    guard r.status == 0 else { throw Failure(what: what, err: r.err) }
  }

  struct Failure: Error, CustomStringConvertible {
    let what: String
    let err: String
    var description: String { "\(what) failed: \(err)" }
  }

  /// A workspace with 8 lymphocyte images, a blinded session for ann and bob, labels (bob has
  /// not labelled the last 2 cases) and masks; returns the workspace and the label rows.
  func workspace() throws -> (dir: String, cases: [String], labels: [(String, String, String)]) {
    let dir = NSTemporaryDirectory() + "agree-ws-\(UUID().uuidString)"
    let imageDir = dir + "-images"
    try FileManager.default.createDirectory(atPath: imageDir, withIntermediateDirectories: true)
    let names = try FileManager.default.contentsOfDirectory(atPath: Self.images).sorted().prefix(8)
    for n in names {
      try FileManager.default.copyItem(atPath: Self.images + "/" + n, toPath: imageDir + "/" + n)
    }
    try check(try runner.run(["init", "--workspace", dir, "--no-model"]), "init")
    try check(try runner.run(["import", "--workspace", dir, imageDir]), "import")
    try check(
      try runner.run([
        "session", "create", "--workspace", dir, "s", "--raters", "ann,bob", "--cases", "all", "--blind",
        "--created-by", "lead",
      ]), "session create")
    var rng = Xoshiro256StarStar(seed: 8)
    var labels: [(String, String, String)] = []
    var csv = "case,rater,label\n"
    let cases = names.map { imageDir + "/" + $0 }
    for (i, c) in cases.enumerated() {
      let truth = all4[Int(rng.below(4))]
      for rater in ["ann", "bob"] where !(rater == "bob" && i >= 6) {
        let label = rng.below(10) < 7 ? truth : all4[Int(rng.below(4))]
        labels.append((c, rater, label))
        csv += "\(c),\(rater),\(label)\n"
      }
    }
    let csvPath = dir + "-labels.csv"
    try csv.write(toFile: csvPath, atomically: true, encoding: .utf8)
    try check(
      try runner.run(["labels", "import", "--workspace", dir, csvPath, "--session", "s"]), "labels import")
    return (dir, cases, labels)
  }

  func cleanup(_ dir: String) {
    for p in [dir, dir + "-images", dir + "-labels.csv", dir + "-masks"] {
      try? FileManager.default.removeItem(atPath: p)
    }
  }

  @Test func sessionLabelsGiveTheSameReportAsTheModuleAndRespectBlinding() throws {
    let ws = try workspace()
    defer { cleanup(ws.dir) }
    // The module on the same labels, items in case order.
    let rows = ws.labels.map { LongRating(item: $0.0, rater: $0.1, label: $0.2) }
    let expected = AgreementReport(
      try RatingTable(long: rows, categories: all4, raters: ["ann", "bob"]),
      options: AgreementOptions(weights: try AgreementWeights.clinical(categories: all4)))

    let r = try runner.run([
      "agree", "--workspace", ws.dir, "--session", "s", "--rater", "lead", "--weights", "clinical", "--json",
    ])
    try check(r, "agree --session")
    let j = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    #expect(j["raters"] as? [String] == ["ann", "bob"])
    #expect(j["categories"] as? [String] == all4, "the workspace schema's order")
    #expect(j["n_items"] as? Int == 8 && j["n_paired"] as? Int == 6)
    let cohen = try #require(j["cohen"] as? [String: Any])
    let two = try #require(expected.twoRater)
    #expect(near(cohen["kappa"] as? Double, two.cohen.value?.kappa))
    #expect(near((j["weighted"] as? [String: Any])?["kappa"] as? Double, two.weighted?.value?.kappa))
    #expect(
      (j["confusion"] as? [String: Any])?["matrix"] as? [[Int]]
        == (0..<4).map { i in (0..<4).map { two.confusion[i, $0] } })

    // Bob is blinded: he sees ann's labels only on the 6 cases he labelled.
    let asBob = try runner.run(["agree", "--workspace", ws.dir, "--session", "s", "--rater", "bob", "--json"])
    try check(asBob, "agree as bob")
    let jb = try #require(try JSONSerialization.jsonObject(with: Data(asBob.out.utf8)) as? [String: Any])
    #expect(jb["n_items"] as? Int == 6)
    #expect(jb["ratings_per_rater"] as? [Int] == [6, 6])
    let text = try runner.run(["agree", "--workspace", ws.dir, "--session", "s", "--rater", "bob"])
    #expect(text.out.contains("read as bob (blinded"))
    #expect(text.out.contains("6 of 8 cases have a visible label"))

    // Errors: unknown session, a rater not in it, both inputs at once.
    let unknown = try runner.run(["agree", "--workspace", ws.dir, "--session", "nope"])
    #expect(unknown.status != 0 && unknown.err.contains("nope"))
    let stranger = try runner.run(["agree", "--workspace", ws.dir, "--session", "s", "--raters", "ann,cy"])
    #expect(stranger.status != 0 && stranger.err.contains("rater 'cy' is not in session 's'"))
    let both = try runner.run(["agree", "--workspace", ws.dir, "--session", "s", "--ratings", "x.csv"])
    #expect(both.status != 0 && both.err.contains("give either --session NAME or --ratings CSV"))
  }

  /// Issue 15, item 9 (peek and revise): bob labels blind, then sees ann's labels and relabels
  /// every case to match. The kappa must stay the one of the blind labels; the revisions are
  /// reported apart, per rater, and marked in history.
  @Test func relabellingAfterPeekingDoesNotChangeTheSessionKappa() throws {
    let ws = try workspace()
    defer { cleanup(ws.dir) }
    let blind = try runner.run([
      "agree", "--workspace", ws.dir, "--session", "s", "--rater", "lead", "--json",
    ])
    try check(blind, "agree before")
    let jb = try #require(try JSONSerialization.jsonObject(with: Data(blind.out.utf8)) as? [String: Any])
    let blindKappa = try #require((jb["cohen"] as? [String: Any])?["kappa"] as? Double)
    #expect(blindKappa < 1)
    // Bob has labelled cases 0..<6, so ann's labels there are visible to him: he copies them.
    var copied = 0
    for (c, rater, label) in ws.labels where rater == "ann" {
      guard let bob = ws.labels.first(where: { $0.0 == c && $0.1 == "bob" }), bob.2 != label else { continue }
      let seen = try runner.run(["history", "--workspace", ws.dir, "--rater", "bob", "--json", c])
      try check(seen, "history as bob")
      #expect(seen.out.contains("\"ann\""), "bob has labelled the case, so ann's label is visible to him")
      try check(
        try runner.run([
          "annotate", "--workspace", ws.dir, "--rater", "bob", "--session", "s", c, "--label", label,
        ]), "relabel")
      copied += 1
    }
    #expect(copied > 0)
    let after = try runner.run([
      "agree", "--workspace", ws.dir, "--session", "s", "--rater", "lead", "--json",
    ])
    try check(after, "agree after")
    let ja = try #require(try JSONSerialization.jsonObject(with: Data(after.out.utf8)) as? [String: Any])
    #expect(near((ja["cohen"] as? [String: Any])?["kappa"] as? Double, blindKappa))
    #expect((ja["session"] as? [String: Any])?["counted_labels"] as? String == "blind")
    let revisions = try #require(ja["revisions"] as? [String: Any])
    let byRater = try #require(revisions["by_rater"] as? [[String: Any]])
    #expect(byRater.count == 1)
    #expect(byRater.first?["rater"] as? String == "bob")
    #expect(byRater.first?["revisions"] as? Int == copied && byRater.first?["cases"] as? Int == copied)
    #expect((revisions["cases"] as? [Any])?.count == copied)
    let text = try runner.run(["agree", "--workspace", ws.dir, "--session", "s", "--rater", "lead"])
    #expect(text.out.contains("Revisions after unblinding (not counted"))
    #expect(text.out.contains("bob \(copied) on \(copied) case"))
    // History shows the relabel as a revision after unblinding.
    let changed = try #require(
      ws.labels.first { l in
        l.1 == "bob" && ws.labels.contains { $0.0 == l.0 && $0.1 == "ann" && $0.2 != l.2 }
      })
    let h = try runner.run(["history", "--workspace", ws.dir, "--rater", "ann", changed.0])
    #expect(h.out.contains("revision after unblinding (not counted)"))
  }

  @Test func csvTakesTheWorkspaceSchemaOrder() throws {
    let ws = try workspace()
    defer { cleanup(ws.dir) }
    // A CSV whose labels alone would not say the order: the workspace's all4 schema does.
    let good = ws.dir + "-good.csv"
    try "case,rater,label\n1,a,Pro-B\n1,b,Benign\n2,a,Benign\n2,b,Benign\n".write(
      toFile: good, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: good) }
    let r = try runner.run(["agree", "--workspace", ws.dir, "--ratings", good, "--json"])
    try check(r, "agree --ratings with a workspace")
    let j = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    #expect(j["categories"] as? [String] == all4)
    // An unknown label names its line and where the categories came from.
    let bad = ws.dir + "-bad.csv"
    try "case,rater,label\n1,a,Pro-B\n1,b,Benign\n2,a,Pro B\n".write(
      toFile: bad, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: bad) }
    let e = try runner.run(["agree", "--workspace", ws.dir, "--ratings", bad])
    #expect(e.status != 0)
    #expect(
      e.err.contains(
        "\(bad) line 4: label 'Pro B' is not one of the categories Benign, Early-B, Pre-B, Pro-B "
          + "(from the workspace schema all4)"))
  }

  @Test func sessionMasksMatchTheModuleCaseByCaseAndPooled() throws {
    let ws = try workspace()
    defer { cleanup(ws.dir) }
    let maskDir = ws.dir + "-masks"
    try FileManager.default.createDirectory(atPath: maskDir, withIntermediateDirectories: true)
    var expected: [MaskAgreement] = []
    for (i, image) in ws.cases.prefix(5).enumerated() {
      let stem = URL(fileURLWithPath: image).deletingPathExtension().lastPathComponent
      let expert = try decodeMask(at: Self.masks + "/\(stem).png")
      // ann draws the expert nucleus; bob the nucleus shifted right by i pixels.
      let ann = Mask(
        width: expert.width, height: expert.height, values: expert.values.map { $0 == 255 ? 255 : 0 })
      var bob = Mask(width: expert.width, height: expert.height)
      for y in 0..<ann.height {
        for x in 0..<ann.width where x + i < ann.width { bob[x + i, y] = ann[x, y] }
      }
      let pa = maskDir + "/\(stem)-ann.png"
      let pb = maskDir + "/\(stem)-bob.png"
      try writePNG(ann, to: pa)
      try writePNG(bob, to: pb)
      try check(
        try runner.run([
          "annotate", "--workspace", ws.dir, "--rater", "ann", "--session", "s", image, "--mask", pa,
        ]), "annotate ann")
      try check(
        try runner.run([
          "annotate", "--workspace", ws.dir, "--rater", "bob", "--session", "s", image, "--mask", pb,
        ]), "annotate bob")
      let ca = ann.connectedComponents()
      let cb = bob.connectedComponents()
      expected.append(
        try MaskAgreement(
          reference: InstanceMap(width: ca.width, height: ca.height, labels: ca.labels),
          other: InstanceMap(width: cb.width, height: cb.height, labels: cb.labels)))
    }
    let r = try runner.run([
      "agree-masks", "--workspace", ws.dir, "--session", "s", "--rater", "lead", "--json",
    ])
    try check(r, "agree-masks --session")
    let j = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    #expect(j["n_cases"] as? Int == 5 && j["raters"] as? [String] == ["ann", "bob"])
    let cases = try #require(j["cases"] as? [[String: Any]])
    #expect(cases.count == 5)
    // Cases come in case-id order, which is import order here (sorted file names).
    for (c, m) in zip(cases, expected) {
      #expect(near(c["dice"] as? Double, m.dice.value))
      #expect(near(c["pq"] as? Double, m.pq.value))
      #expect(near(c["aji"] as? Double, m.aji.value))
      #expect(near(c["aji_plus"] as? Double, m.ajiPlus.value))
    }
    let summary = MaskAgreementSummary(expected)
    let pooled = try #require(j["pooled"] as? [String: Any])
    #expect(near(pooled["dice"] as? Double, summary.pooledDice.value))
    #expect(near(pooled["pq"] as? Double, summary.pooledPQ.value))
    #expect(near(pooled["aji"] as? Double, summary.pooledAJI.value))
    let mean = try #require(j["mean"] as? [String: Any])
    #expect(near((mean["dice"] as? [String: Any])?["value"] as? Double, summary.meanDice.value.value))
    // The first case is identical for both raters.
    #expect(cases[0]["dice"] as? Double == 1)
    let text = try runner.run(["agree-masks", "--workspace", ws.dir, "--session", "s", "--rater", "lead"])
    #expect(text.out.contains("5 of 8 cases have a mask from both"))
    #expect(text.out.contains("Pooled over the cases: Dice"))
  }
}

/// Equal within 1e-12: Foundation's JSON parser on Linux can read a double one ulp off what
/// was printed (the printed form itself round-trips exactly; see AgreeOutputTests).
private func near(_ x: Double?, _ y: Double?) -> Bool {
  guard let x, let y else { return false }
  return abs(x - y) <= 1e-12
}
