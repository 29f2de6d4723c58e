import CaseStore
import Foundation
import MTACNN
import NeuralEngine
import Testing

/// Issue 15, item 5 through the real binary: `predict --all-cases --model nan.safetensors
/// --promote` used to promote the model first and fail after, leaving the workspace with a
/// promoted model that has no predictions (the browser's filters and triage empty, every review
/// restarting the failing predictor). A model is promoted only after its predictions are stored;
/// the failure leaves the previous model promoted, says why, and is recorded for review apps.
@Suite(.serialized) struct NaNModelPromotionTests {
  typealias M = ModelCommandTests

  /// A tiny wbc5 classifier; with `nan`, one bias of its head is NaN, so every probability is.
  static func tinyModel(nan: Bool, at path: String) throws {
    var c = ModelConfiguration.defaults(for: .wbc5, size: 32)
    c.tasks = ["cls"]
    c.ttcFrom = ["cls": []]
    c.channels = [4, 4, 4, 4]
    let model = try MTACNNModel(configuration: c, seed: nan ? 2 : 1)
    if nan {
      let bias = try #require(
        model.store.parameters.first { $0.name.hasPrefix("cls.head") && $0.name.hasSuffix("bias") })
      bias.value.data[0] = .nan
    }
    try model.save(to: path)
  }

  /// A workspace of SampleData images (up to two per class).
  static func workspace(in dir: String) throws -> String {
    let images = dir + "/images"
    for cls in try FileManager.default.contentsOfDirectory(atPath: M.images).sorted() {
      let files = try FileManager.default.contentsOfDirectory(atPath: M.images + "/" + cls).sorted().prefix(2)
      try FileManager.default.createDirectory(atPath: images + "/" + cls, withIntermediateDirectories: true)
      for f in files {
        try FileManager.default.copyItem(atPath: M.images + "/\(cls)/\(f)", toPath: images + "/\(cls)/\(f)")
      }
    }
    let ws = dir + "/ws"
    #expect(try M.run(["init", "--workspace", ws, "--schema", "wbc5", "--no-model"]).status == 0)
    let imported = try M.run(["import", "--workspace", ws, images, "--labels-from-folders"])
    #expect(imported.status == 0, "\(imported.err)")
    return ws
  }

  @Test func aModelThatPredictsNaNIsNeverPromoted() throws {
    let dir = M.folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ws = try Self.workspace(in: dir)
    let good = dir + "/good.safetensors"
    let bad = dir + "/nan.safetensors"
    try Self.tinyModel(nan: false, at: good)
    try Self.tinyModel(nan: true, at: bad)

    let first = try M.run([
      "predict", "--all-cases", "--workspace", ws, "--model", good, "--promote", "--threads", "1",
    ])
    #expect(first.status == 0, "\(first.err)")
    var store = try Workspace.open(path: ws)
    let v1 = try #require(try store.promotedModel()).version
    let total = try store.caseCount()
    #expect(total >= 5)
    #expect(try store.predictionCoverage(model: v1) == (total, total))
    try store.close()

    let second = try M.run([
      "predict", "--all-cases", "--workspace", ws, "--model", bad, "--promote", "--threads", "1",
    ])
    #expect(second.status == 1, "\(second.out)\(second.err)")
    #expect(second.err.contains("was not promoted"), "\(second.err)")
    #expect(second.err.contains("v\(v1) stays promoted"), "\(second.err)")
    store = try Workspace.open(path: ws)
    #expect(try store.promotedModel()?.version == v1)
    // The browser still shows v1's predictions for every case.
    #expect(try store.predictionCoverage(model: v1) == (total, total))
    let v2 = try #require(try store.models().first { $0.version != v1 }).version
    #expect(try store.predictionFailure(model: v2) != nil)
    #expect(try store.predictionCoverage(model: v2).predicted == 0)
    try store.close()
  }

  @Test func theFirstModelOfAWorkspaceIsAlsoPromotedOnlyAfterItsPredictions() throws {
    let dir = M.folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let ws = try Self.workspace(in: dir)
    let bad = dir + "/nan.safetensors"
    try Self.tinyModel(nan: true, at: bad)
    let r = try M.run(["predict", "--all-cases", "--workspace", ws, "--model", bad, "--threads", "1"])
    #expect(r.status == 1)
    #expect(r.err.contains("was not promoted") && r.err.contains("no model is promoted"), "\(r.err)")
    let store = try Workspace.open(path: ws)
    #expect(try store.promotedModel() == nil)
    try store.close()
  }
}
