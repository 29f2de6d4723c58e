import CaseStore
import Foundation
import Imaging
import MTACNN

/// Fills a workspace's predictions for one model version: every case without one, in pages of
/// 64 committed one page at a time, so a review app sees the badges change as they arrive.
/// `predict --all-cases` and a retraining job after a promotion both run this.
public enum WorkspacePredictions {
  public struct Summary: Sendable {
    public var predicted = 0
    public var skipped = 0
  }

  /// Predicts every case with `version` first and promotes it only when that succeeded (issue
  /// 15, item 5): a model whose predictions cannot be stored (NaN or infinite probabilities,
  /// the wrong class count) is never promoted, the previous model stays promoted, and the
  /// failure is recorded so review apps show it instead of restarting the predictor. Returns
  /// the fill's summary; throws, saying why and what stays promoted, when it did not promote.
  public static func fillThenPromote(
    store: any RetrainingStore, version: ModelVersion, net: MTACNNModel, batch: Int,
    colourReference: ColourOutlierDetector? = nil, by: String, reason: String,
    progress: (Int, Int) -> Void = { _, _ in }, shouldStop: () -> Bool = { false },
    skipped: (String) -> Void
  ) throws(WorkflowError) -> Summary {
    let summary: Summary
    do {
      summary = try fill(
        store: store, version: version, net: net, batch: batch, colourReference: colourReference,
        progress: progress, shouldStop: shouldStop, skipped: skipped)
    } catch {
      try? store.recordPredictionFailure(model: version.version, message: error.message)
      throw notPromoted(store, version, because: error.message)
    }
    if shouldStop() {
      throw notPromoted(store, version, because: "predicting was stopped before every case had a prediction")
    }
    do {
      try store.clearPredictionFailure(model: version.version)
      try store.promote(version: version.version, by: by, reason: reason)
    } catch { throw WorkflowError(error) }
    return summary
  }

  private static func notPromoted(_ store: any RetrainingStore, _ version: ModelVersion, because why: String)
    -> WorkflowError
  {
    let current =
      (try? store.promotedModel())?.map { "v\($0.version) stays promoted" } ?? "no model is promoted"
    return WorkflowError("model v\(version.version) was not promoted: \(why); \(current)")
  }

  /// `progress(done, total)` after every page; `shouldStop` is polled between pages; `skipped`
  /// gets one line per case whose image cannot be read (it stays without a prediction).
  public static func fill(
    store: any RetrainingStore, version: ModelVersion, net: MTACNNModel, batch: Int,
    colourReference: ColourOutlierDetector? = nil,
    progress: (Int, Int) -> Void = { _, _ in }, shouldStop: () -> Bool = { false },
    skipped: (String) -> Void
  ) throws(WorkflowError) -> Summary {
    guard net.classCount == store.labelSchema.classes.count else {
      throw WorkflowError(
        "the model predicts \(net.classCount) classes, the workspace's schema \(store.labelSchema.name) has \(store.labelSchema.classes.count)"
      )
    }
    // The model's colour check (issue 10) is stored with each prediction when it has one.
    let predictor = Predictor(model: net, batchSize: batch, colourReference: colourReference)
    var failedCases: Set<Int64> = []
    var summary = Summary()
    var total = 0
    while !shouldStop() {
      let ids: [Int64]
      do {
        ids = try store.casesMissingPrediction(model: version.version, limit: 64 + failedCases.count)
      } catch { throw WorkflowError(error) }
      // Cases that failed to decode stay "missing": stop when a page brings nothing new.
      let todo = ids.filter { !failedCases.contains($0) }
      if todo.isEmpty { break }
      if total == 0 { total = (try? store.caseCount()) ?? 0 }
      var decoded: [(Int64, RGBImage)] = []
      for id in todo {
        do {
          let rec = try store.caseRecord(id: id, viewer: .system)
          decoded.append((id, try store.trainingImage(rec)))
        } catch {
          skipped("skipped case \(id): \(error)")
          failedCases.insert(id)
          summary.skipped += 1
        }
      }
      let preds = predictor.predict(decoded.map(\.1))
      let rows = zip(decoded, preds).map { (c, p) in
        NewPrediction(
          caseID: c.0, probabilities: p.probabilities ?? [], mask: p.nucleusMask,
          detections: p.detections.map { StoredDetection(box: $0.box, score: $0.score) },
          colourDistance: p.colourDistance, colourUnusual: p.colourUnusual)
      }
      do { try store.savePredictions(rows, model: version.version) } catch { throw WorkflowError(error) }
      summary.predicted += rows.count
      progress(summary.predicted, max(total, summary.predicted))
    }
    return summary
  }
}
