import Foundation
import Testing

/// `blastview doctor` and `blastview sampledata`: the report's parts, and the real binary.
@Suite struct DoctorCommandTests {
  static let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// The built executable beside the test bundle (this target depends on it).
  static var binary: String {
    if let path = ProcessInfo.processInfo.environment["BLASTVIEW_BIN"] { return path }
    let here = Bundle.main.bundleURL
    for dir in [here, here.deletingLastPathComponent()] {
      let path = dir.appendingPathComponent("blastview").path
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return here.appendingPathComponent("blastview").path
  }

  func run(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, out: String)
  {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Self.binary)
    p.arguments = arguments
    p.currentDirectoryURL = Self.repository
    if let environment { p.environment = environment }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self))
  }

  func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("doctor-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  @Test func doctorJSONHoldsLibraryVersions() throws {
    let (status, out) = try run(
      ["doctor", "--json"], environment: ["TERM": "xterm", "PATH": "/usr/bin:/bin"])
    #expect(status == 0)
    let json = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
    let libraries = try #require(json["libraries"] as? [String: String])
    #expect(Set(libraries.keys) == ["ncurses", "libsixel", "libpng", "libjpeg", "openblas"])
    // Versions look like versions (digits and dots), e.g. ncurses 6.4.20221231, libpng 1.6.39.
    for (name, version) in libraries {
      #expect(version.contains(where: \.isNumber) && version.contains("."), "\(name): \(version)")
    }
    let openblas = try #require(json["openblas"] as? [String: Any])
    #expect((openblas["threads"] as? Int ?? 0) >= 1)
    #expect(!(openblas["coreType"] as? String ?? "").isEmpty)
    let terminal = try #require(json["terminal"] as? [String: Any])
    let caps = try #require(terminal["capabilities"] as? [String: Any])
    // Not a terminal (stdout is a pipe): not probed, and unknowns are explicit nulls.
    #expect(caps["isTTY"] as? Bool == false)
    #expect(caps.keys.contains("sixel") && caps["sixel"] is NSNull)
    #expect(json["ok"] as? Bool == true)
  }

  @Test func doctorFailsWithAFixWhenTheWorkspaceIsAFile() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("not-a-folder")
    try Data("x".utf8).write(to: file)
    let (status, out) = try run(["doctor", "--workspace", file.path], environment: ["TERM": "xterm"])
    #expect(status == 1)
    #expect(out.contains("[FAIL] workspace: \(file.path) (from --workspace) is a file, not a folder"))
    #expect(out.contains("fix: choose another path"))
  }

  @Test func doctorFailsWhenTerminfoLacksTERM() throws {
    let (status, out) = try run(["doctor"], environment: ["TERM": "no-such-terminal-xyz"])
    #expect(status == 1)
    #expect(out.contains("TERM=no-such-terminal-xyz has no terminfo entry"))
    #expect(out.contains("fix: install more entries"))
  }

  @Test func doctorEscapesHostileEnvironment() throws {
    let (_, out) = try run(["doctor"], environment: ["TERM": "xterm", "COLORTERM": "\u{1B}]0;owned\u{07}"])
    #expect(!out.contains("\u{1B}"))
    #expect(out.contains("\\u{1b}]0;owned\\u{7}"))
  }

  /// `doctor --json` as a dictionary.
  func doctorJSON(_ arguments: [String] = [], environment: [String: String]) throws -> [String: Any] {
    let (_, out) = try run(["doctor", "--json"] + arguments, environment: environment)
    return try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
  }

  func check(_ json: [String: Any], _ name: String) -> String? {
    ((json["checks"] as? [[String: Any]]) ?? []).first { $0["name"] as? String == name }?["status"] as? String
  }

  @Test func workspaceSourceFollowsResolutionOrder() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let env = ["TERM": "xterm", "BLASTVIEW_WORKSPACE": folder.path]
    let fromEnvironment = try #require(try doctorJSON(environment: env)["workspace"] as? [String: Any])
    #expect(fromEnvironment["path"] as? String == folder.standardizedFileURL.path)
    #expect(fromEnvironment["source"] as? String == "BLASTVIEW_WORKSPACE")
    #expect(fromEnvironment["exists"] as? Bool == true)
    // --workspace wins over the environment; an empty --workspace does not count.
    let other = folder.appendingPathComponent("other").path
    let fromOption = try #require(
      try doctorJSON(["--workspace", other], environment: env)["workspace"] as? [String: Any])
    #expect(fromOption["source"] as? String == "--workspace")
    #expect(fromOption["path"] as? String == URL(fileURLWithPath: other).standardizedFileURL.path)
    let emptyOption = try #require(
      try doctorJSON(["--workspace", ""], environment: env)["workspace"] as? [String: Any])
    #expect(emptyOption["source"] as? String == "BLASTVIEW_WORKSPACE")
    let neither = try #require(try doctorJSON(environment: ["TERM": "xterm"])["workspace"] as? [String: Any])
    #expect(neither["source"] as? String == "default")
  }

  @Test func workspaceChecks() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let present = try doctorJSON(["--workspace", folder.path], environment: ["TERM": "xterm"])
    let ws = try #require(present["workspace"] as? [String: Any])
    #expect(
      ws["exists"] as? Bool == true && ws["isDirectory"] as? Bool == true && ws["writable"] as? Bool == true)
    #expect(check(present, "workspace") == "ok")
    let missing = try doctorJSON(
      ["--workspace", folder.appendingPathComponent("new").path], environment: ["TERM": "xterm"])
    #expect((missing["workspace"] as? [String: Any])?["exists"] as? Bool == false)
    #expect(check(missing, "workspace") == "info")
  }

  /// Each library check exercises the library: an sgemm, a PNG round trip, a sixel encode.
  @Test func librariesReallyWork() throws {
    let json = try doctorJSON(environment: ["TERM": "xterm"])
    #expect(check(json, "openblas") == "ok")
    #expect(check(json, "image codecs") == "ok")
    #expect(check(json, "libsixel") == "ok")
  }

  /// `sampledata --path DIR --json` as a dictionary.
  func sampledataJSON(_ root: String) throws -> [String: Any] {
    let (_, out) = try run(["sampledata", "--path", root, "--json"])
    return try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
  }

  @Test func sampleDataSummaryCountsFromFiles() throws {
    let s = try sampledataJSON(Self.repository.appendingPathComponent("SampleData").path)
    #expect((s["problems"] as? [String])?.isEmpty == true)
    let wbc = try #require(s["wbc"] as? [String: Any])
    #expect(wbc["images"] as? Int == 300 && wbc["masks"] as? Int == 300)
    #expect(
      wbc["classes"] as? [String: Int]
        == ["neutrophil": 176, "lymphocyte": 53, "monocyte": 48, "eosinophil": 22, "basophil": 1])
    let common = try #require((wbc["sizes"] as? [[String: Int]])?.first)
    #expect(common == ["width": 120, "height": 120, "count": 224])
    let bccd = try #require(s["bccd"] as? [String: Any])
    #expect(bccd["images"] as? Int == 20 && bccd["annotations"] as? Int == 20)
    #expect(bccd["boxes"] as? [String: Int] == ["RBC": 252, "Platelets": 25, "WBC": 20])
    #expect((s["bytes"] as? Int ?? .max) < 20 * 1_048_576)
  }

  /// VOC object names are trimmed, and an annotation without objects counts none.
  @Test func vocNamesAreRead() throws {
    let root = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: root) }
    let images = root.appendingPathComponent("bccd/JPEGImages")
    let annotations = root.appendingPathComponent("bccd/Annotations")
    try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: annotations, withIntermediateDirectories: true)
    let field = try #require(
      try FileManager.default.contentsOfDirectory(
        atPath: Self.repository.appendingPathComponent("SampleData/bccd/JPEGImages").path
      ).sorted().first)
    for name in ["a", "b"] {
      try FileManager.default.copyItem(
        at: Self.repository.appendingPathComponent("SampleData/bccd/JPEGImages/\(field)"),
        to: images.appendingPathComponent("\(name).jpg"))
    }
    try Data(
      "<annotation><object>\n<name> WBC </name><bndbox/></object><object><name>RBC</name></object></annotation>"
        .utf8
    ).write(to: annotations.appendingPathComponent("a.xml"))
    try Data("<annotation/>".utf8).write(to: annotations.appendingPathComponent("b.xml"))
    let bccd = try #require(try sampledataJSON(root.path)["bccd"] as? [String: Any])
    #expect(bccd["annotations"] as? Int == 2)
    #expect(bccd["boxes"] as? [String: Int] == ["WBC": 1, "RBC": 1])
  }

  @Test func sampledataCommandPrintsSummary() throws {
    let (status, out) = try run(["sampledata"])
    #expect(status == 0)
    #expect(out.contains("300 white-cell crops"))
    #expect(out.contains("neutrophil 176, lymphocyte 53, monocyte 48, eosinophil 22, basophil 1"))
  }
}
