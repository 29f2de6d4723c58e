import CaseStore
import Foundation
import Testing

@testable import Review
@testable import Terminal

/// Issue 18, item 7: "the U/D/M/L badges and me:· are not explained by ?". The browser's help
/// now ends with a legend of every badge, classes by name, on some page even at 80 × 24.
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
      "me:Pre-B", "my label (shown once I labelled it)", "unreviewed: I have not labelled it",
      "disagreement: raters' labels differ",
      "adjudicated: final label set (replaces D)", "my mask: I drew its nucleus mask",
      "low confidence: model below 0.6", "Pre-B 0.83", "the model's class and its probability",
      "model hidden until I label", "no prediction yet",
    ] {
      #expect(text.contains(needle), "\(needle)")
    }
    // Names, not letters (issue 18, item 7).
    #expect(!text.contains("me:·") && !text.contains("Letters:"), "\(text)")
  }
}
