import Foundation
import Testing

/// Text a user or a file controls, printed by the real binary: escape sequences, C0 and C1
/// controls, bidi overrides and invisible format characters never reach the terminal raw
/// (Terminal's `Sanitizer` in text output, `\uXXXX` in JSON). `doctor` and `sampledata` let
/// bidi overrides through before they used the one sanitiser.
@Suite struct HostileTextTests {
  static let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// Every kind the sanitiser filters: OSC title, CSI clear, 8-bit CSI, a C1 control, the
  /// right-to-left override, an isolate, zero-width space, BOM, a tag character.
  static let hostile =
    "evil\u{1B}]0;pwned\u{07}\u{1B}[2J\u{9B}2J\u{85}\u{202E}gpj.exe\u{2066}\u{200B}\u{FEFF}\u{E0041}"

  /// True when `text` holds a scalar a terminal would act on or that would hide or reorder text.
  static func hasRawHostileScalars(_ text: String) -> Bool {
    text.unicodeScalars.contains { s in
      let v = s.value
      return (v < 0x20 && v != 0x0A) || (0x7F...0x9F).contains(v) || (0x202A...0x202E).contains(v)
        || (0x2066...0x2069).contains(v) || v == 0x200B || v == 0xFEFF || v == 0x200E || v == 0x200F
        || (0xE0000...0xE007F).contains(v)
    }
  }

  struct Run {
    let status: Int32
    let out: String
    let err: String
  }

  static var binary: String {
    if let path = ProcessInfo.processInfo.environment["BLASTVIEW_BIN"] { return path }
    let here = Bundle.main.bundleURL
    for dir in [here, here.deletingLastPathComponent()] {
      let path = dir.appendingPathComponent("blastview").path
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return here.appendingPathComponent("blastview").path
  }

  static func run(_ arguments: [String], environment: [String: String] = ["TERM": "xterm"]) throws -> Run {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = arguments
    p.currentDirectoryURL = repository
    p.environment = environment
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Run(
      status: p.terminationStatus, out: String(decoding: o, as: UTF8.self),
      err: String(decoding: e, as: UTF8.self))
  }

  static func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  @Test func doctorNeutralisesHostileEnvironmentAndPaths() throws {
    let dir = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let workspace = dir.appendingPathComponent(Self.hostile).path
    let r = try Self.run(
      ["doctor", "--workspace", workspace],
      environment: ["TERM": "xterm", "COLORTERM": Self.hostile, "PATH": "/usr/bin:/bin"])
    #expect(!Self.hasRawHostileScalars(r.out + r.err), "\(r.out.debugDescription)")
    #expect(r.out.contains("COLORTERM   evil\u{FFFD}gpj.exe\u{FFFD}"))
    #expect(!r.out.contains("pwned"))
    #expect(r.out.contains(dir.path + "/evil\u{FFFD}gpj.exe\u{FFFD}"))

    // JSON keeps the exact text, escaped.
    let j = try Self.run(
      ["doctor", "--json", "--workspace", workspace],
      environment: ["TERM": "xterm", "COLORTERM": Self.hostile, "PATH": "/usr/bin:/bin"])
    #expect(!Self.hasRawHostileScalars(j.out))
    #expect(j.out.contains(#"\u0085\u202egpj.exe\u2066\u200b\ufeff\udb40\udc41"#))
    let parsed = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any]
    let terminal = parsed?["terminal"] as? [String: Any]
    let caps = terminal?["capabilities"] as? [String: Any]
    #expect(caps?["colorTerm"] as? String == Self.hostile)
  }

  /// A SampleData folder with a hostile name, a box class with a hostile name in its VOC file
  /// and an undecodable image with a hostile file name (whose `ImageError` names it raw).
  @Test func sampledataNeutralisesHostileNames() throws {
    let dir = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let fm = FileManager.default
    let root = dir.appendingPathComponent("Sample" + Self.hostile)
    let sample = Self.repository.appendingPathComponent("SampleData")
    try fm.createDirectory(
      at: root.appendingPathComponent("bccd/JPEGImages"), withIntermediateDirectories: true)
    try fm.createDirectory(
      at: root.appendingPathComponent("bccd/Annotations"), withIntermediateDirectories: true)
    try fm.createSymbolicLink(
      at: root.appendingPathComponent("wbc-seg"), withDestinationURL: sample.appendingPathComponent("wbc-seg")
    )
    let field = "BloodImage_00000"
    try fm.copyItem(
      at: sample.appendingPathComponent("bccd/JPEGImages/\(field).jpg"),
      to: root.appendingPathComponent("bccd/JPEGImages/\(field).jpg"))
    let xml = try String(
      contentsOf: sample.appendingPathComponent("bccd/Annotations/\(field).xml"), encoding: .utf8)
    try xml.replacingOccurrences(of: "<name>WBC</name>", with: "<name>\(Self.hostile)</name>")
      .write(
        to: root.appendingPathComponent("bccd/Annotations/\(field).xml"), atomically: true, encoding: .utf8)
    try Data("not a jpeg".utf8).write(
      to: root.appendingPathComponent("bccd/JPEGImages/bad\(Self.hostile).jpg"))

    let r = try Self.run(["sampledata", "--path", root.path])
    #expect(r.status == 1)  // the undecodable image is a problem
    #expect(!Self.hasRawHostileScalars(r.out + r.err), "\(r.out.debugDescription)")
    #expect(!r.out.contains("pwned"))
    #expect(r.out.contains("SampleData (\(dir.path)/Sampleevil\u{FFFD}gpj.exe\u{FFFD})"))
    #expect(r.out.contains("evil\u{FFFD}gpj.exe\u{FFFD} 1"))  // the box class, counted once
    #expect(
      r.out.contains("PROBLEM  ") && r.out.contains("/bad" + "evil\u{FFFD}gpj.exe\u{FFFD}.jpg: not an image"))

    let j = try Self.run(["sampledata", "--json", "--path", root.path])
    #expect(!Self.hasRawHostileScalars(j.out))
    let parsed = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any]
    let boxes = (parsed?["bccd"] as? [String: Any])?["boxes"] as? [String: Any]
    #expect(boxes?[Self.hostile] as? Int == 1)
  }

  /// Errors: a missing folder named by the user, an image that is not one, and
  /// ArgumentParser's own message quoting an unknown option.
  @Test func errorMessagesAreNeutralised() throws {
    let dir = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let missing = try Self.run(["sampledata", "--path", dir.appendingPathComponent(Self.hostile).path])
    #expect(missing.status != 0)
    #expect(missing.err.contains("no SampleData folder at"))
    #expect(!Self.hasRawHostileScalars(missing.out + missing.err), "\(missing.err.debugDescription)")

    let bad = dir.appendingPathComponent("x\(Self.hostile).png")
    try Data("not a png".utf8).write(to: bad)
    let shown = try Self.run(["show-image", bad.path])
    #expect(shown.status != 0)
    #expect(shown.err.contains("not an image"))
    #expect(!Self.hasRawHostileScalars(shown.out + shown.err), "\(shown.err.debugDescription)")

    let option = try Self.run(["doctor", "--" + Self.hostile])
    #expect(option.status != 0)
    #expect(option.err.contains("evil\u{FFFD}gpj.exe\u{FFFD}"))
    #expect(!Self.hasRawHostileScalars(option.out + option.err), "\(option.err.debugDescription)")
  }

  /// `rater add` with a name holding a right-to-left override and a zero-width space: the
  /// store refuses it (look-alike names, issue 15), and the refusal that quotes the name
  /// prints it neutralised; nothing is added.
  @Test func raterNamesAreNeutralised() throws {
    let dir = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let ws = dir.appendingPathComponent("ws").path
    let name = "ann\u{202E}gpj\u{200B}.exe"
    var r = try Self.run(["init", "--workspace", ws, "--no-model"])
    #expect(r.status == 0, "\(r.err)")
    r = try Self.run(["rater", "add", name, "--workspace", ws])
    #expect(r.status == 1, "\(r.out)")
    #expect(r.err.contains("\"ann\u{FFFD}gpj\u{FFFD}.exe\"") && r.err.contains("U+202E"), "\(r.err)")
    #expect(!Self.hasRawHostileScalars(r.out + r.err), "\(r.err.debugDescription)")
    r = try Self.run(["rater", "list", "--json", "--workspace", ws])
    #expect(r.status == 0 && !r.out.contains("ann") && !Self.hasRawHostileScalars(r.out), "\(r.out)")
  }
}
