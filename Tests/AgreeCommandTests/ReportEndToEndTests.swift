import Foundation
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// `blastview report --session NAME --out DIR` (issue 18, item 11) through the real binary on a
/// workspace of SampleData images with the shipped model, a blinded two-rater session, masks, a
/// revision after unblinding and an adjudication whose reason is hostile markup. On the previous
/// binary `report` is no command at all.
@Suite(.serialized) struct ReportEndToEndTests {
  let runner = AgreeEndToEndTests()

  struct Failure: Error, CustomStringConvertible {
    let what: String
    let err: String
    var description: String { "\(what) failed: \(err)" }
  }

  @discardableResult
  func ok(_ args: [String], _ what: String) throws -> String {
    let r = try runner.run(args)
    guard r.status == 0 else { throw Failure(what: what, err: r.err + r.out) }
    return r.out
  }

  static let hostileReason = "<script>alert(1)</script> & \u{1B}[31mred\u{1B}[0m \"quoted\""

  /// The workspace, the session's case paths and the output folder.
  func workspace() throws -> (dir: String, out: String) {
    let dir = NSTemporaryDirectory() + "report-ws-\(UUID().uuidString)"
    let imageDir = dir + "-images"
    try FileManager.default.createDirectory(atPath: imageDir, withIntermediateDirectories: true)
    let names = try FileManager.default.contentsOfDirectory(atPath: AgreeSessionEndToEndTests.images).sorted()
      .prefix(8)
    for n in names {
      try FileManager.default.copyItem(
        atPath: AgreeSessionEndToEndTests.images + "/" + n, toPath: imageDir + "/" + n)
    }
    try ok(["init", "--workspace", dir], "init")
    try ok(["import", "--workspace", dir, imageDir, "--masks", AgreeSessionEndToEndTests.masks], "import")
    try ok(["predict", "--all-cases", "--workspace", dir], "predict")
    try ok(
      [
        "session", "create", "--workspace", dir, "s", "--raters", "ann,bob", "--cases", "all", "--blind",
        "--created-by", "lead",
      ], "session create")
    let labels = ["Pre-B", "Pre-B", "Benign", "Pro-B", "Early-B", "Pre-B", "Benign", "Pro-B"]
    let other = ["Pre-B", "Pro-B", "Benign", "Pro-B", "Pre-B", "Pre-B", "Early-B", "Pro-B"]
    var csv = "case,rater,label\n"
    for (i, n) in names.enumerated() {
      csv += "\(imageDir)/\(n),ann,\(labels[i])\n\(imageDir)/\(n),bob,\(other[i])\n"
    }
    try csv.write(toFile: dir + "-labels.csv", atomically: true, encoding: .utf8)
    try ok(["labels", "import", "--workspace", dir, dir + "-labels.csv", "--session", "s"], "labels import")
    // A revision after unblinding (not counted), masks from both raters, and an adjudication.
    let first = imageDir + "/" + names[1]
    try ok(
      ["annotate", first, "--label", "Pre-B", "--session", "s", "--rater", "bob", "--workspace", dir],
      "revise")
    for rater in ["ann", "bob"] {
      try ok(
        [
          "annotate", first, "--mask", AgreeSessionEndToEndTests.masks + "/" + names[1], "--session", "s",
          "--rater", rater, "--workspace", dir,
        ], "mask")
    }
    try ok(["rater", "set-role", "lead", "adjudicator", "--workspace", dir], "rater set-role")
    try ok(
      [
        "adjudicate", imageDir + "/" + names[4], "--label", "Early-B", "--reason", Self.hostileReason,
        "--rater",
        "lead", "--workspace", dir,
      ], "adjudicate")
    return (dir, dir + "-report")
  }

  @Test func reportNumbersAreAgreeJSONAndTheHTMLIsSelfContainedAndEscaped() throws {
    let (ws, out) = try workspace()
    let printed = try ok(
      ["report", "--session", "s", "--out", out, "--rater", "lead", "--workspace", ws], "report")
    #expect(printed.contains("report.html") && printed.contains("audit-chain head"))

    // The same numbers as `agree --session --json` (same reader, the clinical weights `auto`
    // picks for all4).
    let agree = try ok(
      ["agree", "--session", "s", "--json", "--rater", "lead", "--weights", "clinical", "--workspace", ws],
      "agree")
    let report = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/report.json")))
        as? [String: Any])
    let agreement = try #require(report["agreement"] as? NSDictionary)
    let expected = try #require(try JSONSerialization.jsonObject(with: Data(agree.utf8)) as? NSDictionary)
    #expect(agreement.isEqual(expected))
    // The audit head is the chain `verify` checks.
    let verify = try #require(
      try JSONSerialization.jsonObject(
        with: Data(try ok(["verify", "--json", "--workspace", ws], "verify").utf8))
        as? [String: Any])
    let audit = try #require(report["audit_chain"] as? [String: Any])
    #expect(audit["head"] as? String == verify["head"] as? String && audit["ok"] as? Bool == true)
    let adjudications = try #require(report["adjudications"] as? [[String: Any]])
    #expect(adjudications.count == 1 && adjudications[0]["label"] as? String == "Early-B")
    let revisions = try #require((agreement["revisions"] as? [String: Any])?["cases"] as? [[String: Any]])
    #expect(revisions.count == 1)

    let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
    // Self-contained: nothing is fetched, nothing runs.
    #expect(!html.contains("<script") && !html.contains("<link") && !html.contains("href="))
    #expect(!html.contains("url(") && !html.contains("src=\"http") && !html.contains("@import"))
    // Every text escaped: the reason shows as text, with no escape character left.
    #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp;"))
    #expect(!html.contains("\u{1B}"))
    // The numbers of agree --json, as the page prints them.
    let cohen = try #require((expected["cohen"] as? [String: Any])?["kappa"] as? Double)
    let ci = try #require((expected["cohen"] as? [String: Any])?["ci95"] as? [Double])
    #expect(html.contains(String(format: "%.3f", cohen)))
    #expect(html.contains(String(format: "%.3f to %.3f", ci[0], ci[1])))
    let weighted = try #require((expected["weighted"] as? [String: Any])?["kappa"] as? Double)
    #expect(html.contains("Weighted κ (clinical)") && html.contains(String(format: "%.3f", weighted)))
    #expect(html.contains(audit["head"] as! String))
    for section in [
      "Raters and progress", "Agreement between raters", "Confusion matrix", "Agreement per class",
      "Revisions after unblinding", "Mask agreement", "Model against the consensus", "Adjudications",
    ] {
      #expect(html.contains("<h2>\(section)</h2>"), "\(section)")
    }

    // Plots: inline SVG data URIs, each well-formed XML with a title and labelled axes.
    let images = html.components(separatedBy: "src=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
    #expect(images.count == 3)  // forest plot, raters' heatmap, consensus-model heatmap
    var texts: [String] = []
    for src in images {
      #expect(src.hasPrefix("data:image/svg+xml;base64,"))
      let data = try #require(Data(base64Encoded: String(src.dropFirst("data:image/svg+xml;base64,".count))))
      let parser = XMLParser(data: data)
      let collector = TextCollector()
      parser.delegate = collector
      #expect(parser.parse(), "plot is not well-formed XML")
      texts.append(collector.text)
    }
    #expect(texts[0].contains("Coefficient (0 = chance agreement") && texts[0].contains("Cohen's κ"))
    #expect(texts[0].contains(String(format: "%.3f (%.3f to %.3f), n 8", cohen, ci[0], ci[1])))
    #expect(texts[1].contains("ann (rows)") && texts[1].contains("bob (columns), n = 8"))
    #expect(texts[2].contains("consensus (rows)") && texts[2].contains("model v1 (columns)"))
  }

  @Test func aLinkPlantedAtTheReportIsRefusedAndItsTargetKept() throws {
    let (ws, out) = try workspace()
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let victim = out + "-victim.txt"
    try "keep me".write(toFile: victim, atomically: true, encoding: .utf8)
    try FileManager.default.createSymbolicLink(atPath: out + "/report.html", withDestinationPath: victim)
    let r = try runner.run(["report", "--session", "s", "--out", out, "--workspace", ws])
    #expect(r.status != 0 && r.err.contains("report.html"), "\(r.err)")
    #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me")
    let missing = try runner.run(["report", "--session", "nope", "--out", out, "--workspace", ws])
    #expect(missing.status != 0 && missing.err.contains("nope"))
  }
}

/// The character data of an XML document, space-joined.
final class TextCollector: NSObject, XMLParserDelegate {
  var text = ""
  func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
}
