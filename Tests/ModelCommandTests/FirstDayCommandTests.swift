import CaseStore
import Foundation
import Testing

/// Issue 18, item 2 ("no predictions until you dig"): a workspace of a shipped schema starts with
/// the shipped model registered and promoted, `import` ends with the next step as a runnable
/// command, and `predict --all-cases` says what it found (counts per class by the schema's
/// names, colour outliers). Before: `init --schema all4` attached no model, `import` stopped at
/// its counts, and `predict` printed only "N cases predicted".
@Suite(.serialized) struct FirstDayCommandTests {
  typealias M = ModelCommandTests
  static let bccd = M.repository.appendingPathComponent("SampleData/bccd/JPEGImages").path

  @Test func initRegistersAndPromotesTheShippedModel() throws {
    let dir = M.folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ws = dir + "/ws"
    let r = try M.run(["init", "--workspace", ws, "--schema", "all4"])
    #expect(r.status == 0, "\(r.err)")
    let shipped = M.repository.appendingPathComponent("Models/all4.safetensors").path
    #expect(
      r.out.contains("model: v1 registered and promoted (the shipped all4 model, \(shipped))"), "\(r.out)")
    #expect(r.out.contains("Next: blastview import --workspace \(ws) FOLDER-OF-IMAGES"), "\(r.out)")
    let store = try Workspace.open(path: ws)
    let promoted = try #require(try store.promotedModel())
    #expect(promoted.version == 1)
    #expect(promoted.sha256 == (try sha256OfFile(shipped)))
    // The workspace holds its own copy: it keeps working if the installation moves.
    #expect(promoted.file.hasPrefix(store.workspace.modelsDirectory))

    let none = try M.run(["init", "--workspace", dir + "/bare", "--schema", "wbc5", "--no-model"])
    #expect(none.status == 0)
    #expect(try Workspace.open(path: dir + "/bare").promotedModel() == nil)
  }

  @Test func importSaysWhatIsNextAndPredictSummarises() throws {
    let dir = M.folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ws = dir + "/my workspace"
    #expect(try M.run(["init", "--workspace", ws]).status == 0)
    let imported = try M.run(["import", "--workspace", ws, Self.bccd])
    #expect(imported.status == 0, "\(imported.err)")
    // The hint is printed runnable (the path with a space is quoted).
    let quoted = "'\(ws)'"
    #expect(imported.out.contains("Next: blastview review --workspace \(quoted)"), "\(imported.out)")
    #expect(imported.out.contains("blastview predict --all-cases --workspace \(quoted)"))

    // Run the printed predict command (through sh, as a user pasting it would).
    let line = try #require(imported.out.split(separator: "\n").first { $0.hasPrefix("Next:") })
    let start = try #require(line.range(of: "blastview predict"))
    let command = String(line[start.lowerBound...]).trimmingCharacters(in: CharacterSet(charactersIn: ")"))
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    let binDir = URL(fileURLWithPath: M.binary).deletingLastPathComponent().path
    p.arguments = ["-c", "PATH=\(binDir):$PATH " + command]
    let outFile = dir + "/predict.out"
    FileManager.default.createFile(atPath: outFile, contents: nil)
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outFile))
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0)
    let out = try String(contentsOfFile: outFile, encoding: .utf8)
    #expect(out.contains("model v1: 20 cases predicted, 0 skipped"), "\(out)")

    // The counts printed are the stored predictions counted independently, by display name.
    let store = try Workspace.open(path: ws)
    var counts: [String: Int] = [:]
    for id in Int64(1)...20 {
      let p = try #require(try store.prediction(case: id, viewer: .system))
      counts[p.label, default: 0] += 1
    }
    let expected = store.labelSchema.classes.map { "\($0.name) \(counts[$0.name] ?? 0)" }
      .joined(separator: " · ")
    #expect(out.contains("predicted classes over 20 case(s): \(expected)"), "\(out)")
    #expect(out.contains("Early-B "), "the schema's display names, not the model's short ones")
    #expect(!out.contains("[E]"), "no class letters (issue 18, item 7)")
    #expect(out.contains("colour"))
  }

  func sha256OfFile(_ path: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    p.arguments = [path]
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(String(decoding: data, as: UTF8.self).prefix(64))
  }
}

/// Issue 18, item 7: standalone `predict` printed the checkpoint's short names (Early, Pre,
/// Pro) where a workspace says Early-B, Pre-B, Pro-B.
@Suite struct PredictDisplayNameTests {
  @Test func standalonePredictUsesTheSchemasNames() throws {
    let M = ModelCommandTests.self
    let image = M.repository.appendingPathComponent("SampleData/bccd/JPEGImages").path
    let first = try #require(try FileManager.default.contentsOfDirectory(atPath: image).sorted().first)
    let model = M.repository.appendingPathComponent("Models/all4.safetensors").path
    let r = try M.run(["predict", image + "/" + first, "--model", model])
    #expect(r.status == 0, "\(r.err)")
    for name in ["Benign", "Early-B", "Pre-B", "Pro-B"] { #expect(r.out.contains("\(name) 0."), "\(r.out)") }
    #expect(!r.out.contains("Early 0."))
  }
}

/// Issue 18, item 7: "clinical kappa weights are not defined in --help".
@Suite struct ClinicalWeightsHelpTests {
  @Test func agreeHelpDefinesTheClinicalWeights() throws {
    let r = try ModelCommandTests.run(["agree", "--help"])
    #expect(r.status == 0)
    let help = r.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    #expect(help.contains("Benign against any leukemia (Early-B, Pre-B, Pro-B) 0"), "\(r.out)")
    #expect(help.contains("Pro-B/Early-B and Early-B/Pre-B 0.5, Pro-B/Pre-B 0"))
  }
}
