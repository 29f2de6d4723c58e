import Foundation
import Testing
import Workflows

@testable import CaseStore
@testable import Review
@testable import Terminal

/// Issue 7's background predictions as pure update and view: one predictor per promoted
/// version, started only where the app allows it, and the status line's progress.
@Suite struct BackgroundPredictionsTests {
  static func state() -> AppState { RetrainingScreenTests.state() }

  @Test func startsOnePredictorPerVersionWhenPredictionsAreMissing() {
    var s = Self.state()
    #expect(start(s).1.contains(.predictions(.loadCoverage)))
    let partial = PredictionCoverage(version: 2, predicted: 10, total: 299)
    var effects: [Effect]
    (s, effects) = update(s, .predictions(.coverageLoaded(partial, backgroundAllowed: true)))
    #expect(effects == [.predictions(.launch(version: 2))])
    #expect(s.predictions.coverage == partial)
    // The next poll finds it still incomplete: no second predictor for the same version.
    (s, effects) = update(
      s,
      .predictions(
        .coverageLoaded(PredictionCoverage(version: 2, predicted: 74, total: 299), backgroundAllowed: true)))
    #expect(effects.isEmpty)
    // A newly promoted version gets its own.
    (s, effects) = update(
      s,
      .predictions(
        .coverageLoaded(PredictionCoverage(version: 3, predicted: 0, total: 299), backgroundAllowed: true)))
    #expect(effects == [.predictions(.launch(version: 3))])
  }

  @Test func nothingStartsWhenCompleteNotAllowedOrNoModel() {
    let s = Self.state()
    let complete = PredictionCoverage(version: 2, predicted: 299, total: 299)
    #expect(update(s, .predictions(.coverageLoaded(complete, backgroundAllowed: true))).1.isEmpty)
    let partial = PredictionCoverage(version: 2, predicted: 0, total: 299)
    #expect(update(s, .predictions(.coverageLoaded(partial, backgroundAllowed: false))).1.isEmpty)
    #expect(update(s, .predictions(.coverageLoaded(nil, backgroundAllowed: true))).1.isEmpty)
  }

  @Test func anotherProcessCommittingRereadsTheCoverage() {
    var s = Self.state()
    s.changeVersion = 4
    #expect(update(s, .sessions(.changesPolled(version: 5))).1.contains(.predictions(.loadCoverage)))
    #expect(!update(s, .sessions(.changesPolled(version: 4))).1.contains(.predictions(.loadCoverage)))
  }

  @Test func statusLineShowsProgressUntilComplete() {
    var s = Self.state()
    s.predictions.coverage = PredictionCoverage(version: 2, predicted: 128, total: 299)
    let text = View.render(s).text(row: s.rows - 1)
    #expect(text.contains("⟳ predictions v2: 128 of 299"))
    s.predictions.coverage = PredictionCoverage(version: 2, predicted: 299, total: 299)
    #expect(!View.render(s).text(row: s.rows - 1).contains("predictions v2"))
    // A running retraining takes the status item: it matters more.
    s.predictions.coverage = PredictionCoverage(version: 2, predicted: 1, total: 299)
    s.retrain.job = RetrainingScreenTests.job()
    let line = View.render(s).text(row: s.rows - 1)
    #expect(line.contains("training") && !line.contains("predictions v2"))
  }

  @Test func launchResultsAreReported() {
    let s = Self.state()
    let ok = update(s, .predictions(.launched(version: 2, missing: 289, .success(4242)))).0
    #expect(ok.status?.text.contains("Predicting 289 cases with v2 in the background") == true)
    let failed = update(
      s,
      .predictions(
        .launched(version: 2, missing: 289, .failure(LaunchError(message: "no such file\u{1b}[2J"))))
    )
    .0
    #expect(failed.status?.text.contains("no such file") == true)
    #expect(failed.status?.text.contains("\u{1b}") == false)
  }
}
