import Foundation
import MTACNN
import NeuralEngine
import Testing

/// Issue 17's train options through the binary: recorded in the checkpoint's training record,
/// the recalibrated validation figures printed and kept per epoch, and bad values refused by name.
@Suite struct TrainInstabilityOptionsCommandTests {
  typealias M = ModelCommandTests

  @Test func optionsAreRecordedAndRecalibrationIsReported() throws {
    let dir = M.folder()
    let out = dir + "/weighted.safetensors"
    let r = try M.run(
      [
        "train", "--data", M.images, "--schema", "wbc5", "--tasks", "cls", "--epochs", "1", "--out", out,
        "--dropout-order", "after-norm", "--bn-recalibration", "report", "--bn-recalibration-batches", "1",
        "--class-weights", "lymphocyte=2,basophil=0",
      ] + M.quick)
    #expect(r.status == 0, "\(r.err)")
    #expect(r.out.contains("recalibrated BN: val loss"))
    #expect(r.err.contains("class weights: neutrophil=1, lymphocyte=2, monocyte=1, eosinophil=1, basophil=0"))
    let meta = try ModelCheckpoint.metadata(of: try SafeTensorsFile.read(path: out))
    #expect((meta.trainingValue("dropout_order") as? String) == "after-norm")
    #expect((meta.trainingValue("bn_recalibration") as? String) == "report")
    #expect((meta.trainingValue("class_weights") as? [Double]) == [1, 2, 1, 1, 0])
    let history = try #require(meta.trainingValue("history") as? [[String: Any]])
    #expect(history.first?["val_accuracy_recalibrated"] is Double)
  }

  @Test func badValuesAreRefusedByName() throws {
    let dir = M.folder()
    let base = [
      "train", "--data", M.images, "--schema", "wbc5", "--tasks", "cls", "--out", dir + "/x.safetensors",
    ]
    let a = try M.run(base + ["--class-weights", "lymphocite=2"] + M.quick)
    #expect(a.status != 0 && a.err.contains("\"lymphocite\" is not a class of wbc5"), "\(a.err)")
    let b = try M.run(base + ["--dropout-order", "sideways"] + M.quick)
    #expect(
      b.status != 0 && b.err.contains("--dropout-order must be before-norm or after-norm, got sideways"))
    let c = try M.run(base + ["--bn-recalibration", "always"] + M.quick)
    #expect(c.status != 0 && c.err.contains("--bn-recalibration must be off, report or apply"))
    #expect(!FileManager.default.fileExists(atPath: dir + "/x.safetensors"))
  }
}
