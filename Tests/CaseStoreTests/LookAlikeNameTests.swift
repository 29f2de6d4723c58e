import Foundation
import Testing

@testable import CaseStore

/// Issue 15, item 13: names that display alike are one name or refused.
@Suite struct LookAlikeNameTests {
  @Test func raterNamesThatLookLikeAnExistingOneAreRefused() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 2)
    try store.annotate(case: 1, rater: "ana", label: "Benign")
    try store.ensureRater("José")
    let lookAlikes = [
      "\u{0430}na",  // Cyrillic а
      "\u{03B1}na",  // Greek alpha
      "\u{FF41}\u{FF4E}\u{FF41}",  // fullwidth
      "\u{1D41A}na",  // mathematical bold a
    ]
    for name in lookAlikes {
      #expect(throws: StoreError.self, "\(name.unicodeScalars.map { String($0.value, radix: 16) })") {
        try store.annotate(case: 2, rater: name, label: "Pro-B")
      }
      do {
        try store.ensureRater(name)
        Issue.record("\(name) accepted")
      } catch {
        #expect(error.description.contains("looks like the existing rater \"ana\""))
      }
    }
    let hidden = [
      "ana\u{200B}", "an\u{00AD}a", "ana\u{E0041}", "\u{202E}ana", "a\u{200D}na", "ana\u{FE0F}",
      "an\u{2066}a",
      "ana\u{3164}", "a\u{00A0}na",
    ]
    for name in hidden {
      do {
        try store.ensureRater(name)
        Issue.record("\(name.unicodeScalars.map { String($0.value, radix: 16) }) accepted")
      } catch {
        #expect(error.description.contains("invisible, format or bidi character"))
      }
    }
    // A decomposed é is the same rater, not a second one.
    let nfd = "Jose\u{0301}"
    #expect(try store.ensureRater(nfd).id == store.rater(named: "José")!.id)
    #expect(try store.raters().map(\.name) == ["ana", "José"])
    // Only ana's annotation exists: none of the look-alikes wrote anything.
    #expect(try store.history(case: 2, viewer: .system).isEmpty)
  }

  @Test func sessionAndClassNamesFollowTheSameRules() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 2)
    try store.createSession(
      name: "spring", raters: ["ana", "ben"], cases: .all, blinded: true, hideModel: false, createdBy: "lead")
    #expect(throws: StoreError.self) {
      try store.createSession(
        name: "\u{0455}pring", raters: ["ana"], cases: .all, blinded: false, hideModel: false,
        createdBy: "lead")
    }
    #expect(throws: StoreError.self) {
      try store.createSession(
        name: "spr\u{200B}ing2", raters: ["ana"], cases: .all, blinded: false, hideModel: false,
        createdBy: "lead")
    }
    // Decomposed and composed spellings are one session and one rater.
    try store.createSession(
      name: "cafe\u{301}", raters: ["Jose\u{301}"], cases: .all, blinded: true, hideModel: false,
      createdBy: "lead")
    try store.annotate(case: 1, rater: "José", label: "Benign", session: "café")
    #expect(try store.session(named: "cafe\u{301}").labelled["José"] == 1)
    #expect(try store.sessionQueue(session: "cafe\u{301}", rater: "Jose\u{301}").first == 2)
    let twins = LabelSchema(
      name: "twins",
      classes: [
        LabelSchema.LabelClass(name: "Blast", key: "1", letter: "B"),
        LabelSchema.LabelClass(name: "\u{0412}last", key: "2", letter: "V"),
      ])
    #expect {
      try twins.validate(source: "twins.json")
    } throws: { e in String(describing: e).contains("look alike") }
    let hiddenClass = LabelSchema(
      name: "hidden",
      classes: [
        LabelSchema.LabelClass(name: "Blast", key: "1", letter: "B"),
        LabelSchema.LabelClass(name: "Nor\u{202E}mal", key: "2", letter: "N"),
      ])
    #expect(throws: StoreError.self) { try hiddenClass.validate(source: "hidden.json") }
    try LabelSchema.all4.validate(source: "all4")
    try LabelSchema.wbc5.validate(source: "wbc5")
  }

  @Test func theSkeletonFoldsTheTablesScripts() {
    #expect(Confusables.skeleton("\u{0430}na") == Confusables.skeleton("ana"))
    #expect(Confusables.skeleton("paypal") == Confusables.skeleton("\u{0440}\u{0430}ypal"))
    #expect(Confusables.skeleton("ana") != Confusables.skeleton("ann"))
    #expect(Confusables.skeleton("rn") == Confusables.skeleton("m"))
    #expect(Confusables.prototypes.count == 1768)
  }
}
