import Foundation
import Imaging
import Testing

@testable import CaseStore

/// The real `blastview` binary, end to end: every store subcommand, errors, JSON, and that
/// hostile file names never reach the terminal raw.
@Suite(.serialized) struct CLITests {
  static var binary: String {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
      .appendingPathComponent("blastview").path
  }

  struct Result {
    var status: Int32
    var out: String
    var err: String
    var all: String { out + err }
  }

  @discardableResult
  static func run(
    _ args: [String], env: [String: String] = [:], cwd: String? = nil, executable: String? = nil
  ) throws -> Result {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable ?? binary)
    p.arguments = args
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "BLASTVIEW_WORKSPACE")
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Result(
      status: p.terminationStatus, out: String(decoding: o, as: UTF8.self),
      err: String(decoding: e, as: UTF8.self))
  }

  static func noRawControls(_ text: String) -> Bool {
    !text.unicodeScalars.contains { s in
      (s.value < 0x20 && s.value != 0x0A) || s.value == 0x7F || (0x80...0x9F).contains(s.value)
    }
  }

  @Test func theStoreCommandsWorkEndToEnd() throws {
    try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "blastview not built")
    let dir = TempDir()
    let data = dir.sub("data")
    try ImportTests.write(ImportTests.png(1), data + "/Pre/one.png")
    try ImportTests.write(ImportTests.png(2), data + "/Pro/two.png")
    try ImportTests.write(ImportTests.png(3), data + "/Benign/\u{1b}]0;pwned\u{07}.png")
    try ImportTests.write(ImportTests.png(4), data + "/Benign/\u{1b}[2J.png")
    try ImportTests.write(Array("garbage".utf8), data + "/Pre/\u{1b}[31mbad.png")
    let ws = dir.sub("ws")

    var r = try Self.run(["init", "--workspace", ws, "--no-model"])
    #expect(
      r.status == 0 && r.out.contains("Created workspace") && r.out.contains("3=Pre-B")
        && !r.out.contains("[P]"))
    r = try Self.run(["init", "--workspace", ws])
    #expect(r.status != 0 && r.err.contains("already exists"))

    // Workspace from the environment.
    r = try Self.run(
      ["import", data, "--labels-from-folders", "--image-root", data], env: ["BLASTVIEW_WORKSPACE": ws])
    #expect(r.status == 0, "\(r.all)")
    #expect(r.out.contains("Imported 4 image(s)") && r.out.contains("1 skipped"))
    #expect(Self.noRawControls(r.all), "raw control characters in: \(r.all.debugDescription)")
    #expect(r.out.contains("\u{FFFD}bad.png"))
    r = try Self.run(["import", data, "--json", "--workspace", ws])
    let summary = try JSONDecoder().decode(ImportSummary.self, from: Data(r.out.utf8))
    #expect(summary.imported == 0 && summary.duplicates == 4)

    // Annotate by id, by path, by SHA-256 prefix.
    r = try Self.run(["annotate", "1", "--label", "pre", "--workspace", ws, "--rater", "ana"])
    #expect(r.status == 0 && r.out.contains("label Pre-B"), "\(r.all)")
    r = try Self.run([
      "annotate", data + "/Pro/two.png", "--label", "Pro-B", "--workspace", ws, "--rater", "ana",
    ])
    #expect(r.status == 0, "\(r.all)")
    let store = try Workspace.open(path: ws)
    let sha = try store.caseRecord(id: 3, viewer: .system).sha256
    var mask = Mask(width: 12, height: 9)
    for i in 0..<20 { mask.values[i] = 255 }
    try Data(encodePNG(mask)).write(to: URL(fileURLWithPath: dir.sub("mask.png")))
    r = try Self.run([
      "annotate", String(sha.prefix(10)), "--mask", dir.sub("mask.png"), "--workspace", ws, "--json",
    ])
    #expect(r.status == 0, "\(r.all)")
    let a = try JSONDecoder().decode(JSONValue.self, from: Data(r.out.utf8))
    #expect(a["rater"] == .string(defaultRaterName()) && a["caseID"] == .number(3))
    r = try Self.run(["annotate", "1", "--label", "Mega-B", "--workspace", ws])
    #expect(r.status != 0 && r.err.contains("unknown label") && r.err.contains("Pro-B"))
    r = try Self.run(["annotate", "99", "--label", "Pre-B", "--workspace", ws])
    #expect(r.status != 0 && r.err.contains("no case matches"))

    // History, with the hostile name sanitised.
    r = try Self.run(["history", "3", "--workspace", ws])
    #expect(
      r.status == 0 && r.out.contains("mask=yes") && Self.noRawControls(r.out), "\(r.all.debugDescription)")

    // A blinded session: ben cannot see ana's label on case 1 until he labels it.
    r = try Self.run([
      "session", "create", "s1", "--raters", "ana,ben", "--cases",
      "split:" + (try store.caseRecord(id: 1, viewer: .system).split.rawValue),
      "--blind", "--hide-model", "--workspace", ws, "--created-by", "lead",
    ])
    #expect(r.status == 0 && r.out.contains("blinded"), "\(r.all)")
    r = try Self.run([
      "annotate", "1", "--label", "Pre-B", "--session", "s1", "--rater", "ana", "--workspace", ws,
    ])
    #expect(r.status == 0, "\(r.all)")
    r = try Self.run(["history", "1", "--rater", "ben", "--workspace", ws, "--json"])
    #expect(r.status == 0 && !r.out.contains("\"ana\"") && r.out.contains("\"blinded\": true"), "\(r.out)")
    r = try Self.run([
      "annotate", "1", "--label", "Benign", "--session", "s1", "--rater", "ben", "--workspace", ws,
    ])
    r = try Self.run(["history", "1", "--rater", "ben", "--workspace", ws])
    #expect(r.out.contains("ana") && r.out.contains("ben"))
    r = try Self.run(["session", "list", "--workspace", ws])
    #expect(
      r.out.contains("s1") && r.out.contains("[open, blinded, model hidden]") && r.out.contains("ana 1/"))
    r = try Self.run(["session", "close", "s1", "--rater", "ana", "--workspace", ws])
    #expect(r.status != 0 && r.err.contains("only the creator"))
    r = try Self.run(["session", "close", "s1", "--rater", "lead", "--workspace", ws])
    #expect(r.status == 0)

    // Labels from another tool: all or nothing.
    try "case,rater,label\n1,carl,Pro-B\n2,carl,Nope\n".write(
      toFile: dir.sub("bad.csv"), atomically: true, encoding: .utf8)
    r = try Self.run(["labels", "import", dir.sub("bad.csv"), "--workspace", ws])
    #expect(r.status != 0 && r.err.contains("line 3") && r.err.contains("nothing was imported"))
    try "case,rater,label\n1,carl,Pro-B\n2,carl,pre\n".write(
      toFile: dir.sub("good.csv"), atomically: true, encoding: .utf8)
    r = try Self.run(["labels", "import", dir.sub("good.csv"), "--workspace", ws])
    #expect(r.status == 0 && r.out.contains("Imported 2 label(s)"))

    // Export and backup.
    for format in ["csv", "json", "masks", "coco"] {
      r = try Self.run([
        "export", "--format", format, "--out", dir.sub("out-\(format)"), "--workspace", ws, "--json",
      ])
      #expect(r.status == 0, "\(format): \(r.all)")
    }
    let csv = CSV.parse(try String(contentsOfFile: dir.sub("out-csv/annotations.csv"), encoding: .utf8))
    #expect(csv.count == 1 + 7)
    #expect(
      FileManager.default.fileExists(
        atPath: dir.sub("out-masks/masks/3_\(ExportText.fileNamePart(defaultRaterName())).png")))
    r = try Self.run(["export", "--format", "xml", "--out", dir.sub("x"), "--workspace", ws])
    #expect(r.status != 0 && r.err.contains("csv, json, masks or coco"))
    r = try Self.run(["backup", dir.sub("copy.db"), "--workspace", ws])
    #expect(r.status == 0 && r.out.contains("Backed up"))
    r = try Self.run(["backup", dir.sub("copy.db"), "--workspace", ws])
    #expect(r.status != 0 && r.err.contains("already exists"))

    // The default workspace is ./.blastview.
    r = try Self.run(["session", "list"], cwd: dir.path)
    #expect(r.status != 0 && r.err.contains(dir.path + "/.blastview") && r.err.contains("blastview init"))
    for text in [r.all] { #expect(!text.contains("database is locked")) }
  }
}
