import Foundation
import GRDB

/// What one model version predicted over the whole workspace: `predict --all-cases` prints it
/// so the user sees the result without opening the review screen.
public struct PredictionSummary: Sendable, Equatable, Codable {
  /// Cases per predicted class, in the label schema's order (classes never predicted: 0).
  public var counts: [ClassCount]
  /// Cases whose colour is unlike the model's training images (issue 10), in id order.
  public var colourOutliers: [Int64]

  public struct ClassCount: Sendable, Equatable, Codable {
    public var label: String
    public var letter: String
    public var cases: Int
  }
}

extension CaseStore {
  /// The predictions of model `version`, counted by class, and the colour outliers among them.
  public func predictionSummary(model version: Int64) throws(StoreError) -> PredictionSummary {
    let schema = labelSchema
    return try read { db in
      var byLabel: [String: Int] = [:]
      let rows = try Row.fetchAll(
        db, sql: "SELECT label, COUNT(*) AS n FROM prediction WHERE model_version = ? GROUP BY label",
        arguments: [version])
      for row in rows { byLabel[row["label"]] = row["n"] }
      let outliers = try Int64.fetchAll(
        db,
        sql: "SELECT case_id FROM prediction WHERE model_version = ? AND colour_unusual = 1 ORDER BY case_id",
        arguments: [version])
      return PredictionSummary(
        counts: schema.classes.map {
          PredictionSummary.ClassCount(label: $0.name, letter: $0.letter, cases: byLabel[$0.name] ?? 0)
        },
        colourOutliers: outliers)
    }
  }
}
