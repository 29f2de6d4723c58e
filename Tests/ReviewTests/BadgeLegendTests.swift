import CaseStore
import Foundation
import Testing

@testable import Review
@testable import Terminal

/// Issue 18, item 7: "the U/D/M/L badges and me:· are not explained by ?". The browser's help
/// now ends with a legend of every badge and the schema's class letters, on some page even at
/// 80 × 24.
@Suite struct BadgeLegendTests {
  @Test func browserHelpExplainsEveryBadge() throws {
    let (app, _, dir) = try makeApp(rows: 24, columns: 80)
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key("?"))
    var text = ""
    var pages = 0
    while app.state.showHelp && pages < 10 {
      pages += 1
      let f = app.frame
      for row in 0..<f.rows { text += f.text(row: row) + "\n" }
      app.dispatch(key(" "))
    }
    for needle in [
      "me:P", "me:· not labelled yet", "unreviewed: I have not labelled it",
      "disagreement: raters' labels differ",
      "adjudicated: final label set (replaces D)", "my mask: I drew its nucleus mask",
      "low confidence: model below 0.6", "the model's class letter and probability",
      "Letters: B Benign, E Early-B, P Pre-B, R Pro-B",
    ] {
      #expect(text.contains(needle), "\(needle)")
    }
  }
}
