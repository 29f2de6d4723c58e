import CaseStore
import Foundation
import Imaging
import MTACNN
import NeuralEngine
import Testing

/// `blastview explain` and `blastview audit` through the real binary, on SampleData's wbc-seg
/// crops and a small untrained wbc5 network (what is checked is the plumbing, the files, the JSON
/// keys and the errors; the numbers are tested in MTACNNTests).
@Suite(.serialized) struct ExplainCommandTests {
  /// A narrow wbc5 network at S = 32, saved to `dir`.
  static func model(in dir: String) throws -> String {
    var c = ModelConfiguration.defaults(for: .wbc5, size: 32)
    c.channels = [4, 8, 8, 16]
    c.decoderChannels = [8, 8, 4, 4]
    c.transformerWidth = 16
    c.transformerDepth = 1
    c.transformerHeads = 2
    c.transformerMLP = 16
    let path = dir + "/tiny.safetensors"
    try MTACNNModel(configuration: c, seed: 3).save(to: path, trainingJSON: "{}")
    return path
  }

  static let image = ModelCommandTests.images + "/lymphocyte/001.png"

  @Test func explainWritesTheOverlayAndReportsRegions() throws {
    let dir = ModelCommandTests.folder()
    let model = try Self.model(in: dir)
    let out = dir + "/overlay.png"
    let r = try ModelCommandTests.run([
      "explain", Self.image, "--model", model, "--samples", "40", "--regions", "12", "--top", "3", "--out",
      out,
      "--json", "--threads", "2",
    ])
    #expect(r.status == 0, "\(r.err)")
    let j = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    for key in [
      "method", "predicted", "explained", "probabilities", "weights", "top", "corner_share",
      "corner_area_share",
      "corner", "regions", "fit_r2", "overlay",
    ] {
      #expect(j.keys.contains(key), "missing \(key)")
    }
    #expect(j["method"] as? String == "lime")
    #expect(j["explained"] as? String == j["predicted"] as? String)
    let weights = try #require(j["weights"] as? [Double])
    #expect(weights.count == j["regions"] as? Int && weights.count >= 6)
    let top = try #require(j["top"] as? [[String: Any]])
    #expect(top.count <= 3)
    for t in top { #expect((t["weight"] as? Double ?? 0) > 0 && (t["box"] as? [Int])?.count == 4) }
    let source = try decodeImage(at: Self.image)
    let overlay = try decodeImage(at: out)
    #expect(overlay.width == source.width && overlay.height == source.height)
    #expect(overlay.pixels != source.pixels)

    // Grad-CAM for another class, as text.
    let g = try ModelCommandTests.run([
      "explain", Self.image, "--model", model, "--method", "gradcam", "--class", "monocyte",
    ])
    #expect(g.status == 0, "\(g.err)")
    #expect(g.out.contains("explained monocyte by Grad-CAM") && g.out.contains("scale-bar corner"))
  }

  @Test func explainErrorsNameTheFileOrValue() throws {
    let dir = ModelCommandTests.folder()
    let model = try Self.model(in: dir)
    let unknown = try ModelCommandTests.run(["explain", Self.image, "--model", model, "--class", "Pro"])
    #expect(unknown.status != 0 && unknown.err.contains("--class Pro") && unknown.err.contains("neutrophil"))
    let broken = dir + "/broken.safetensors"
    try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: broken))
    let badModel = try ModelCommandTests.run(["explain", Self.image, "--model", broken])
    #expect(badModel.status != 0 && badModel.err.contains(broken), "\(badModel.err)")
    let badImageFile = dir + "/bad.png"
    try Data("\u{89}PNG but not really".utf8).write(to: URL(fileURLWithPath: badImageFile))
    let badImage = try ModelCommandTests.run(["explain", badImageFile, "--model", model])
    #expect(badImage.status != 0 && badImage.err.contains(badImageFile), "\(badImage.err)")
    let missing = try ModelCommandTests.run(["explain", dir + "/nope.png", "--model", model])
    #expect(missing.status != 0 && missing.err.contains("nope.png"), "\(missing.err)")
    let method = try ModelCommandTests.run(["explain", Self.image, "--model", model, "--method", "shap"])
    #expect(method.status != 0 && method.err.contains("--method"))
  }

  @Test func explainACaseWithTheWorkspacesPromotedModel() throws {
    let dir = ModelCommandTests.folder()
    let model = try Self.model(in: dir)
    let ws = dir + "/ws"
    #expect(
      try ModelCommandTests.run(["init", "--workspace", ws, "--schema", "wbc5", "--no-model"]).status == 0)
    #expect(
      try ModelCommandTests.run(["import", "--workspace", ws, ModelCommandTests.images + "/basophil"]).status
        == 0)
    // No promoted model yet: a clear error.
    let none = try ModelCommandTests.run(["explain", "1", "--workspace", ws])
    #expect(none.status != 0 && none.err.contains("no promoted model"), "\(none.err)")
    let p = try ModelCommandTests.run(["predict", "--all-cases", "--workspace", ws, "--model", model])
    #expect(p.status == 0, "\(p.err)")
    let e = try ModelCommandTests.run([
      "explain", "#1", "--workspace", ws, "--method", "gradcam", "--json",
    ])
    #expect(e.status == 0, "\(e.err)")
    let j = try #require(try JSONSerialization.jsonObject(with: Data(e.out.utf8)) as? [String: Any])
    #expect(j["target"] as? String == "case #1")
    #expect((j["model"] as? String)?.contains("/ws/models/") == true)
    let unknownCase = try ModelCommandTests.run(["explain", "999", "--workspace", ws])
    #expect(unknownCase.status != 0 && unknownCase.err.contains("999"), "\(unknownCase.err)")
  }

  @Test func auditPrintsTheReportAndTheRobustnessTable() throws {
    let dir = ModelCommandTests.folder()
    let model = try Self.model(in: dir)
    let r = try ModelCommandTests.run([
      "audit", "--model", model, "--data", ModelCommandTests.images, "--part", "all", "--limit", "10",
      "--json",
      "--threads", "2",
    ])
    // An untrained network may pass or fail; 2 is the status of a failed audit.
    #expect(r.status == 0 || r.status == 2, "\(r.err)")
    let j = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    for key in [
      "accuracy_blanked", "accuracy_unblanked", "flip_rate_blanked", "flip_rate_swapped",
      "gradcam_corner_share",
      "corner_area_share", "robustness", "passed", "findings", "part", "model",
    ] {
      #expect(j.keys.contains(key), "missing \(key)")
    }
    #expect(j["n"] as? Int == 10)
    #expect(((j["passed"] as? Bool) == true) == (r.status == 0))
    let rows = try #require(j["robustness"] as? [[String: Any]])
    #expect(rows.map { $0["shift"] as? String } == ColourShift.all.map(\.description))
    let text = try ModelCommandTests.run([
      "audit", "--model", model, "--data", ModelCommandTests.images, "--part", "test", "--colour-shift",
      "gray",
    ])
    #expect(text.out.contains("Flips when the corner is blanked") && text.out.contains("gray"), "\(text.err)")
    #expect(text.out.contains("PASS") || text.out.contains("FAIL"))
    let bad = try ModelCommandTests.run(["audit", "--model", model, "--data", dir + "/none"])
    #expect(bad.status != 0 && bad.err.contains(dir + "/none"), "\(bad.err)")
  }
}

/// Issue 10, part 5: `predict --all-cases` stores the model's colour check with each prediction,
/// and a strongly recoloured image is flagged while the training-like ones are not.
@Suite(.serialized) struct PredictColourTests {
  @Test func predictAllCasesStoresTheColourWarning() throws {
    let dir = ModelCommandTests.folder()
    let model = dir + "/m.safetensors"
    let t = try ModelCommandTests.run(
      [
        "train", "--data", ModelCommandTests.images, "--schema", "wbc5", "--tasks", "cls", "--epochs", "1",
        "--out", model,
      ]
        + ModelCommandTests.quick)
    #expect(t.status == 0, "\(t.err)")
    let meta = try ModelCheckpoint.metadata(of: try SafeTensorsFile.read(path: model))
    #expect(meta.colourReference != nil, "train fits a colour reference")
    // The lymphocytes as they are, and one of them with its channels rotated (R, G, B) → (B, R, G).
    let images = dir + "/images"
    try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
    let source = ModelCommandTests.images + "/lymphocyte"
    let names = try FileManager.default.contentsOfDirectory(atPath: source).filter { $0.hasSuffix(".png") }
      .sorted()
    for n in names { try FileManager.default.copyItem(atPath: source + "/" + n, toPath: images + "/" + n) }
    var odd = try decodeImage(at: source + "/" + names[0])
    for i in 0..<(odd.width * odd.height) {
      let (r, g, b) = (odd.pixels[3 * i], odd.pixels[3 * i + 1], odd.pixels[3 * i + 2])
      (odd.pixels[3 * i], odd.pixels[3 * i + 1], odd.pixels[3 * i + 2]) = (b, r, g)
    }
    try writePNG(odd, to: images + "/zz-recoloured.png")
    let ws = dir + "/ws"
    #expect(
      try ModelCommandTests.run(["init", "--workspace", ws, "--schema", "wbc5", "--no-model"]).status == 0)
    #expect(try ModelCommandTests.run(["import", "--workspace", ws, images]).status == 0)
    let p = try ModelCommandTests.run(["predict", "--all-cases", "--workspace", ws, "--model", model])
    #expect(p.status == 0, "\(p.err)")
    let store = try Workspace.open(path: ws)
    var flagged: [String] = []
    var checked = 0
    for c in try store.cases(limit: 1000, viewer: .system) {
      let pred = try #require(try store.prediction(case: c.id, viewer: .system))
      #expect(pred.colourDistance != nil && pred.colourUnusual != nil)
      checked += 1
      if pred.colourUnusual == true { flagged.append((c.path as NSString).lastPathComponent) }
    }
    // (Import keeps one case per distinct file: wbc-seg holds a few duplicates.)
    #expect(checked == (try store.caseCount()) && checked > names.count / 2)
    #expect(flagged.contains("zz-recoloured.png"), "flagged: \(flagged)")
    // The threshold is the 99th percentile of the validation split: almost no real image is over it.
    #expect(flagged.count <= 1 + names.count / 10, "flagged: \(flagged)")
  }
}
