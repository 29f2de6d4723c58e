import CaseStore
import Foundation
import TestSupport
import Testing

@testable import Review

/// A workspace of a built-in schema for the class-name tests: all4 on SampleData's 20 BCCD
/// smears, or wbc5 on the first three wbc-seg crops of each class (labelled from their folders;
/// 13 cases, as two are copies of others). A model
/// v1 is promoted whose top class for case `id` is class `id % k` with probability
/// 0.45 + 0.05 × (id % 10); session `s` over cases 1-8, not blinded, model shown, in which
/// alice labels case `c` as class `c % k` and bob agrees except on cases 3 and 6 (the next class).
final class NamedClassesWorkspace {
  let dir: URL
  let path: String
  let schema: LabelSchema
  /// Cases imported (wbc-seg holds a few identical crops, imported once).
  private(set) var count = 0

  init(_ schema: LabelSchema) throws {
    self.schema = schema
    dir = EndToEnd.temporaryDirectory()
    let images = dir.appendingPathComponent("images")
    let fm = FileManager.default
    let root = EndToEnd.repositoryRoot
    if schema.name == "wbc5" {
      for cls in schema.classNames {
        let from = root.appendingPathComponent("SampleData/wbc-seg/images/\(cls)")
        let to = images.appendingPathComponent(cls)
        try fm.createDirectory(at: to, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: from.path).sorted().prefix(3) {
          try fm.copyItem(at: from.appendingPathComponent(name), to: to.appendingPathComponent(name))
        }
      }
    } else {
      try fm.createDirectory(at: images, withIntermediateDirectories: true)
      let from = root.appendingPathComponent("SampleData/bccd/JPEGImages")
      for name in try fm.contentsOfDirectory(atPath: from.path) where name.hasSuffix(".jpg") {
        try fm.copyItem(at: from.appendingPathComponent(name), to: images.appendingPathComponent(name))
      }
    }
    path = dir.appendingPathComponent("ws").path
    let store = try Workspace.create(at: path, schema: schema)
    _ = try store.importImages(
      ImportOptions(paths: [images.path], labelsFromFolders: schema.name == "wbc5"))
    let k = schema.classes.count
    let file = dir.appendingPathComponent("model.bin").path
    try Data("weights".utf8).write(to: URL(fileURLWithPath: file))
    let v = try store.registerModel(
      file: file, parent: nil, tasks: ["c"], trainedTasks: ["c"], frozenTasks: [])
    count = try store.caseCount()
    let n = Int64(count)
    var predictions: [NewPrediction] = []
    for id in Int64(1)...n {
      let p = 0.45 + Double(id % 10) * 0.05
      var probs = [Double](repeating: (1 - p) / Double(k - 1), count: k)
      probs[Int(id) % k] = p
      predictions.append(NewPrediction(caseID: id, probabilities: probs))
    }
    try store.savePredictions(predictions, model: v.version)
    try store.promote(version: v.version)
    _ = try store.createSession(
      name: "s", raters: ["alice", "bob"], cases: .ids(Array(1...8)), blinded: false, hideModel: false,
      createdBy: "lead")
    for c in 1...8 {
      let a = schema.classes[c % k].name
      let b = c % 3 == 0 ? schema.classes[(c + 1) % k].name : a
      _ = try store.annotate(case: Int64(c), rater: "alice", label: a, session: "s")
      _ = try store.annotate(case: Int64(c), rater: "bob", label: b, session: "s")
    }
  }

  deinit { try? FileManager.default.removeItem(at: dir) }

  /// `blastview review` as alice in tmux.
  func review(columns: Int, rows: Int, extra: String = "--graphics blocks", session: Bool = false)
    -> TmuxSession?
  {
    let bin = EndToEnd.binary ?? ""
    let command =
      "\(EndToEnd.shellQuote(bin)) review --workspace \(EndToEnd.shellQuote(path)) --rater alice \(extra)"
      + (session ? " --session s" : "")
    return TmuxSession(
      columns: columns, rows: rows,
      command: "sh -c \(EndToEnd.shellQuote(command + "; echo EXIT=$?; sleep 60"))")
  }
}

/// Issue 18, item 7 ("R is Pro-B and P Pre-B", "me:· is not explained") and the wbc5 names cut
/// in the probability bars ("neutrop…"), as the hematologist met them: the real binary in tmux,
/// one test per screen. Each fails on the binary before the fix (`BLASTVIEW_TEST_BINARY`).
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux")))
struct ClassNamesEndToEndTests {
  func onScreen(_ t: TmuxSession, _ text: String, seconds: Double = 10) -> Bool {
    EndToEnd.waitUntil(seconds: seconds) { t.capture().contains(text) }
  }

  /// Matches of a regular expression in `text`.
  func matches(_ pattern: String, _ text: String) -> [String] {
    let re = try! NSRegularExpression(pattern: pattern)
    return re.matches(in: text, range: NSRange(text.startIndex..., in: text)).map {
      String(text[Range($0.range, in: text)!])
    }
  }

  /// A class name cut with "…" or a lone class letter before a probability or after "me:".
  func codes(_ screen: String, _ schema: LabelSchema) -> [String] {
    var found = matches(#"(^|[ ▶])[A-Z] [01]\.\d\d"#, screen).filter { !$0.isEmpty }
    found += matches(#"me:[A-Z·](\s|$)"#, screen)
    for cls in schema.classNames where cls.count > 3 {
      for cut in 3..<cls.count {
        found += matches(NSRegularExpression.escapedPattern(for: String(cls.prefix(cut))) + "…", screen)
      }
    }
    return found
  }

  @Test func browserTilesNameTheClassesAll4() throws {
    let ws = try NamedClassesWorkspace(.all4)
    let t = try #require(ws.review(columns: 120, rows: 40))
    #expect(onScreen(t, "20 matching"), "\(t.capture())")
    #expect(onScreen(t, "Pro-B 0.60"))
    let screen = t.capture()
    // Case 3: the model says Pro-B 0.60, alice said Pro-B; case 6: Pre-B 0.75, alice Pre-B.
    #expect(screen.contains("#3 Pro-B 0.60") && screen.contains("#6 Pre-B 0.75"), "\(screen)")
    #expect(screen.contains("me:Pro-B") && screen.contains("me:Pre-B"), "\(screen)")
    #expect(codes(screen, ws.schema).isEmpty, "\(codes(screen, ws.schema))\n\(screen)")
    t.send("q")
  }

  @Test(arguments: [(80, 24), (200, 50)]) func browserTilesNameTheClassesWbc5(columns: Int, rows: Int) throws
  {
    let ws = try NamedClassesWorkspace(.wbc5)
    let t = try #require(ws.review(columns: columns, rows: rows))
    #expect(onScreen(t, "\(ws.count) matching"), "\(t.capture())")
    // Case 1: lymphocyte 0.50; case 3: eosinophil 0.60; case 5: neutrophil 0.70.
    #expect(onScreen(t, "lymphocyte 0.50"), "\(t.capture())")
    let screen = t.capture()
    #expect(screen.contains("#3 eosinophil 0.60") && screen.contains("#5 neutrophil 0.70"), "\(screen)")
    #expect(codes(screen, ws.schema).isEmpty, "\(codes(screen, ws.schema))\n\(screen)")
    t.send("q")
  }

  /// The probability bars: every wbc5 name whole beside its bar, at 80 × 24 and 200 × 50.
  @Test(arguments: [(80, 24), (200, 50)]) func probabilityBarsShowWholeNames(columns: Int, rows: Int) throws {
    let ws = try NamedClassesWorkspace(.wbc5)
    let t = try #require(ws.review(columns: columns, rows: rows))
    #expect(onScreen(t, "\(ws.count) matching"))
    t.send("Enter")
    #expect(onScreen(t, "Case #1"))
    #expect(onScreen(t, "Model v1"))
    let screen = t.capture()
    for (i, cls) in ws.schema.classes.enumerated() {
      let bar = matches(#"\[\#(i + 1)\] "# + cls.name + #" +[█░]+ [01]\.\d\d"#, screen)
      #expect(bar.count == 1, "\(cls.name)\n\(screen)")
    }
    #expect(codes(screen, ws.schema).isEmpty, "\(codes(screen, ws.schema))\n\(screen)")
    t.send("q")
  }

  /// At 80 columns each case takes two lines, the raters and the model on the second, so the
  /// names stand whole there too.
  @Test(arguments: [(120, 40), (80, 24)]) func triageScreenNamesTheClasses(columns: Int, rows: Int) throws {
    let ws = try NamedClassesWorkspace(.all4)
    let t = try #require(ws.review(columns: columns, rows: rows, extra: "--graphics none", session: true))
    #expect(onScreen(t, "session s"))
    t.send("A")
    #expect(onScreen(t, "Tab next pair"))
    t.send("!")
    #expect(onScreen(t, "Triage · s"))
    // Case 3: alice Pro-B, bob Benign, the model Pro-B 0.60; case 6: Pre-B against Pro-B, model Pre-B 0.75.
    #expect(onScreen(t, "alice Pro-B, bob Benign"), "\(t.capture())")
    let screen = t.capture()
    #expect(screen.contains("Pro-B 0.60") && screen.contains("Pre-B 0.75"), "\(screen)")
    #expect(codes(screen, ws.schema).isEmpty, "\(codes(screen, ws.schema))\n\(screen)")
    t.send("q")
  }

  /// The dashboard's heatmap: columns and rows headed by the class names (all4 at 120 columns),
  /// and at 80 columns with wbc5 names shortened by the stated rule, with the legend beside.
  @Test func dashboardHeatmapHeadsWithNames() throws {
    let ws = try NamedClassesWorkspace(.all4)
    let t = try #require(ws.review(columns: 120, rows: 40, extra: "--graphics none", session: true))
    #expect(onScreen(t, "session s"))
    t.send("A")
    #expect(onScreen(t, "Tab next pair"))
    let screen = t.capture()
    #expect(matches(#"\n +Benign +Early-B +Pre-B +Pro-B "#, screen).count == 1, "\(screen)")
    for cls in ws.schema.classNames {
      #expect(matches(#"\n +"# + cls + #"( +\d+){4}"#, screen).count == 1, "\(cls)\n\(screen)")
    }
    t.send("q")

    let wbc = try NamedClassesWorkspace(.wbc5)
    let small = try #require(wbc.review(columns: 80, rows: 24, extra: "--graphics none", session: true))
    #expect(onScreen(small, "session s"))
    small.send("A")
    #expect(onScreen(small, "Tab next pair"))
    #expect(onScreen(small, "Confusion"), "\(small.capture())")
    let text = small.capture()
    // Either every name whole, or shortened names each spelled out in a legend.
    let shortened = matches(#"\b[a-z]{3,9}\."#, text)
    for s in Set(shortened) {
      #expect(text.contains("\(s) = "), "\(s) has no legend\n\(text)")
    }
    #expect(codes(text, wbc.schema).isEmpty, "\(codes(text, wbc.schema))\n\(text)")
    small.send("q")
  }

  /// `?` explains every badge the browser and the case view show, in words.
  @Test func helpExplainsEveryBadge() throws {
    let ws = try NamedClassesWorkspace(.all4)
    // Tall enough for the browser's help on one page.
    let t = try #require(ws.review(columns: 120, rows: 70, extra: "--graphics none"))
    #expect(onScreen(t, "20 matching"))
    t.send("?")
    #expect(onScreen(t, "Keys: browser"))
    #expect(onScreen(t, "Badges on each case"), "\(t.capture())")
    let help = t.capture()
    for needle in [
      "U                 unreviewed", "D                 disagreement", "A                 adjudicated",
      "M                 my mask", "L                 low confidence", "me:Pre-B", "Pre-B 0.83",
    ] {
      #expect(help.contains(needle), "\(needle)\n\(help)")
    }
    #expect(!help.contains("me:·") && !help.contains("Letters:"), "\(help)")
    t.send("Escape")
    usleep(600_000)  // Escape alone, not read with Enter as Alt-Enter
    t.send("Enter")
    #expect(onScreen(t, "Case #1"), "\(t.capture())")
    t.send("?")
    #expect(onScreen(t, "Keys: case view"))
    let caseHelp = t.capture()
    for needle in ["⚑", "⚠", "[1]"] {
      #expect(caseHelp.contains(needle), "\(needle)\n\(caseHelp)")
    }
    t.send("Escape")
    t.send("q")
  }

  /// `blastview triage` prints the class names, not letters.
  @Test func cliTriageNamesTheClasses() throws {
    let ws = try NamedClassesWorkspace(.all4)
    let run = EndToEnd.run([
      EndToEnd.binary ?? "", "triage", "--workspace", ws.path, "--rater", "alice", "--session", "s",
    ])
    #expect(run.status == 0, "\(run.output)")
    #expect(run.output.contains("alice Pro-B, bob Benign"), "\(run.output)")
    #expect(run.output.contains("Pro-B 0.60") && run.output.contains("Pre-B 0.75"), "\(run.output)")
    #expect(matches(#" [A-Z] [01]\.\d\d"#, run.output).isEmpty, "\(run.output)")
  }
}
