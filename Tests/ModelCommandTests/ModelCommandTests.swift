import CaseStore
import Foundation
import MTACNN
import NeuralEngine
import Testing

/// The real `blastview train`, `eval` and `predict` on SampleData's wbc-seg crops: short runs
/// (a few batches) so the suite stays quick; what they check is the plumbing, the files and the
/// guarantees (frozen tensors byte-identical through the CLI, Ctrl-C keeps the best checkpoint,
/// predictions land in a workspace), not model quality.
@Suite(.serialized) struct ModelCommandTests {
  static let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static let images = repository.appendingPathComponent("SampleData/wbc-seg/images").path
  static let masks = repository.appendingPathComponent("SampleData/wbc-seg/masks").path

  static var binary: String {
    if let path = ProcessInfo.processInfo.environment["BLASTVIEW_BIN"] { return path }
    let here = Bundle.main.bundleURL
    for dir in [here, here.deletingLastPathComponent()] {
      let path = dir.appendingPathComponent("blastview").path
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return here.appendingPathComponent("blastview").path
  }

  @discardableResult
  static func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = arguments
    p.currentDirectoryURL = repository
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("mc-out-\(UUID().uuidString)")
    let err = FileManager.default.temporaryDirectory.appendingPathComponent("mc-err-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    p.standardOutput = try FileHandle(forWritingTo: out)
    p.standardError = try FileHandle(forWritingTo: err)
    p.standardInput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    defer {
      try? FileManager.default.removeItem(at: out)
      try? FileManager.default.removeItem(at: err)
    }
    return (
      p.terminationStatus, String(decoding: try Data(contentsOf: out), as: UTF8.self),
      String(decoding: try Data(contentsOf: err), as: UTF8.self)
    )
  }

  static func folder() -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("model-cmd-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
  }

  static let quick = ["--size", "32", "--batch", "8", "--max-batches", "2", "--threads", "2", "--seed", "1"]

  /// Raw bytes of each tensor.
  static func tensorBytes(_ path: String) throws -> [String: [UInt8]] {
    let file = try SafeTensorsFile.read(path: path)
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    var n = 0
    for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
    var out: [String: [UInt8]] = [:]
    for e in file.entries { out[e.name] = Array(bytes[(8 + n + e.begin)..<(8 + n + e.end)]) }
    return out
  }

  @Test func trainThenContinueFrozenThroughTheCLI() throws {
    let dir = Self.folder()
    let cls = dir + "/cls.safetensors"
    let a = try Self.run(
      ["train", "--data", Self.images, "--schema", "wbc5", "--tasks", "cls", "--epochs", "2", "--out", cls]
        + Self.quick)
    #expect(a.status == 0, "\(a.err)")
    #expect(a.out.contains("epoch 2/2") && a.out.contains("saved at"))
    let joint = dir + "/joint.safetensors"
    let b = try Self.run(
      [
        "train", "--data", Self.images, "--masks", Self.masks, "--init", cls, "--tasks", "cls,seg",
        "--freeze", "cls",
        "--epochs", "1", "--out", joint,
      ] + Self.quick.filter { $0 != "32" && $0 != "--size" })
    #expect(b.status == 0, "\(b.err)")
    let before = try Self.tensorBytes(cls)
    let after = try Self.tensorBytes(joint)
    let frozen = before.keys.filter { !$0.hasPrefix("adam.") }
    #expect(!frozen.isEmpty)
    for name in frozen { #expect(after[name] == before[name], "\(name) changed") }
    #expect(after.keys.contains("seg.out.weight") && after.keys.contains("seg.ttc3.from_cls.beta"))
    #expect(!after.keys.contains("cls.ttc3.from_seg.beta"))
    // The record says how it was made.
    let meta = try ModelCheckpoint.metadata(of: try SafeTensorsFile.read(path: joint))
    #expect((meta.trainingValue("freeze") as? [String]) == ["cls"])
    #expect((meta.trainingValue("command") as? String)?.contains("--freeze cls") == true)

    // eval --json has issue 4's keys; predict prints boxes and writes masks.
    let e = try Self.run([
      "eval", "--model", joint, "--data", Self.images, "--masks", Self.masks, "--json", "--threads", "2",
    ])
    #expect(e.status == 0, "\(e.err)")
    let report = try #require(try JSONSerialization.jsonObject(with: Data(e.out.utf8)) as? [String: Any])
    for key in ["n", "accuracy", "kappa", "macro", "per_class", "confusion", "segmentation", "calibration"] {
      #expect(report[key] != nil, "missing \(key)")
    }
    #expect(report["binary"] == nil)  // wbc5 is flat
    #expect((report["n"] as? Int) == 30)
    let seg = try #require(report["segmentation"] as? [String: Any])
    #expect(seg["dice"] != nil && seg["iou"] != nil && seg["detection_f1"] != nil)
    let text = try Self.run(["eval", "--model", joint, "--data", Self.images, "--threads", "2"])
    #expect(text.out.contains("Table 3") && text.out.contains("Table 4") && text.out.contains("kappa"))

    let out = dir + "/masks"
    let image = Self.images + "/lymphocyte/002.png"
    let p0 = try Self.run([
      "predict", "--model", joint, Self.images + "/neutrophil/002.png", "--masks-out", out, "--json",
    ])
    #expect(p0.status == 0, "\(p0.err)")
    let preds = try #require(try JSONSerialization.jsonObject(with: Data(p0.out.utf8)) as? [[String: Any]])
    #expect(preds.count == 1)
    #expect((preds[0]["probabilities"] as? [String: Double])?.count == 5)
    #expect(preds[0]["predicted"] is String && preds[0]["nuclei"] is Int && preds[0]["boxes"] is [Any])
    #expect(FileManager.default.fileExists(atPath: out + "/002_nucleus.png"))
    _ = image
  }

  /// One image that the shipped wbc5 model classifies right, in a folder of its own: truth and
  /// prediction are one and the same class, chance agreement is 1 and kappa is 0/0. `eval` says
  /// undefined, with the reason, in JSON (null plus `undefined`, as `agree`) and in text; it used
  /// to print kappa 1.
  @Test func evalReportsKappaUndefinedWhenChanceAgreementIsOne() throws {
    let model = Self.repository.appendingPathComponent("Models/wbc5.safetensors").path
    let image = Self.images + "/lymphocyte/001.png"
    let p = try Self.run(["predict", "--model", model, image, "--json", "--threads", "2"])
    #expect(p.status == 0, "\(p.err)")
    let preds = try #require(try JSONSerialization.jsonObject(with: Data(p.out.utf8)) as? [[String: Any]])
    let predicted = try #require(preds.first?["predicted"] as? String)
    let data = Self.folder()
    try FileManager.default.createDirectory(
      atPath: data + "/" + predicted, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: image, toPath: data + "/" + predicted + "/001.png")

    let e = try Self.run([
      "eval", "--model", model, "--data", data, "--split", "all", "--json", "--threads", "2",
    ])
    #expect(e.status == 0, "\(e.err)")
    let report = try #require(try JSONSerialization.jsonObject(with: Data(e.out.utf8)) as? [String: Any])
    #expect((report["n"] as? Int) == 1)
    #expect((report["accuracy"] as? Double) == 1)
    #expect(report["kappa"] is NSNull)
    let undefined = try #require(report["undefined"] as? [[String: String]])
    #expect(undefined.map { $0["statistic"] } == ["kappa"])
    #expect(undefined.first?["reason"]?.contains("chance agreement p_e = 1") == true)

    let t = try Self.run(["eval", "--model", model, "--data", data, "--split", "all", "--threads", "2"])
    #expect(t.status == 0, "\(t.err)")
    #expect(t.out.contains("undefined"), "\(t.out)")
    #expect(t.out.contains("kappa: the truth and the predictions are all one and the same class"), "\(t.out)")
  }

  @Test func badInputsGetClearErrors() throws {
    let dir = Self.folder()
    let junk = dir + "/junk.safetensors"
    try Data("not a checkpoint at all".utf8).write(to: URL(fileURLWithPath: junk))
    let a = try Self.run(["eval", "--model", junk, "--data", Self.images])
    #expect(a.status != 0)
    #expect(a.err.contains("junk.safetensors"))
    let b = try Self.run(["train", "--data", dir + "/nowhere", "--out", dir + "/x.safetensors"])
    #expect(b.status != 0 && b.err.contains("nowhere"))
    let c = try Self.run([
      "train", "--data", Self.images, "--schema", "all4", "--out", dir + "/x.safetensors",
    ])
    #expect(c.status != 0 && c.err.contains("names no class of schema all4"))
    let d = try Self.run([
      "train", "--data", Self.images, "--schema", "wbc5", "--freeze", "cls", "--tasks", "cls", "--out",
      dir + "/x.safetensors",
    ])
    #expect(d.status != 0 && d.err.contains("freeze"))
    #expect(!FileManager.default.fileExists(atPath: dir + "/x.safetensors"))
  }

  /// Ctrl-C stops after the batch and keeps the best checkpoint so far, saying where.
  @Test func interruptKeepsTheBestCheckpoint() throws {
    let dir = Self.folder()
    let outFile = dir + "/run.safetensors"
    let log = dir + "/log.txt"
    FileManager.default.createFile(atPath: log, contents: nil)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Self.binary)
    p.arguments =
      [
        "train", "--data", Self.images, "--schema", "wbc5", "--tasks", "cls", "--epochs", "1000",
        "--patience", "1000", "--out", outFile,
      ]
      + Self.quick
    p.currentDirectoryURL = Self.repository
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    p.standardError = FileHandle.nullDevice
    try p.run()
    let deadline = Date().addingTimeInterval(120)
    while Date() < deadline {
      let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
      if text.contains("epoch 2/1000") { break }
      usleep(100_000)
    }
    kill(p.processIdentifier, SIGINT)
    p.waitUntilExit()
    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    #expect(p.terminationStatus == 130, "\(text.suffix(600))")
    #expect(text.contains("interrupted") && text.contains("saved at") && text.contains(outFile))
    let (m, meta) = try ModelCheckpoint.load(path: outFile)
    #expect(m.tasks == [.cls])
    #expect((meta.trainingValue("best_epoch") as? Int ?? 0) >= 1)
  }

  /// The workspace as a data source and as the destination of predictions.
  @Test func workspaceTrainingAndPredictions() throws {
    let dir = Self.folder()
    let ws = dir + "/ws"
    #expect(try Self.run(["init", "--workspace", ws, "--schema", "wbc5"]).status == 0)
    let imp = try Self.run([
      "import", "--workspace", ws, Self.images, "--labels-from-folders", "--masks", Self.masks,
    ])
    #expect(imp.status == 0, "\(imp.err)")
    let model = dir + "/ws.safetensors"
    let t = try Self.run(
      ["train", "--from-workspace", "--workspace", ws, "--epochs", "1", "--out", model] + Self.quick)
    #expect(t.status == 0, "\(t.err)")
    let meta = try ModelCheckpoint.metadata(of: try SafeTensorsFile.read(path: model))
    #expect((meta.trainingValue("workspace") as? String)?.hasSuffix("/ws") == true)
    let p = try Self.run(["predict", "--all-cases", "--workspace", ws, "--model", model, "--json"])
    #expect(p.status == 0, "\(p.err)")
    let store = try Workspace.open(path: ws)
    let promoted = try #require(try store.promotedModel())
    #expect(try store.casesMissingPrediction(model: promoted.version).isEmpty)
    let first = try #require(try store.cases(limit: 1, viewer: .system).first)
    let pred = try #require(try store.prediction(case: first.id, viewer: .system))
    #expect(pred.probabilities.count == 5)
    #expect(abs(pred.probabilities.reduce(0, +) - 1) < 1e-6)
    // Running again predicts nothing new and registers nothing new.
    let again = try Self.run(["predict", "--all-cases", "--workspace", ws, "--model", model])
    #expect(again.out.contains("0 cases predicted"))
    #expect(try store.models().count == 1)
  }
}
