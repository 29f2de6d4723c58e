import Agreement
import CaseStore

/// The promoted model against the consensus label of a session's cases, with the paper's
/// metrics (accuracy; per class and macro precision, recall, F1, specificity, NPV; Cohen's
/// kappa): Agreement's `ClassificationReport`, the code behind `blastview eval`, so the two
/// report a model the same way. Rows of the confusion matrix are the consensus, columns the
/// model.
///
/// Only what the viewer may see enters: predictions hidden by `--hide-model` are counted in
/// `hiddenPredictions` and left out, as are labels hidden by blinding (the consensus is taken
/// over the visible labels).
public struct ModelAgreement: Sendable, Equatable {
  /// The promoted model; nil when no model is promoted.
  public let modelVersion: Int64?
  /// Cases with both a consensus label and a visible prediction (the metrics' items).
  public let n: Int
  /// Cases with a visible label but no consensus (a tie, or a single rater's label).
  public let noConsensus: Int
  /// Consensus cases without a prediction of the promoted model.
  public let withoutPrediction: Int
  /// Session cases whose prediction the viewer may not see yet.
  public let hiddenPredictions: Int
  /// Cases whose consensus is an adjudicated label.
  public let adjudicated: Int
  /// nil when n is 0 (nothing to compare).
  public let report: ClassificationReport?

  /// The consensus of a case: its adjudicated label when it has one; otherwise the label a
  /// strict majority of at least two raters gave. A single rater's label is no consensus (the
  /// model would be compared with one opinion), and neither is a tie.
  public static func consensus(labels: [String], adjudicated: String?) -> String? {
    if let adjudicated { return adjudicated }
    guard labels.count >= 2 else { return nil }
    var counts: [String: Int] = [:]
    for l in labels { counts[l, default: 0] += 1 }
    guard let (label, n) = counts.max(by: { $0.value < $1.value }), n * 2 > labels.count else { return nil }
    return label
  }

  static func compute(
    store: CaseStore, session: String, viewer: Viewer, labels: [RaterLabel], categories: [String]
  ) throws(SessionAgreementError) -> ModelAgreement {
    let predictions: SessionPredictions
    let adjudications: [Int64: String]
    do {
      predictions = try store.sessionPredictions(session: session, viewer: viewer)
      adjudications = try store.sessionAdjudications(session: session, viewer: viewer)
    } catch {
      throw .store(error)
    }
    var byCase: [Int64: [String]] = [:]
    for l in labels { byCase[l.caseID, default: []].append(l.label) }
    for c in adjudications.keys where byCase[c] == nil { byCase[c] = [] }
    var matrix = ConfusionMatrix(k: categories.count)
    var n = 0
    var noConsensus = 0
    var withoutPrediction = 0
    var adjudicated = 0
    for c in byCase.keys.sorted() {
      guard let truth = consensus(labels: byCase[c]!, adjudicated: adjudications[c]) else {
        noConsensus += 1
        continue
      }
      guard let predicted = predictions.labels[c] else {
        withoutPrediction += 1
        continue
      }
      guard let t = categories.firstIndex(of: truth), let p = categories.firstIndex(of: predicted) else {
        throw .input(
          "case \(c): label '\(truth)' or prediction '\(predicted)' is not one of the categories "
            + categories.joined(separator: ", "))
      }
      if adjudications[c] != nil { adjudicated += 1 }
      matrix[t, p] += 1
      n += 1
    }
    return ModelAgreement(
      modelVersion: predictions.modelVersion, n: n, noConsensus: noConsensus,
      withoutPrediction: withoutPrediction, hiddenPredictions: predictions.hidden, adjudicated: adjudicated,
      report: n > 0 ? ClassificationReport(classes: categories, matrix: matrix) : nil)
  }
}
