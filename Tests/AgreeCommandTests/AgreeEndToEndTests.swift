import Agreement
import Foundation
import Testing

/// The real `blastview agree` binary on real files.
@Suite struct AgreeEndToEndTests {
  /// The built executable beside the test bundle (swift test builds it: this target depends on it).
  static var binary: String {
    if let path = ProcessInfo.processInfo.environment["BLASTVIEW_BIN"] { return path }
    // On Linux the bundle URL is the products directory; on macOS it is the .xctest bundle in it.
    let here = Bundle.main.bundleURL
    for dir in [here, here.deletingLastPathComponent()] {
      let path = dir.appendingPathComponent("blastview").path
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return here.appendingPathComponent("blastview").path
  }

  func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Self.binary)
    p.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }

  func temp(_ text: String) throws -> String {
    let path = NSTemporaryDirectory() + "agree-\(UUID().uuidString).csv"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  /// statsmodels' SAS example as a long CSV: the JSON must carry the reference values.
  @Test func jsonOnTheSASExample() throws {
    // Table [[0,4,1],[0,8,0],[0,1,5]] over categories x < y < z.
    let cells = [(0, 1, 4), (0, 2, 1), (1, 1, 8), (2, 1, 1), (2, 2, 5)]
    let names = ["x", "y", "z"]
    var text = "item,rater,label\n"
    var item = 0
    for (a, b, n) in cells {
      for _ in 0..<n {
        text += "i\(item),A,\(names[a])\ni\(item),B,\(names[b])\n"
        item += 1
      }
    }
    let path = try temp(text)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let r = try run(["agree", "--ratings", path, "--categories", "x,y,z", "--weights", "linear", "--json"])
    #expect(r.status == 0, "\(r.err)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    for key in [
      "n_items", "raters", "categories", "cohen", "weighted", "scott_pi", "gwet_ac1", "pabak", "fleiss",
      "krippendorff_alpha", "pairwise", "confusion", "bootstrap_ci95", "undefined",
    ] {
      #expect(json[key] != nil, "missing key \(key)")
    }
    #expect(json["n_items"] as? Int == 19)
    #expect(json["categories"] as? [String] == names)
    let cohen = try #require(json["cohen"] as? [String: Any])
    for key in ["kappa", "se", "se0", "z", "ci95", "po", "pe"] { #expect(cohen[key] != nil, "cohen.\(key)") }
    // SAS: kappa 0.4842, ASE 0.1380, ASE0 0.1484; weighted 0.4701, 0.1457.
    #expect(abs((cohen["kappa"] as? Double ?? 0) - 0.48416289592760187) < 1e-9)
    #expect(abs((cohen["se"] as? Double ?? 0) - 0.1380135783058146) < 1e-9)
    let weighted = try #require(json["weighted"] as? [String: Any])
    #expect(weighted["weights"] as? String == "linear")
    #expect(abs((weighted["kappa"] as? Double ?? 0) - 0.4701195219123506) < 1e-9)
    let confusion = try #require(json["confusion"] as? [String: Any])
    #expect(confusion["rows"] as? String == "A" && confusion["cols"] as? String == "B")
    #expect(confusion["matrix"] as? [[Int]] == [[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    let fleiss = try #require(json["fleiss"] as? [String: Any])
    #expect(fleiss["kappa"] is Double && fleiss["se"] is Double)
    let alpha = try #require(json["krippendorff_alpha"] as? [String: Any])
    #expect(alpha["nominal"] is Double && alpha["ordinal"] is Double)
    let pairs = try #require(json["pairwise"] as? [[String: Any]])
    #expect(pairs.count == 1 && pairs[0]["a"] as? String == "A" && pairs[0]["n"] as? Int == 19)
    #expect(json["bootstrap_ci95"] is NSNull)
    #expect((json["undefined"] as? [Any])?.isEmpty == true)
  }

  @Test func textReportNamesTheScaleAndBootstrapIsSeeded() throws {
    var text = "item,rater,label\n"
    var rng = Xoshiro256StarStar(seed: 4)
    let all4 = ["Benign", "Early-B", "Pre-B", "Pro-B"]
    for i in 0..<200 {
      let t = Int(rng.below(4))
      text += "c\(i),ann,\(all4[t])\nc\(i),bob,\(all4[rng.below(10) < 8 ? t : Int(rng.below(4))])\n"
    }
    let path = try temp(text)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let r = try run([
      "agree", "--ratings", path, "--weights", "clinical", "--bootstrap", "300", "--seed", "9",
    ])
    #expect(r.status == 0, "\(r.err)")
    #expect(r.out.contains("Landis & Koch (1977) scale"))
    #expect(r.out.contains("agreement on the Landis & Koch (1977) scale"))
    #expect(r.out.contains("Weighted kappa (clinical weights)"))
    #expect(r.out.contains("Bootstrap (300 resamples of the items, seed 9)"))
    let again = try run([
      "agree", "--ratings", path, "--weights", "clinical", "--bootstrap", "300", "--seed", "9",
    ])
    #expect(again.out == r.out)
  }

  @Test func threeRatersAndUndefined() throws {
    let path = try temp(
      "item,rater,label\n1,a,Benign\n1,b,Benign\n1,c,Benign\n2,a,Benign\n2,b,Benign\n2,c,Benign\n")
    defer { try? FileManager.default.removeItem(atPath: path) }
    let r = try run(["agree", "--ratings", path, "--json"])
    #expect(r.status == 0)
    let json = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    let undefined = try #require(json["undefined"] as? [[String: String]])
    #expect(undefined.contains { $0["statistic"] == "fleiss.kappa" })
    #expect(undefined.contains { $0["statistic"] == "cohen" })
    #expect((json["fleiss"] as? [String: Any])?["kappa"] is NSNull)
    #expect(json["confusion"] is NSNull)
    let text = try run(["agree", "--ratings", path])
    #expect(text.out.contains("Undefined:"))
    #expect(!text.out.lowercased().contains("nan"))
  }

  @Test func badInputNamesTheLineAndNothingEscapesToTheTerminal() throws {
    let path = try temp("item,rater,label\n1,a,Benign\n2,a,Pre B\u{1B}[2J\n")
    defer { try? FileManager.default.removeItem(atPath: path) }
    let r = try run(["agree", "--ratings", path])
    #expect(r.status != 0)
    #expect(r.err.contains("\(path) line 3: label 'Pre B\u{FFFD}' is not an all4 category"))
    #expect(!r.err.contains("\u{1B}") && !r.out.contains("\u{1B}"))
    let r2 = try run(["agree", "--ratings", path, "--categories", "Benign,Other"])
    #expect(
      r2.err.contains(
        "line 3: label 'Pre B\u{FFFD}' is not one of the categories Benign, Other (from --categories)"))
  }
}
