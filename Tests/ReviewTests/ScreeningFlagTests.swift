import CaseStore
import Foundation
import MTACNN
import Testing

@testable import Review
@testable import Terminal

/// Issue 17 on the review screens: the promoted model's screening operating point gives the
/// "possibly malignant" flag in the case view and the `*` filter in the browser, apart from
/// the predicted class; a model without one says so instead of inventing a threshold.
@Suite struct ScreeningFlagTests {
  /// The shipped all4 checkpoint copied, with an operating point at `threshold` written into
  /// it (nil: with none, as an older checkpoint).
  static func model(in dir: URL, threshold: Double?) throws -> String {
    let path = dir.appendingPathComponent("all4-\(UUID().uuidString).safetensors").path
    try FileManager.default.copyItem(
      atPath: repository.appendingPathComponent("Models/all4.safetensors").path, toPath: path)
    let op = threshold.map {
      OperatingPoint(
        threshold: $0, targetSensitivity: 0.995, sensitivity: 1, specificity: 0.9, malignant: 10, benign: 10,
        split: "val")
    }
    try ModelCheckpoint.rewriteMetadata(path: path) { $0[OperatingPoint.metadataKey] = op?.encoded() }
    return path
  }

  /// Predictions for cases 1-3 by hand: P(malignant) 0.4 (argmax Benign), 0.1, 0.9.
  static func app(threshold: Double?) throws -> (ReviewApp, CaseStore, URL) {
    let (_, store, dir) = try makeApp()
    let v = try store.registerModel(
      file: try model(in: dir, threshold: threshold), parent: nil, tasks: ["classification", "segmentation"],
      trainedTasks: ["classification", "segmentation"], frozenTasks: [])
    try store.savePredictions(
      [
        NewPrediction(caseID: 1, probabilities: [0.6, 0.3, 0.05, 0.05]),
        NewPrediction(caseID: 2, probabilities: [0.9, 0.05, 0.03, 0.02]),
        NewPrediction(caseID: 3, probabilities: [0.1, 0.8, 0.05, 0.05]),
      ], model: v.version)
    try store.promote(version: v.version)
    let app = try ReviewApp(
      store: store, rater: "alice", session: nil, rows: 40, columns: 120, graphics: false)
    app.begin()
    return (app, store, dir)
  }

  @Test func filterAndFlagFollowTheOperatingPoint() throws {
    let (app, _, dir) = try Self.app(threshold: 0.25)
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(app.state.screening?.threshold == 0.25)
    app.dispatch(key("*"))
    #expect(app.state.filter.pMalignantAtLeast == 0.25)
    #expect(app.state.page?.rows.map(\.id) == [1, 3])
    #expect(app.frame.text(row: 1).contains("possibly malignant (P>=0.25)"))
    // Case 1: the predicted class is Benign, the screening call is possibly malignant.
    app.dispatch(key(.enter))
    #expect(app.state.screen == .caseView)
    let screen = (0..<40).map { app.frame.text(row: $0) }.joined(separator: "\n")
    #expect(screen.contains("Benign 0.60"), "\(screen)")
    #expect(screen.contains("POSSIBLY MALIGNANT (screening)"), "\(screen)")
    app.dispatch(key(.escape))
    app.dispatch(key("*"))
    #expect(app.state.filter.pMalignantAtLeast == nil)
    #expect(app.state.page?.rows.count == 20)
    // Case 2 (P 0.1) is below the point: no flag.
    app.dispatch(key(.enter))
    app.dispatch(key("n"))
    #expect(app.state.detail?.record.id == 2)
    let second = (0..<40).map { app.frame.text(row: $0) }.joined(separator: "\n")
    #expect(second.contains("Screening: below 0.25"), "\(second)")
    #expect(!second.contains("POSSIBLY MALIGNANT"))
    // The help explains the filter key.
    app.dispatch(key(.escape))
    app.dispatch(key("?"))
    let help = (0..<40).map { app.frame.text(row: $0) }.joined(separator: "\n")
    #expect(help.contains("possibly malignant"), "\(help)")
  }

  @Test func aModelWithoutAnOperatingPointSaysSo() throws {
    let (app, _, dir) = try Self.app(threshold: nil)
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(app.state.screening != nil && app.state.screening?.threshold == nil)
    app.dispatch(key("*"))
    #expect(app.state.filter.pMalignantAtLeast == nil)
    #expect(app.state.status?.text.contains("has no screening operating point") == true)
    app.dispatch(key(.enter))
    let screen = (0..<40).map { app.frame.text(row: $0) }.joined(separator: "\n")
    #expect(screen.contains("Screening: no operating point"), "\(screen)")
    #expect(!screen.contains("POSSIBLY MALIGNANT"))
  }
}
