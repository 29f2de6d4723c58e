import CaseStore
import Foundation
import Terminal
import Workflows

// Predictions in the background (issue 7's status line): when the promoted model has not yet
// predicted every case (a model just promoted, cases just imported), the app starts one
// `blastview predict --all-cases` process, which commits a page of 64 predictions at a time.
// The browser's badges change as the pages arrive (another process's commits refresh the
// screen), and the status line says how far it is. The app never predicts on its own thread.

/// How far the promoted model's predictions are, as last read from the store.
public struct PredictionCoverage: Equatable, Sendable {
  public var version: Int64
  public var predicted: Int
  public var total: Int
  /// A predictor of this version failed before ("<time> <why>", recorded in the store): it is
  /// shown, and not started again until someone runs `predict --all-cases --model` by hand.
  public var failure: String?
  public init(version: Int64, predicted: Int, total: Int, failure: String? = nil) {
    self.version = version
    self.predicted = predicted
    self.total = total
    self.failure = failure
  }
  public var isComplete: Bool { predicted >= total }
}

public struct PredictionState: Equatable, Sendable {
  /// nil: no model is promoted (or nothing read yet).
  public var coverage: PredictionCoverage?
  /// The versions this app has started a predictor for: one try per version, so a predictor
  /// that cannot finish (an unreadable image, another process holding the version's lock) is
  /// not restarted on every poll.
  public var launched: Set<Int64> = []
  public init() {}
}

public enum PredictionEffect: Equatable, Sendable {
  /// Read the promoted model's coverage.
  case loadCoverage
  /// Start `blastview predict --all-cases` for this version.
  case launch(version: Int64)
}

public enum PredictionEvent: Equatable, Sendable {
  case coverageLoaded(PredictionCoverage?, backgroundAllowed: Bool)
  case launched(version: Int64, missing: Int, Result<Int32, LaunchError>)
}

func predictionStartEffects(_ s: AppState) -> [Effect] { [.predictions(.loadCoverage)] }

/// Another process committed (a page of predictions, a promotion): read the coverage again.
func predictionChangeEffects(_ before: AppState, _ e: SessionEvent) -> [Effect] {
  guard case .changesPolled(let v) = e, let previous = before.changeVersion, previous != v else { return [] }
  return [.predictions(.loadCoverage)]
}

func predictionUpdate(_ state: AppState, _ event: PredictionEvent) -> (AppState, [Effect]) {
  var s = state
  switch event {
  case .coverageLoaded(let coverage, let allowed):
    s.predictions.coverage = coverage
    guard let c = coverage, !c.isComplete, c.failure == nil, allowed,
      !s.predictions.launched.contains(c.version)
    else {
      return (s, [])
    }
    s.predictions.launched.insert(c.version)
    return (s, [.predictions(.launch(version: c.version))])
  case .launched(let version, let missing, .success):
    s.status = StatusMessage("Predicting \(missing) cases with v\(version) in the background", .ok)
    return (s, [])
  case .launched(let version, _, .failure(let e)):
    s.status = StatusMessage(
      "Cannot predict with v\(version) in the background: \(Sanitizer.sanitize(e.message))", .error)
    return (s, [])
  }
}

extension View {
  /// "⟳ predictions v2: 128 of 299" while the promoted model's predictions are incomplete.
  public static func predictionStatusText(_ s: AppState) -> String? {
    guard let c = s.predictions.coverage, !c.isComplete else { return nil }
    if let failure = c.failure {
      return "✗ predictions v\(c.version) failed: \(Sanitizer.sanitize(failure))"
    }
    return "⟳ predictions v\(c.version): \(c.predicted) of \(c.total)"
  }

  static func predictionStatusItem(_ s: AppState, _ f: inout Frame) {
    statusItem(predictionStatusText(s), s, &f)
  }
}

extension ReviewApp {
  func runPredictions(_ effect: PredictionEffect) throws(StoreError) -> [AppEvent] {
    reapTrainers()
    guard let store = store.embeddedStore else {
      // A shared workspace's predictions are made by its service role, not by a rater's app.
      switch effect {
      case .loadCoverage: return [.predictions(.coverageLoaded(nil, backgroundAllowed: false))]
      case .launch: return []
      }
    }
    switch effect {
    case .loadCoverage:
      guard let v = try store.promotedModel()?.version else {
        return [.predictions(.coverageLoaded(nil, backgroundAllowed: backgroundPredictions))]
      }
      let (predicted, total) = try store.predictionCoverage(model: v)
      let failure = try store.predictionFailure(model: v)
      return [
        .predictions(
          .coverageLoaded(
            PredictionCoverage(version: v, predicted: predicted, total: total, failure: failure),
            backgroundAllowed: backgroundPredictions))
      ]
    case .launch(let version):
      let (predicted, total) = try store.predictionCoverage(model: version)
      let result = launcher.launchPredictions(version: version, workspace: store.workspace.directory)
      if case .success(let pid) = result { trainerChildren.insert(pid) }
      return [.predictions(.launched(version: version, missing: total - predicted, result))]
    }
  }
}
