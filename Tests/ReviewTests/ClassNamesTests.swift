import CaseStore
import Foundation
import Testing

@testable import Review
@testable import Terminal

/// `ClassNames`' one rule for a class name wider than its space, worked by hand, and the
/// screens built on it (issue 18, item 7: names, not letters; "neutrop…" in the bars).
@Suite struct ClassNamesTests {
  let wbc5 = LabelSchema.wbc5.classNames

  @Test func namesThatFitAreWhole() {
    #expect(ClassNames.fitted(wbc5, width: 10) == wbc5)
    #expect(
      ClassNames.fitted(LabelSchema.all4.classNames, width: 7) == ["Benign", "Early-B", "Pre-B", "Pro-B"])
  }

  @Test func widerNamesKeepTheirFirstLettersAndADot() {
    // 7 columns: six letters and the dot; "monocyte" (8) too.
    #expect(
      ClassNames.fitted(wbc5, width: 7) == ["neutro.", "lympho.", "monocy.", "eosino.", "basoph."])
    // Never fewer than three letters, even where that overflows.
    #expect(ClassNames.fitted(wbc5, width: 2) == ["neu.", "lym.", "mon.", "eos.", "bas."])
    // all4 in 4 columns: Pre-B and Pro-B still differ.
    #expect(ClassNames.fitted(LabelSchema.all4.classNames, width: 4) == ["Ben.", "Ear.", "Pre.", "Pro."])
  }

  @Test func shortFormsThatClashKeepOneLetterMoreUntilTheyDiffer() {
    #expect(ClassNames.fitted(["Early-B", "Early-T", "Late"], width: 4) == ["Early-B", "Early-T", "Late"])
    #expect(ClassNames.fitted(["promyelocyte", "promonocyte"], width: 5) == ["promy.", "promo."])
  }

  @Test func theLegendSpellsOutEveryShortForm() {
    let shown = ClassNames.fitted(wbc5, width: 9)
    #expect(shown == ["neutroph.", "lymphocy.", "monocyte", "eosinoph.", "basophil"])
    #expect(
      ClassNames.legend(wbc5, shown: shown)
        == "neutroph. = neutrophil · lymphocy. = lymphocyte · eosinoph. = eosinophil")
    #expect(ClassNames.legend(wbc5, shown: wbc5) == nil)
  }

  /// The thumbnails start wide enough for the widest name beside "▶#1234 " and " 0.83".
  @Test func defaultTileWidthHoldsTheWidestName() {
    #expect(BrowserGrid.defaultTileWidth(for: .all4) == 20)
    #expect(BrowserGrid.defaultTileWidth(for: .wbc5) == 26)
  }

  /// The heatmap of a confusion matrix at 80 columns: wbc5's names whole in rows and columns.
  @Test func heatmapHeadsWithWholeNamesAt80Columns() throws {
    var s = AppState(
      rows: 24, columns: 80, graphics: false, schema: .wbc5, rater: "alice", workspaceName: "ws",
      session: nil, modelVersion: nil, totalCases: 0)
    s.screen = .dashboard
    let layout = View.heatmapLayout(s, k: 5)
    #expect(layout.rows == wbc5 && layout.columns == wbc5)
    #expect(layout.labelWidth + 5 * layout.cellWidth <= 79)
    // Nine classes do not fit whole: the rule applies, each short form within its cell.
    let names = wbc5 + ["promyelocyte", "myelocyte", "metamyelocyte", "erythroblast"]
    s.schema = LabelSchema(
      name: "nine",
      classes: names.enumerated().map {
        LabelSchema.LabelClass(name: $0.element, key: "\($0.offset + 1)", letter: "\($0.offset + 1)")
      })
    let narrow = View.heatmapLayout(s, k: 9)
    #expect(narrow.cellWidth == 7)
    #expect(
      narrow.columns == [
        "neutr.", "lymph.", "monoc.", "eosin.", "basop.", "promy.", "myelo.", "metam.", "eryth.",
      ])
  }
}
