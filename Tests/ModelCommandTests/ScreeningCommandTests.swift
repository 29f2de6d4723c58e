import Foundation
import Imaging
import MTACNN
import NeuralEngine
import Testing

/// Issue 17 through the real binary: `eval --set-operating-point` stores the threshold in the
/// checkpoint, `eval` reports sensitivity and specificity at it (checked against the counts
/// recomputed here from `predict`'s P(malignant) of every image), `--plots` draws the curves,
/// `predict` makes the screening call apart from the argmax, and a flat model has none.
///
/// The data are SampleData's white-cell crops filed under the four all4 folders: the model's
/// figures on them mean nothing, the plumbing and the arithmetic are what is checked.
@Suite(.serialized) struct ScreeningCommandTests {
  typealias M = ModelCommandTests

  /// 12 crops per all4 class folder, from four wbc-seg classes.
  static func data() throws -> String {
    let dir = M.folder() + "/all4-like"
    let pairs = [
      ("Benign", "neutrophil"), ("Early", "lymphocyte"), ("Pre", "monocyte"), ("Pro", "eosinophil"),
    ]
    for (target, source) in pairs {
      try FileManager.default.createDirectory(atPath: dir + "/" + target, withIntermediateDirectories: true)
      let files = try FileManager.default.contentsOfDirectory(atPath: M.images + "/" + source).sorted()
        .prefix(12)
      for f in files {
        try FileManager.default.copyItem(
          atPath: M.images + "/\(source)/\(f)", toPath: dir + "/\(target)/\(f)")
      }
    }
    return dir
  }

  /// Read exactly (`ExactJSON`): the thresholds below are compared for equality.
  static func json(_ s: String) throws -> [String: Any] {
    try #require(try ExactJSON.parse(s) as? [String: Any])
  }

  @Test func operatingPointChosenStoredReportedAndUsed() throws {
    let data = try Self.data()
    let model = M.folder() + "/all4.safetensors"
    try FileManager.default.copyItem(
      atPath: M.repository.appendingPathComponent("Models/all4.safetensors").path, toPath: model)
    // A model without a point first (the shipped one may carry one): eval and predict say so.
    try ModelCheckpoint.rewriteMetadata(path: model) { $0[OperatingPoint.metadataKey] = nil }
    let none = try M.run(["eval", "--model", model, "--data", data, "--split", "all", "--threads", "2"])
    #expect(none.status == 0, "\(none.err)")
    #expect(none.out.contains("Screening: no operating point in this checkpoint"), "\(none.out)")

    // Only on the validation split.
    let refused = try M.run(["eval", "--model", model, "--data", data, "--set-operating-point", "0.995"])
    #expect(refused.status != 0)
    #expect(refused.err.contains("--split val"), "\(refused.err)")

    let set = try M.run([
      "eval", "--model", model, "--data", data, "--split", "val", "--set-operating-point", "0.995", "--json",
      "--threads", "2",
    ])
    #expect(set.status == 0, "\(set.err)")
    let stored = try #require(
      try ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: model)).operatingPoint)
    #expect(stored.split == "val" && stored.targetSensitivity == 0.995)
    #expect(stored.command?.contains("--set-operating-point 0.995") == true)
    #expect(stored.sensitivity >= 0.995)
    let setScreening = try #require(try Self.json(set.out)["screening"] as? [String: Any])
    let reportedPoint = try #require(setScreening["operating_point"] as? [String: Any])
    #expect(reportedPoint["threshold"] as? Double == stored.threshold)

    // predict on every image: P(malignant), and the call, which must be P >= threshold.
    var images: [(path: String, malignant: Bool)] = []
    for cls in ["Benign", "Early", "Pre", "Pro"] {
      for f in try FileManager.default.contentsOfDirectory(atPath: data + "/" + cls).sorted() {
        images.append((data + "/\(cls)/\(f)", cls != "Benign"))
      }
    }
    let p = try M.run(["predict", "--model", model, "--json", "--threads", "2"] + images.map(\.path))
    #expect(p.status == 0, "\(p.err)")
    let preds = try #require(try ExactJSON.parse(p.out) as? [[String: Any]])
    #expect(preds.count == images.count)
    var pm: [Double] = []
    for r in preds {
      let x = try #require(r["p_malignant"] as? Double)
      pm.append(x)
      let s = try #require(r["screening"] as? [String: Any])
      #expect(s["possibly_malignant"] as? Bool == (x >= stored.threshold))
      #expect((s["note"] as? String)?.contains("separate from the predicted class") == true)
    }
    // The threshold is the P(malignant) of a malignant image (the k-th highest on validation;
    // computed there in other batches, so equal up to the last bits of a float).
    #expect(zip(pm, images).contains { abs($0.0 - stored.threshold) < 1e-5 && $0.1.malignant })

    // eval on every image: its counts at the point, recomputed here from predict's values (the
    // same images in the same order and batches of 16, so the same floats).
    let plots = M.folder() + "/plots"
    let e = try M.run([
      "eval", "--model", model, "--data", data, "--split", "all", "--json", "--plots", plots, "--threads",
      "2",
    ])
    #expect(e.status == 0, "\(e.err)")
    let sc = try #require(try Self.json(e.out)["screening"] as? [String: Any])
    let at = try #require(sc["at_operating_point"] as? [String: Any])
    var caught = 0
    var missed = 0
    var alarms = 0
    var cleared = 0
    for (x, im) in zip(pm, images) {
      switch (im.malignant, x >= stored.threshold) {
      case (true, true): caught += 1
      case (true, false): missed += 1
      case (false, true): alarms += 1
      case (false, false): cleared += 1
      }
    }
    #expect(at["caught"] as? Int == caught && at["missed"] as? Int == missed)
    #expect(at["false_alarms"] as? Int == alarms && at["cleared"] as? Int == cleared)
    #expect(abs((at["sensitivity"] as? Double ?? -1) - Double(caught) / 36) < 1e-12)
    #expect(abs((at["specificity"] as? Double ?? -1) - Double(cleared) / 12) < 1e-12)
    for name in ["roc.png", "pr.png"] {
      let im = try decodeImage(at: plots + "/" + name)
      #expect(im.width == 720 && im.height == 640)
    }
    // The text report says what the call is and its counts.
    let text = try M.run(["eval", "--model", model, "--data", data, "--split", "all", "--threads", "2"])
    #expect(text.out.contains("\"possibly malignant\" when P(malignant) >="), "\(text.out)")
    #expect(text.out.contains("\(caught) of 36 malignant caught"), "\(text.out)")
    let one = try M.run(["predict", "--model", model, images[0].path, "--threads", "2"])
    #expect(one.out.contains("screening: "), "\(one.out)")
  }

  /// A trained (or retrained) hierarchical model carries its own point, chosen on its
  /// validation split at the end of training; eval on that split confirms it.
  @Test func trainingStoresTheOperatingPoint() throws {
    let data = try Self.data()
    let out = M.folder() + "/trained.safetensors"
    let t = try M.run(
      ["train", "--data", data, "--schema", "all4", "--tasks", "cls", "--epochs", "1", "--out", out] + M.quick
    )
    #expect(t.status == 0, "\(t.err)")
    let op = try #require(try ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: out)).operatingPoint)
    #expect(op.command?.contains("end of training") == true && op.split == "val")
    let e = try M.run(["eval", "--model", out, "--data", data, "--split", "val", "--json", "--threads", "2"])
    #expect(e.status == 0, "\(e.err)")
    let at = try #require(
      (try Self.json(e.out)["screening"] as? [String: Any])?["at_operating_point"] as? [String: Any])
    #expect(at["missed"] as? Int == 0)
    #expect(at["malignant"] as? Int == op.malignant && at["benign"] as? Int == op.benign)
  }

  /// `--min-specificity`: the point spends the validation false-alarm budget (never above the
  /// sensitivity rule's threshold), says its rule wherever it is shown, and a model trained from
  /// it chooses its own point by the same rule.
  @Test func specificityFloorStoredShownAndInherited() throws {
    let data = try Self.data()
    let model = M.folder() + "/all4.safetensors"
    try FileManager.default.copyItem(
      atPath: M.repository.appendingPathComponent("Models/all4.safetensors").path, toPath: model)
    let lone = try M.run([
      "eval", "--model", model, "--data", data, "--split", "val", "--min-specificity", "0.9",
    ])
    #expect(
      lone.status != 0 && lone.err.contains("--min-specificity needs --set-operating-point"), "\(lone.err)")
    let base = [
      "eval", "--model", model, "--data", data, "--split", "val", "--threads", "2", "--set-operating-point",
    ]
    let a = try M.run(base + ["0.995"])
    #expect(a.status == 0, "\(a.err)")
    let plain = try #require(
      try ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: model)).operatingPoint)
    let b = try M.run(base + ["0.995", "--min-specificity", "0.5"])
    #expect(b.status == 0, "\(b.err)")
    let floor = try #require(
      try ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: model)).operatingPoint)
    #expect(floor.minSpecificity == 0.5 && floor.threshold <= plain.threshold)
    #expect(floor.specificity >= 0.5 || floor.threshold == plain.threshold)
    #expect(b.out.contains("for sensitivity >= 0.995, specificity >= 0.500"), "\(b.out)")
    let p = try M.run([
      "predict", "--model", model, "--json",
      data + "/Benign/" + (try FileManager.default.contentsOfDirectory(atPath: data + "/Benign").sorted()[0]),
    ])
    let r = try #require(
      (try JSONSerialization.jsonObject(with: Data(p.out.utf8)) as? [[String: Any]])?.first)
    let sc = try #require(r["screening"] as? [String: Any])
    #expect(sc["min_specificity"] as? Double == 0.5)
    #expect((sc["note"] as? String)?.contains("specificity >= 0.500") == true)

    let out = M.folder() + "/child.safetensors"
    let t = try M.run(
      [
        "train", "--data", data, "--init", model, "--tasks", "cls,seg", "--freeze", "seg", "--epochs", "1",
        "--out", out,
      ]
        + M.quick.filter { $0 != "32" && $0 != "--size" })
    #expect(t.status == 0, "\(t.err)")
    let child = try #require(try ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: out)).operatingPoint)
    #expect(child.minSpecificity == 0.5 && child.targetSensitivity == 0.995)
    #expect(child.command?.contains("specificity >= 0.5") == true)
  }

  @Test func aFlatModelHasNoOperatingPoint() throws {
    let model = M.folder() + "/wbc5.safetensors"
    try FileManager.default.copyItem(
      atPath: M.repository.appendingPathComponent("Models/wbc5.safetensors").path, toPath: model)
    let e = try M.run([
      "eval", "--model", model, "--data", M.images, "--split", "val", "--set-operating-point", "0.995",
      "--threads", "2",
    ])
    #expect(e.status != 0)
    #expect(e.err.contains("flat model"), "\(e.err)")
    #expect(try ModelCheckpoint.metadata(of: SafeTensorsFile.read(path: model)).operatingPoint == nil)
    let plots = try M.run([
      "eval", "--model", model, "--data", M.images, "--split", "val", "--plots", M.folder(), "--threads", "2",
    ])
    #expect(plots.status != 0)
    #expect(plots.err.contains("no malignant group"), "\(plots.err)")
    let p = try M.run(["predict", "--model", model, M.images + "/lymphocyte/001.png", "--json"])
    let r = try #require(
      (try JSONSerialization.jsonObject(with: Data(p.out.utf8)) as? [[String: Any]])?.first)
    #expect(r["screening"] == nil && r["p_malignant"] == nil)
  }
}
