import CaseStore
import Foundation
import Imaging
import Terminal
import Testing

@testable import Review

/// Issue 15, item 11: the same rater with one case open in two review processes (here two
/// apps on two store handles of one workspace). Stroke A is saved from the first; the second,
/// opened before it, then saves its own stroke: A's pixels must not vanish, and the second
/// screen says its save was merged.
@Suite struct LostUpdateTests {
  @Test func aStrokeSavedInAnotherWindowSurvivesTheOtherWindowsSave() throws {
    let (first, store, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    let secondStore = try Workspace.open(path: store.workspace.directory)
    let second = try ReviewApp(
      store: secondStore, rater: "alice", session: nil, rows: 40, columns: 120, graphics: true)
    second.begin()
    for app in [first, second] {
      app.dispatch(key(.enter))
      app.dispatch(key("m"))
      #expect(app.state.screen == .maskEditor)
    }
    // Stroke A, saved by the first window when its editing visit ends.
    first.dispatch(key(" "))
    first.dispatch(key("L"))
    first.dispatch(key(" "))
    let strokeA = try #require(first.state.editor).mask
    first.dispatch(key(.escape))
    #expect(strokeA.values.contains { $0 >= 128 })
    // Stroke B, elsewhere, from the second window that still shows the empty mask.
    for _ in 0..<4 { second.dispatch(key("K")) }
    second.dispatch(key(" "))
    second.dispatch(key("H"))
    second.dispatch(key(" "))
    second.dispatch(key(.escape))
    let saved = try store.mask(
      id: try #require(try store.caseDetail(id: 1, viewer: .rater("alice")).mine?.maskID))
    for i in strokeA.values.indices where strokeA.values[i] >= 128 {
      #expect(saved.values[i] >= 128, "pixel \(i) of stroke A was lost")
    }
    #expect(saved.values.filter { $0 >= 128 }.count > strokeA.values.filter { $0 >= 128 }.count)
    #expect(second.state.status?.text.contains("merged with a mask you saved in another window") == true)
    #expect(try store.history(case: 1, viewer: .system).count == 2, "one entry per editing visit")
    // The second window's next visit starts from the merged mask.
    second.dispatch(key("m"))
    #expect(second.state.editor?.mask == saved, "the second window now shows both strokes")
  }
}

/// Issue 15, item 9 on the dashboard: a revision after unblinding is shown apart and does
/// not change the pair's agreement.
@Suite struct DashboardRevisionTests {
  @Test func theDashboardCountsBlindLabelsAndShowsRevisionsApart() throws {
    let ws = try SessionWorkspace()
    let store = try ws.storeFor()
    try store.annotate(case: 1, rater: "alice", label: "Benign", session: "s")
    try store.annotate(case: 1, rater: "bob", label: "Pro-B", session: "s")
    try store.annotate(case: 2, rater: "alice", label: "Pre-B", session: "s")
    try store.annotate(case: 2, rater: "bob", label: "Pre-B", session: "s")
    // bob has seen alice's Benign on case 1 and copies it.
    try store.annotate(case: 1, rater: "bob", label: "Benign", session: "s")
    let app = try ws.app("alice")
    app.dispatch(key("A"))
    let report = try #require(app.state.dashboard?.report)
    let pair = try #require(report.labels.pairwise.first)
    #expect(pair.n == 2)
    #expect(report.labels.twoRater?.confusion[0, 3] == 1, "alice Benign × bob Pro-B, his blind label")
    #expect(report.revisionsByRater.map(\.rater) == ["bob"])
    #expect(app.frame.contains("revised after unblinding (not counted): bob 1 on 1"))
  }
}
