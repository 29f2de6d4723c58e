import Foundation
import Testing

@testable import CaseStore

/// Blinding is a property of every read, so it is tested as one: random sessions, random
/// raters labelling random cases in and out of sessions, sessions closing, and after every
/// step every read API is checked, for every rater, against an independent model of the
/// rules written from DESIGN §3 (not from the SQL).
@Suite struct BlindingPropertyTests {
  struct ModelSession {
    var name: String
    var raters: Set<String>
    var cases: Set<Int64>
    var blinded: Bool
    var hideModel: Bool
    var open = true
    /// (rater, case) pairs labelled in this session.
    var labelled: Set<String> = []
  }

  static let raters = ["ana", "ben", "chloe", "dev"]

  func hiddenAnnotations(_ sessions: [ModelSession], viewer: String, caseID: Int64) -> Bool {
    sessions.contains { s in
      s.open && s.blinded && s.raters.contains(viewer) && s.cases.contains(caseID)
        && !s.labelled.contains("\(viewer)#\(caseID)")
    }
  }

  func hiddenModel(_ sessions: [ModelSession], viewer: String, caseID: Int64) -> Bool {
    sessions.contains { s in
      s.open && s.hideModel && s.raters.contains(viewer) && s.cases.contains(caseID)
        && !s.labelled.contains("\(viewer)#\(caseID)")
    }
  }

  @Test(arguments: [UInt64(11), 22, 33, 44])
  func everyReadRespectsBlindingOverRandomSessions(seed: UInt64) throws {
    var rng = SeededRandom(seed: seed)
    let dir = TempDir()
    let nCases = 10
    let store = try makeStore(dir, cases: nCases, seed: seed)
    let modelFile = dir.sub("m.safetensors")
    try Data("weights".utf8).write(to: URL(fileURLWithPath: modelFile))
    let model = try store.registerModel(
      file: modelFile, parent: nil, tasks: ["classification"], trainedTasks: ["classification"],
      frozenTasks: [])
    try store.promote(version: model.version)
    try store.savePredictions(
      (1...Int64(nCases)).map { NewPrediction(caseID: $0, probabilities: [0.1, 0.2, 0.3, 0.4]) },
      model: model.version)

    var sessions: [ModelSession] = []
    /// All annotations ever written: (rater, case) in order, to check completeness.
    var written: [Annotation] = []
    let labels = LabelSchema.all4.classNames

    let steps = 48
    for step in 0..<steps {
      let roll = Int.random(in: 0..<100, using: &rng)
      if roll < 12 || sessions.isEmpty {
        let raters = Set(
          Self.raters.filter { _ in Bool.random(using: &rng) } + [Self.raters.randomElement(using: &rng)!])
        let cases = Set((1...Int64(nCases)).filter { _ in Int.random(in: 0..<3, using: &rng) > 0 })
        guard !cases.isEmpty else { continue }
        let s = ModelSession(
          name: "s\(step)", raters: raters, cases: cases, blinded: Int.random(in: 0..<4, using: &rng) > 0,
          hideModel: Bool.random(using: &rng))
        try store.createSession(
          name: s.name, raters: raters.sorted(), cases: .ids(cases.sorted()), blinded: s.blinded,
          hideModel: s.hideModel, createdBy: "lead")
        sessions.append(s)
      } else if roll < 18 {
        if let i = sessions.indices.filter({ sessions[$0].open }).randomElement(using: &rng) {
          try store.closeSession(sessions[i].name, by: "lead")
          sessions[i].open = false
        }
      } else {
        let rater = Self.raters.randomElement(using: &rng)!
        let caseID = Int64.random(in: 1...Int64(nCases), using: &rng)
        let candidates = sessions.indices.filter {
          sessions[$0].open && sessions[$0].raters.contains(rater) && sessions[$0].cases.contains(caseID)
        }
        let inSession =
          candidates.isEmpty || Bool.random(using: &rng) ? nil : candidates.randomElement(using: &rng)
        let maskOnly = Int.random(in: 0..<5, using: &rng) == 0
        let a = try store.annotate(
          case: caseID, rater: rater, label: maskOnly ? nil : labels.randomElement(using: &rng)!,
          mask: maskOnly ? squareMask(8, 8, x: 1, y: 1, size: Int.random(in: 1...6, using: &rng)) : nil,
          session: inSession.map { sessions[$0].name })
        written.append(a)
        if let i = inSession, a.label != nil { sessions[i].labelled.insert("\(rater)#\(caseID)") }
      }
      // Every read, for every rater, at every fourth step and at the end.
      if step % 4 == 3 { try checkEveryRead(store, sessions: sessions, written: written, nCases: nCases) }
    }
    #expect(sessions.count >= 3 && written.count >= 25)
  }

  func checkEveryRead(_ store: CaseStore, sessions: [ModelSession], written: [Annotation], nCases: Int) throws
  {
    for viewer in Self.raters + ["outsider"] {
      let page = try store.casePage(CasePageRequest(limit: 100), viewer: .rater(viewer))
      #expect(page.rows.count == nCases)
      for caseID in 1...Int64(nCases) {
        let hidA = hiddenAnnotations(sessions, viewer: viewer, caseID: caseID)
        let hidM = hiddenModel(sessions, viewer: viewer, caseID: caseID)
        let expectedHistory = written.filter { $0.caseID == caseID && (!hidA || $0.rater == viewer) }
        #expect(try store.history(case: caseID, viewer: .rater(viewer)) == expectedHistory)

        let current = try store.currentAnnotations(case: caseID, viewer: .rater(viewer))
        let visibleRaters = Set(expectedHistory.map(\.rater))
        #expect(Set(current.map(\.rater)) == visibleRaters)
        for a in current { #expect(a == expectedHistory.last { $0.rater == a.rater }) }

        let detail = try store.caseDetail(id: caseID, viewer: .rater(viewer))
        #expect(detail.blinded == hidA && detail.modelHidden == hidM)
        #expect((detail.prediction == nil) == hidM)
        #expect((detail.record.referenceLabel == nil) == hidA)
        #expect((try store.prediction(case: caseID, viewer: .rater(viewer)) == nil) == hidM)

        let row = page.rows.first { $0.id == caseID }!
        #expect(row.blinded == hidA && row.modelHidden == hidM)
        #expect((row.predictedLabel == nil) == hidM && (row.confidence == nil) == hidM)
        #expect((row.disagreement == nil) == hidA && (row.labelCount == nil) == hidA)
        if !hidA {
          let labels = Set(
            written.filter { $0.caseID == caseID }.reduce(into: [String: String?]()) {
              $0[$1.rater] = $1.label
            }
            .values.compactMap { $0 })
          #expect(row.disagreement == (labels.count > 1))
        }
        #expect(row.myLabel == written.last { $0.caseID == caseID && $0.rater == viewer }?.label)
      }
      // Session-scoped reads.
      for s in sessions where s.raters.contains(viewer) {
        let labels = try store.currentLabels(session: s.name, viewer: .rater(viewer))
        for l in labels where l.rater != viewer {
          #expect(
            !hiddenAnnotations(sessions, viewer: viewer, caseID: l.caseID), "\(viewer) saw \(l) in \(s.name)")
        }
        let masks = try store.currentMasks(session: s.name, viewer: .rater(viewer))
        for m in masks where m.rater != viewer {
          #expect(!hiddenAnnotations(sessions, viewer: viewer, caseID: m.caseID))
        }
        let sessionPage = try store.casePage(
          CasePageRequest(sort: .sessionQueue, limit: 100), viewer: .rater(viewer, session: s.name))
        #expect(Set(sessionPage.rows.map(\.id)) == s.cases)
        for row in sessionPage.rows {
          #expect(row.blinded == hiddenAnnotations(sessions, viewer: viewer, caseID: row.id))
          #expect((row.predictedLabel == nil) == hiddenModel(sessions, viewer: viewer, caseID: row.id))
        }
        // Unlabelled-by-me first.
        let flags = sessionPage.rows.map { s.labelled.contains("\(viewer)#\($0.id)") }
        #expect(flags == flags.sorted { !$0 && $1 })
      }
      let all = try store.currentLabels(viewer: .rater(viewer))
      for l in all where l.rater != viewer {
        #expect(!hiddenAnnotations(sessions, viewer: viewer, caseID: l.caseID))
      }
    }
  }

  @Test func sessionRulesAreEnforced() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 4)
    try store.createSession(
      name: "s", raters: ["ana", "ben"], cases: .ids([1, 2]), blinded: true, hideModel: false,
      createdBy: "lead")
    #expect(throws: StoreError.sessionExists("s")) {
      try store.createSession(
        name: "s", raters: ["ana"], cases: .all, blinded: false, hideModel: false, createdBy: "lead")
    }
    #expect(throws: StoreError.raterNotInSession(rater: "carl", session: "s")) {
      try store.annotate(case: 1, rater: "carl", label: "Pre-B", session: "s")
    }
    #expect(throws: StoreError.caseNotInSession(caseID: 3, session: "s")) {
      try store.annotate(case: 3, rater: "ana", label: "Pre-B", session: "s")
    }
    #expect(throws: StoreError.raterNotInSession(rater: "carl", session: "s")) {
      _ = try store.casePage(CasePageRequest(), viewer: .rater("carl", session: "s"))
    }
    #expect(throws: StoreError.notSessionCreator(rater: "ana", session: "s")) {
      try store.closeSession("s", by: "ana")
    }
    try store.annotate(case: 1, rater: "ana", label: "Pre-B", session: "s")
    try store.closeSession("s", by: "lead")
    #expect(throws: StoreError.sessionClosed("s")) {
      try store.annotate(case: 2, rater: "ana", label: "Pre-B", session: "s")
    }
    #expect(throws: StoreError.sessionClosed("s")) { try store.closeSession("s", by: "lead") }
    let info = try store.session(named: "s")
    #expect(
      !info.isOpen && info.caseCount == 2 && info.labelled == ["ana": 1, "ben": 0]
        && info.raters == ["ana", "ben"])
    try store.createSession(
      name: "t", raters: ["ana"], cases: .split(.train), blinded: false, hideModel: false, createdBy: "lead")
    #expect(try store.session(named: "t").caseCount == (try store.caseIDs(split: .train).count))
    try store.createSession(
      name: "u", raters: ["ana"], cases: .referenceClass("pre"), blinded: false, hideModel: false,
      createdBy: "lead")
    #expect(try store.session(named: "u").caseCount == 1)  // makeStore labels case i with class i % 4
    #expect(try store.sessions().map(\.name) == ["u", "t", "s"])
  }
}
