import CaseStore
import Foundation
import Imaging
import TestSupport
import Testing
import Workflows

@testable import MTACNN

/// Issue 18, item 5: a retrain that trained segmentation while no validation case had a mask
/// printed "val loss 0.0000" every epoch (the mask loss over no masks), which read as a perfect
/// fit. The epoch line says "no validation masks" instead, in `blastview train`'s output.
@Suite(.serialized) struct NoValidationMasksTests {
  static func record(loss: Double?, f1: Double?, dice: Double?) -> EpochRecord {
    EpochRecord(
      epoch: 1, epochs: 2, trainLoss: 0.5, validationLoss: loss, validationAccuracy: f1,
      validationMacroF1: f1,
      validationDice: dice, learningRate: 0.001, seconds: 1, imagesPerSecond: 10, improved: true)
  }

  @Test func theEpochLineSaysWhatTheValidationLossMeasured() {
    // Both tasks have validation data: the loss as before.
    #expect(
      ValidationLossText.text(Self.record(loss: 0.41234, f1: 0.5, dice: 0.7), trained: [.cls, .seg])
        == "val loss 0.4123")
    // Segmentation alone with no validation mask: the loss (0) measures nothing.
    #expect(
      ValidationLossText.text(Self.record(loss: 0, f1: 0.5, dice: nil), trained: [.seg])
        == "val loss: none (no validation masks)")
    #expect(
      ValidationLossText.meaningfulLoss(Self.record(loss: 0, f1: 0.5, dice: nil), trained: [.seg]) == nil)
    // Both trained, masks missing: the loss is the classification part only, and says so.
    #expect(
      ValidationLossText.text(Self.record(loss: 0.8, f1: 0.5, dice: nil), trained: [.cls, .seg])
        == "val loss 0.8000 (classification only: no validation masks)")
    #expect(
      ValidationLossText.meaningfulLoss(Self.record(loss: 0.8, f1: 0.5, dice: nil), trained: [.cls, .seg])
        == 0.8)
    // Classification with no labelled validation case.
    #expect(
      ValidationLossText.text(Self.record(loss: 0, f1: nil, dice: 0.9), trained: [.cls])
        == "val loss: none (no labelled validation cases)")
    // A frozen task's missing data do not matter.
    #expect(
      ValidationLossText.text(Self.record(loss: 0.3, f1: 0.5, dice: nil), trained: [.cls])
        == "val loss 0.3000")
    // No validation data at all: nothing is said (as before).
    #expect(ValidationLossText.text(Self.record(loss: nil, f1: nil, dice: nil), trained: [.seg]) == nil)
  }

  /// A workspace of 32 synthetic all4 cases labelled from their folders, without imported masks;
  /// alice draws the nucleus mask of every training-split case, so segmentation has training
  /// masks and its validation split has none. `promote`: a model to register and promote (v1)
  /// before she draws them, so her masks are corrections to retrain on.
  static func workspaceWithTrainingMasksOnly(promote model: ((String, String) throws -> String)? = nil) throws
    -> String
  {
    let dir = Synthetic.folder("no-val-masks")
    let images = dir + "/images"
    let masks = dir + "/masks"
    try FileManager.default.createDirectory(atPath: masks, withIntermediateDirectories: true)
    for (k, name) in Synthetic.classes.enumerated() {
      try FileManager.default.createDirectory(atPath: images + "/" + name, withIntermediateDirectories: true)
      for i in 0..<8 {
        let (image, mask) = Synthetic.image(class: k, index: i)
        try writePNG(image, to: images + "/\(name)/c\(k)_\(i).png")
        try writePNG(mask, to: masks + "/c\(k)_\(i).png")
      }
    }
    let ws = dir + "/ws"
    #expect(try Synthetic.run(["init", "--workspace", ws, "--schema", "all4", "--no-model"]).status == 0)
    let imp = try Synthetic.run(["import", "--workspace", ws, images, "--labels-from-folders"])
    #expect(imp.status == 0, "\(imp.err)")
    if let model {
      let file = try model(images, masks)
      let p = try Synthetic.run([
        "predict", "--all-cases", "--workspace", ws, "--model", file, "--threads", "2",
      ])
      #expect(p.status == 0, "\(p.err)")
    }
    let store = try Workspace.open(path: ws)
    defer { try? store.close() }
    let cases = try store.cases(limit: 1000, viewer: .system)
    #expect(cases.contains { $0.split == .val }, "the split has validation cases")
    for c in cases where c.split == .train {
      let index = Int(String((c.path as NSString).lastPathComponent.dropFirst(3).prefix { $0 != "." }))!
      try store.annotate(
        case: c.id, rater: "alice", mask: Synthetic.image(class: Synthetic.classIndex(c), index: index).1)
    }
    return ws
  }

  @Test func trainSaysNoValidationMasksInsteadOfALossOfZero() throws {
    let ws = try Self.workspaceWithTrainingMasksOnly()
    let out = Synthetic.folder("no-val-masks-out")
    let quick = [
      "--from-workspace", "--workspace", ws, "--size", "32", "--epochs", "2", "--batch", "8", "--max-batches",
      "2", "--threads", "2", "--seed", "1", "--blank-corner", "off",
    ]
    let seg = try Synthetic.run(["train", "--tasks", "seg", "--out", out + "/seg.safetensors"] + quick)
    #expect(seg.status == 0, "\(seg.err)")
    let epochs = seg.out.split(separator: "\n").filter { $0.hasPrefix("epoch ") }
    #expect(epochs.count == 2, "\(seg.out)")
    for line in epochs {
      #expect(line.contains("val loss: none (no validation masks)"), "\(line)")
      #expect(!line.contains("val loss 0.0000"), "\(line)")
    }
    #expect(!seg.out.contains("val loss 0.0000"), "\(seg.out)")
    // Both tasks: the loss printed is classification's, and the line says so.
    let both = try Synthetic.run(["train", "--tasks", "cls,seg", "--out", out + "/both.safetensors"] + quick)
    #expect(both.status == 0, "\(both.err)")
    let first = try #require(both.out.split(separator: "\n").first { $0.hasPrefix("epoch 1/2") })
    #expect(first.contains("(classification only: no validation masks)"), "\(first)")
  }

  /// A retraining job on mask corrections when the validation cases have no masks: its log
  /// says so, and the curves the model screen draws keep no validation loss but the reason.
  @Test func aRetrainingJobStoresWhyItsSegmentationHasNoValidationLoss() throws {
    let base = Synthetic.folder("no-val-masks-base") + "/base.safetensors"
    let ws = try Self.workspaceWithTrainingMasksOnly { _, masks in
      // `train --data` reads all4's folder names (Early, Pre, Pro), the workspace its labels.
      let images = Synthetic.folder("no-val-masks-data")
      for (k, name) in ["Benign", "Early", "Pre", "Pro"].enumerated() {
        try FileManager.default.createDirectory(
          atPath: images + "/" + name, withIntermediateDirectories: true)
        for i in 0..<8 {
          try writePNG(Synthetic.image(class: k, index: i).0, to: images + "/\(name)/c\(k)_\(i).png")
        }
      }
      let t = try Synthetic.run([
        "train", "--data", images, "--masks", masks, "--schema", "all4", "--tasks", "cls,seg", "--size", "32",
        "--epochs", "1", "--batch", "8", "--max-batches", "2", "--threads", "2", "--seed", "1",
        "--blank-corner",
        "off", "--out", base,
      ])
      #expect(t.status == 0, "\(t.err)")
      return base
    }
    let q = try Synthetic.run([
      "train", "--queue", "--workspace", ws, "--epochs", "2", "--batch", "8", "--max-batches", "2", "--json",
    ])
    #expect(q.status == 0, "\(q.err)")
    let queued = try RetrainingTests.json(q.out)
    #expect((queued["tasks"] as? [String])?.contains("seg") == true, "\(queued)")
    let r = try Synthetic.run([
      "train", "--job", String(try #require(queued["job"] as? Int)), "--workspace", ws, "--threads", "2",
    ])
    #expect(r.status == 0, "\(r.err)")
    let segLines = r.out.split(separator: "\n").filter { $0.contains(" seg epoch ") }
    #expect(segLines.count == 2, "\(r.out)")
    for line in segLines {
      #expect(line.contains("val loss: none (no validation masks)"), "\(line)")
      #expect(!line.contains("val loss 0.0000"), "\(line)")
    }
    let store = try Workspace.open(path: ws)
    defer { try? store.close() }
    let v2 = try #require(try store.models().first { $0.parent != nil })
    guard case .array(let curves)? = v2.metrics["curves"] else {
      Issue.record("no curves in \(v2.metrics)")
      return
    }
    let seg = curves.filter { $0["task"] == .string("seg") }
    #expect(seg.count == 2)
    for point in seg {
      #expect(point["val_loss"] == nil, "\(point)")
      #expect(point["val_missing"] == .string("no validation masks"), "\(point)")
    }
  }
}
