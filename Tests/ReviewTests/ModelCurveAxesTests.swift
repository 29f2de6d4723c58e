import CaseStore
import Foundation
import Testing

@testable import Review
@testable import Terminal

/// Issue 18, item 5: the model screen's training curves get labelled axes (x: epoch with tick
/// labels, y: the quantity with its scale), legible at 80 × 24; a stage with no validation
/// masks says so instead of drawing a validation loss of 0.
@Suite struct ModelCurveAxesTests {
  @Test func tickLabelsAreSpreadSoTheyNeverTouch() {
    // Hand-worked: 10 epochs over 30 columns are 29/9 = 3.2 columns apart, room for a 2-digit
    // label and a space: every epoch. 50 epochs are 29/49 = 0.59 apart: steps 1, 2 and 5 leave
    // under 3 columns, 10 leaves 5.9; the last epoch (49) is 5.3 columns after 40, so it too.
    #expect(TextPlot.tickIndices(count: 10, width: 30, labelWidth: 2) == Array(0..<10))
    #expect(TextPlot.tickIndices(count: 50, width: 30, labelWidth: 2) == [0, 10, 20, 30, 40, 49])
    // 12 epochs: 29/11 = 2.6, so every 2nd; the last (11) is 2.6 after 10: too close.
    #expect(TextPlot.tickIndices(count: 12, width: 30, labelWidth: 2) == [0, 2, 4, 6, 8, 10])
    #expect(TextPlot.tickIndices(count: 1, width: 30, labelWidth: 1) == [0])
  }

  @Test func aLabelledPlotHasItsQuantityScaleAndEpochs() {
    // Hand-worked: 3 points, values 1, 0.5, 0 on 5 plot rows (rows 1...5 of the rect) over 11
    // columns: columns 0, 5, 10 after the 8-column axis; rows 0, 2, 4 of the plot. The middle
    // row is labelled 0.500; the axis under the plot has ticks at the points, the epochs under
    // them and "epoch" in the margin.
    let plot = TextPlot(series: [.init(name: "loss", values: [1, 0.5, 0], glyph: "*", style: Style(.text))])
    var f = Frame(rows: 8, columns: 19)
    plot.drawLabelled(
      into: &f, rect: CellRect(row: 0, column: 0, rows: 8, columns: 19), yName: "loss",
      xLabels: ["1", "2", "3"])
    #expect(f.text(row: 0) == "loss")
    #expect(f.text(row: 1) == "  1.000┤*")
    #expect(f.text(row: 2) == "       │")
    #expect(f.text(row: 3) == "  0.500┤     *")
    #expect(f.text(row: 4) == "       │")
    #expect(f.text(row: 5) == "  0.000┤          *")
    #expect(f.text(row: 6) == "       └┬────┬────┬")
    #expect(f.text(row: 7) == "  epoch 1    2    3")
  }

  static func state(rows: Int, columns: Int, curves: [JSONValue]) -> AppState {
    var s = AppState(
      rows: rows, columns: columns, graphics: false, schema: .all4, rater: "alice", workspaceName: "ws",
      modelVersion: 1, totalCases: 20)
    s.screen = .models
    let metrics: JSONValue = .object(["macro_f1": .number(0.9), "curves": .array(curves)])
    s.retrain.models = [
      RetrainingScreenTests.version(
        2, parent: 1, promoted: false, metrics: metrics, trained: ["classification", "segmentation"]),
      RetrainingScreenTests.version(1, parent: nil, promoted: true),
    ]
    s.retrain.loaded = true
    return s
  }

  /// Classification (3 epochs, validated) then segmentation (3 epochs) as a retraining stores
  /// them; `segValidation`: the segmentation points' validation fields.
  static func twoStages(segValidation: [String: JSONValue]) -> [JSONValue] {
    let cls: [JSONValue] = [(1.2, 1.1, 0.4), (0.9, 1.0, 0.5), (0.7, 0.95, 0.6)].enumerated().map { i, p in
      .object([
        "task": .string("cls"), "epoch": .number(Double(i + 1)), "train_loss": .number(p.0),
        "val_loss": .number(p.1), "val_metric": .number(p.2), "val_metric_name": .string("macro_f1"),
      ])
    }
    let seg: [JSONValue] = [0.6, 0.5, 0.45].enumerated().map { i, t in
      var point: [String: JSONValue] = [
        "task": .string("seg"), "epoch": .number(Double(i + 1)), "train_loss": .number(t),
        "val_metric_name": .string("dice"),
      ]
      point.merge(segValidation) { $1 }
      return .object(point)
    }
    return cls + seg
  }

  @Test func atEightyByTwentyFourTheAxesAreLabelledAndNothingIsCut() throws {
    for segValidation: [String: JSONValue] in [
      // As a retraining now stores a stage with no validation masks.
      ["val_missing": .string("no validation masks")],
      // As it stored one before: a validation loss of 0 and no Dice.
      ["val_loss": .number(0)],
    ] {
      let s = Self.state(rows: 24, columns: 80, curves: Self.twoStages(segValidation: segValidation))
      let f = View.render(s)
      #expect(f.cut.isEmpty, "cut: \(f.cut)")
      #expect(f.contains("· train  (no validation masks)"))
      #expect(f.contains("× validation macro-F1 then Dice"))
      #expect(f.contains("loss per epoch"))
      #expect(f.contains("macro-F1 then Dice (0–1) per epoch"))
      // The y scale: the loss axis runs from the lowest to the highest loss drawn (0.45 to 1.2:
      // the fake 0 is not drawn, so it does not stretch the axis), the metric's from 0 to 1.
      let top = try #require(f.find("  1.200┤"))
      let bottom = try #require(f.find("  0.450┤"))
      #expect(bottom.row > top.row + 4)
      #expect(f.text(row: top.row).contains("  1.000┤"))
      #expect(f.text(row: bottom.row).contains("  0.000┤"))
      // The x axis under both plots, then the epochs (each stage counts its own) and "epoch".
      let axis = f.text(row: bottom.row + 1)
      #expect(axis.components(separatedBy: "└").count == 3, "\(axis)")
      #expect(axis.components(separatedBy: "┬").count - 1 == 12, "six ticks a plot: \(axis)")
      let labels = f.text(row: bottom.row + 2)
      #expect(labels.components(separatedBy: "epoch").count == 3, "\(labels)")
      #expect(labels.filter { $0 == "1" }.count == 4 && labels.filter { $0 == "3" }.count == 4, "\(labels)")
      // The status line stays below the plots.
      #expect(bottom.row + 2 < s.rows - 1)
      // No validation point is drawn for segmentation: the validation glyph appears only for
      // classification's three epochs.
      var dots = 0
      for row in top.row...bottom.row { dots += f.text(row: row).filter { $0 == "•" }.count }
      #expect(dots == 3, "\(dots) validation points")
    }
  }
}
