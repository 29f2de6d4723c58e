import Foundation
import Terminal
import Testing

@testable import blastview

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
    #expect(out.contains("COLORTERM   \u{FFFD}\n"))
    #expect(!out.contains("owned"))
  }

  @Test func workspaceSourceFollowsResolutionOrder() throws {
    let env = ["BLASTVIEW_WORKSPACE": "/srv/reviews"]
    #expect(Doctor.workspaceSource(option: nil, environment: [:]) == .defaultPath)
    #expect(Doctor.workspaceSource(option: "", environment: env) == .environment)
    #expect(Doctor.workspaceSource(option: "/data/ws", environment: env) == .option)
    // The doctor reports the path `Workspace.resolve` chose.
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (_, out) = try run(
      ["doctor", "--json"], environment: ["TERM": "xterm", "BLASTVIEW_WORKSPACE": folder.path])
    let json = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
    let ws = try #require(json["workspace"] as? [String: Any])
    #expect(ws["path"] as? String == folder.standardizedFileURL.path)
    #expect(ws["source"] as? String == "BLASTVIEW_WORKSPACE")
    #expect(ws["exists"] as? Bool == true)
  }

  @Test func workspaceChecks() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let present = Doctor.inspectWorkspace((folder.path, .option))
    #expect(present.exists && present.isDirectory && present.writable)
    #expect(Doctor.checkWorkspace(present).status == .ok)
    let missing = Doctor.inspectWorkspace((folder.appendingPathComponent("new").path, .defaultPath))
    #expect(!missing.exists)
    #expect(Doctor.checkWorkspace(missing).status == .info)
  }

  @Test func librariesReallyWork() {
    #expect(Doctor.sixelEncodedByteCount() > 0)
    #expect(Doctor.checkCodecs().status == .ok)
  }

  @Test func sampleDataSummaryCountsFromFiles() throws {
    let s = try SampleDataSummary.read(root: Self.repository.appendingPathComponent("SampleData"))
    #expect(s.problems.isEmpty)
    #expect(s.wbc.images == 300 && s.wbc.masks == 300)
    // Class counts of the authors' Dataset1-labels.csv (1..5).
    #expect(
      s.wbc.classes == ["neutrophil": 176, "lymphocyte": 53, "monocyte": 48, "eosinophil": 22, "basophil": 1])
    let common = try #require(s.wbc.sizes.first)
    #expect(common.width == 120 && common.height == 120 && common.count == 224)
    #expect(s.bccd.images == 20 && s.bccd.annotations == 20)
    // Counted independently with Python's xml.etree over the same 20 files.
    #expect(s.bccd.boxes == ["RBC": 252, "Platelets": 25, "WBC": 20])
    #expect(s.bytes < 20 * 1_048_576)
  }

  @Test func vocNamesAreRead() {
    let xml =
      "<annotation><object>\n<name> WBC </name><bndbox/></object><object><name>RBC</name></object></annotation>"
    #expect(SampleDataSummary.vocObjectNames(xml) == ["WBC", "RBC"])
    #expect(SampleDataSummary.vocObjectNames("<annotation/>") == [])
  }

  @Test func sampledataCommandPrintsSummary() throws {
    let (status, out) = try run(["sampledata"])
    #expect(status == 0)
    #expect(out.contains("300 white-cell crops"))
    #expect(out.contains("neutrophil 176, lymphocyte 53, monocyte 48, eosinophil 22, basophil 1"))
  }
}
