import Foundation
import Testing

@testable import CaseStore

/// The browser's keyset paging against a plain in-memory reference: every filter and sort,
/// paged forward to the end and back to the start, must give exactly the reference order.
@Suite struct BrowserTests {
  struct Ref {
    var id: Int64
    var split: Split
    var path: String
    var sha: String
    var pred: String?
    var conf: Double?
    var labels: [String: String] = [:]
    var myTime: Double? = nil  // my last edit (the stored time: two edits can share a millisecond)
    var adjudicated = false
    /// P(malignant) for all4: 1 - P(Benign).
    var pMalignant: Double? = nil
  }

  @Test func pagingMatchesAReferenceUnderEveryFilterAndSort() throws {
    let dir = TempDir()
    let n = 240
    let store = try makeStore(dir, cases: n, seed: 99)
    var rng = SeededRandom(seed: 5)
    let classes = LabelSchema.all4.classNames
    let file = dir.sub("m.bin")
    try Data("m".utf8).write(to: URL(fileURLWithPath: file))
    let model = try store.registerModel(
      file: file, parent: nil, tasks: ["c"], trainedTasks: ["c"], frozenTasks: [])
    var refs: [Int64: Ref] = [:]
    for rec in try store.cases(viewer: .system) {
      refs[rec.id] = Ref(id: rec.id, split: rec.split, path: rec.path, sha: rec.sha256)
    }
    var preds: [NewPrediction] = []
    for id in 1...Int64(n) where Int.random(in: 0..<10, using: &rng) < 8 {
      // Coarse probabilities make ties, which the id tiebreak must order.
      var p = (0..<4).map { _ in Double(Int.random(in: 1...4, using: &rng)) }
      let s = p.reduce(0, +)
      p = p.map { $0 / s }
      preds.append(NewPrediction(caseID: id, probabilities: p))
      let best = p.indices.max { p[$0] < p[$1] }!
      refs[id]!.pred = classes[best]
      refs[id]!.conf = p[best]
      refs[id]!.pMalignant = 1 - p[classes.firstIndex(of: "Benign")!]
    }
    try store.savePredictions(preds, model: model.version)
    // Not promoted yet: the browser shows no prediction.
    #expect(
      try store.casePage(CasePageRequest(), viewer: .rater("me")).rows.allSatisfy { $0.predictedLabel == nil }
    )
    try store.promote(version: model.version)

    let shaOf7 = refs[7]!.sha
    for _ in 0..<300 {
      let id = Int64.random(in: 1...Int64(n), using: &rng)
      let rater = ["me", "you", "them"].randomElement(using: &rng)!
      let label = classes.randomElement(using: &rng)!
      try store.annotate(case: id, rater: rater, label: label)
      refs[id]!.labels[rater] = label
    }
    // A few adjudications (their filter's index drives when few cases match).
    try store.addRater("judge", role: .adjudicator)
    for id in stride(from: Int64(5), through: Int64(n), by: 23) {
      _ = try store.adjudicate(case: id, adjudicator: "judge", label: "Pre-B", reason: "test")
      refs[id]!.adjudicated = true
    }
    for id in 1...Int64(n) {
      refs[id]!.myTime = try store.currentAnnotations(case: id, viewer: .system).first { $0.rater == "me" }
        .map { $0.createdAt.timeIntervalSince1970 }
    }

    var malignant = CaseFilter()
    malignant.pMalignantAtLeast = 0.7
    let filters: [(String, CaseFilter, (Ref) -> Bool)] = [
      ("none", CaseFilter(), { _ in true }),
      ("predicted Pre-B", CaseFilter(predictedLabel: "Pre-B"), { $0.pred == "Pre-B" }),
      ("mine Benign", CaseFilter(myLabel: "benign"), { $0.labels["me"] == "Benign" }),
      ("unreviewed", CaseFilter(unreviewed: true), { $0.labels["me"] == nil }),
      ("disagreement", CaseFilter(disagreement: true), { Set($0.labels.values).count > 1 }),
      ("split val", CaseFilter(split: .val), { $0.split == .val }),
      ("conf < 0.45", CaseFilter(confidenceBelow: 0.45), { ($0.conf ?? 2) < 0.45 }),
      ("search case1", CaseFilter(search: "case1"), { $0.path.contains("case1") }),
      ("search CASE2_ (case, wildcard)", CaseFilter(search: "CASE2_"), { _ in false }),
      ("search se2", CaseFilter(search: "se2"), { $0.path.contains("se2") }),
      (
        "search sha prefix", CaseFilter(search: String(shaOf7.prefix(8))),
        { $0.sha.hasPrefix(shaOf7.prefix(8)) }
      ),
      ("search #7", CaseFilter(search: "#7"), { $0.id == 7 }),
      ("adjudicated", CaseFilter(adjudicated: true), { $0.adjudicated }),
      ("possibly malignant", malignant, { ($0.pMalignant ?? -1) >= 0.7 }),
      (
        "adjudicated + predicted Benign", CaseFilter(predictedLabel: "Benign", adjudicated: true),
        {
          $0.adjudicated && $0.pred == "Benign"
        }
      ),
      (
        "combined", CaseFilter(unreviewed: true, split: .train, confidenceBelow: 0.6),
        {
          $0.labels["me"] == nil && $0.split == .train && ($0.conf ?? 2) < 0.6
        }
      ),
    ]
    // Reference orders, following SQLite: NULL first ascending, id tiebreak in the same direction.
    func ordered(_ rows: [Ref], sort: CaseSort, ascending: Bool) -> [Int64] {
      func key(_ r: Ref) -> Double? {
        switch sort {
        case .id, .sessionQueue: return nil
        case .confidence: return r.conf
        case .added: return 0  // all imported in one transaction: same timestamp
        case .myLastEdit: return r.myTime
        }
      }
      let asc = rows.sorted { a, b in
        let ka = key(a)
        let kb = key(b)
        if ka != kb {
          guard let ka else { return true }
          guard let kb else { return false }
          return ka < kb
        }
        return a.id < b.id
      }
      return (ascending ? asc : asc.reversed()).map(\.id)
    }

    for (name, filter, predicate) in filters {
      let matching = refs.values.filter(predicate)
      #expect(try store.caseCount(filter, viewer: .rater("me")) == matching.count, "\(name)")
      // Both strategies: a selective filter's index driving, and the sort order's index.
      for (sort, selective) in [CaseSort.id, .confidence, .added, .myLastEdit].flatMap({ s in
        [(s, 0), (s, 10_000)]
      }) {
        for ascending in [true, false] {
          let expected = ordered(matching, sort: sort, ascending: ascending)
          var got: [Int64] = []
          var pages: [CasePage] = []
          var request = CasePageRequest(filter: filter, sort: sort, ascending: ascending, limit: 17)
          request.selectiveLimitOverride = selective
          while true {
            let page = try store.casePage(request, viewer: .rater("me"))
            pages.append(page)
            got += page.rows.map(\.id)
            guard let next = page.next else { break }
            request.cursor = next
            request.backward = false
          }
          #expect(got == expected, "\(name) \(sort) \(ascending ? "asc" : "desc") threshold \(selective)")
          // Back from the last page to the first with the previous cursors.
          var back: [Int64] = pages.last!.rows.map(\.id)
          var cursor = pages.last!.previous
          while let c = cursor {
            let page = try store.casePage(
              CasePageRequest(
                filter: filter, sort: sort, ascending: ascending, cursor: c, backward: true, limit: 17),
              viewer: .rater("me"))
            back = page.rows.map(\.id) + back
            cursor = page.previous
          }
          #expect(
            back == expected, "backward \(name) \(sort) \(ascending ? "asc" : "desc") threshold \(selective)")
        }
      }
    }
    // Tile contents for one case.
    let row = try store.casePage(CasePageRequest(filter: CaseFilter(search: "#3")), viewer: .rater("me"))
      .rows[0]
    #expect(row.predictedLabel == refs[3]!.pred && row.confidence == refs[3]!.conf)
    #expect(row.myLabel == refs[3]!.labels["me"] && row.labelCount == refs[3]!.labels.count)
    #expect(row.modelVersion == (refs[3]!.pred == nil ? nil : model.version))
    #expect(row.thumbnailPath == store.workspace.thumbnailsDirectory + "/" + refs[3]!.sha + ".png")
  }

  /// Migration v4-browser-filters fills `case_status.adjudicated` and `p_malignant` from the
  /// rows a workspace already has: a workspace taken back to the schema before it (columns,
  /// indexes and triggers removed, the migration forgotten) and reopened lists exactly the
  /// pages it listed with the triggers keeping the columns.
  @Test func browserFiltersMigrationFillsFromExistingRows() throws {
    let dir = TempDir()
    let n = 150
    var store = try makeStore(dir, cases: n, seed: 31)
    var rng = SeededRandom(seed: 8)
    let file = dir.sub("m.bin")
    try Data("m".utf8).write(to: URL(fileURLWithPath: file))
    let model = try store.registerModel(
      file: file, parent: nil, tasks: ["c"], trainedTasks: ["c"], frozenTasks: [])
    try store.promote(version: model.version)
    try store.savePredictions(
      (1...Int64(n)).map { id in
        var p = (0..<4).map { _ in Double(Int.random(in: 1...6, using: &rng)) }
        let s = p.reduce(0, +)
        p = p.map { $0 / s }
        return NewPrediction(caseID: id, probabilities: p)
      }, model: model.version)
    try store.addRater("judge", role: .adjudicator)
    for id in stride(from: Int64(3), through: Int64(n), by: 11) {
      _ = try store.adjudicate(case: id, adjudicator: "judge", label: "Benign", reason: "test")
    }
    for id in stride(from: Int64(1), through: Int64(n), by: 3) {
      try store.annotate(case: id, rater: "me", label: "Pro-B")
    }
    var malignant = CaseFilter()
    malignant.pMalignantAtLeast = 0.6
    var malignantUnreviewed = CaseFilter(unreviewed: true)
    malignantUnreviewed.pMalignantAtLeast = 0.5
    func listings(_ s: CaseStore) throws -> [[Int64]] {
      var out: [[Int64]] = []
      for filter in [CaseFilter(adjudicated: true), malignant, malignantUnreviewed] {
        for sort in [CaseSort.id, .confidence, .added, .myLastEdit] {
          for ascending in [true, false] {
            var request = CasePageRequest(filter: filter, sort: sort, ascending: ascending, limit: 9)
            var ids: [Int64] = []
            while true {
              let page = try s.casePage(request, viewer: .rater("me"))
              ids += page.rows.map(\.id)
              guard let next = page.next else { break }
              request.cursor = next
            }
            out.append(ids)
          }
        }
      }
      return out
    }
    let before = try listings(store)
    #expect(before[0].count == (n - 3) / 11 + 1)
    #expect(before.allSatisfy { !$0.isEmpty })
    try store.write { db in
      try db.execute(
        sql: """
          DROP TRIGGER case_status_adjudicated;
          DROP TRIGGER prediction_insert;
          DROP TRIGGER prediction_update;
          DROP TRIGGER model_promoted;
          DROP INDEX case_status_adjudicated;
          DROP INDEX case_status_p_malignant;
          ALTER TABLE case_status DROP COLUMN adjudicated;
          ALTER TABLE case_status DROP COLUMN p_malignant;
          DELETE FROM grdb_migrations WHERE identifier = 'v4-browser-filters';
          """)
    }
    try store.close()
    store = try Workspace.open(path: dir.sub("ws"))
    #expect(try listings(store) == before)
  }

  @Test func promotionSwitchesTheBrowsersPredictions() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 3)
    let file = dir.sub("m.bin")
    try Data("m".utf8).write(to: URL(fileURLWithPath: file))
    let v1 = try store.registerModel(
      file: file, parent: nil, tasks: ["c"], trainedTasks: ["c"], frozenTasks: [])
    try Data("m2".utf8).write(to: URL(fileURLWithPath: file))
    let v2 = try store.registerModel(
      file: file, parent: v1.version, tasks: ["c"], trainedTasks: ["c"], frozenTasks: [])
    try store.promote(version: v1.version)
    try store.savePredictions(
      [NewPrediction(caseID: 1, probabilities: [0.7, 0.1, 0.1, 0.1])], model: v1.version)
    try store.savePredictions(
      [
        NewPrediction(caseID: 1, probabilities: [0.1, 0.1, 0.1, 0.7]),
        NewPrediction(caseID: 2, probabilities: [0.1, 0.6, 0.2, 0.1]),
      ],
      model: v2.version)
    func tiles() throws -> [String?] {
      try store.casePage(CasePageRequest(), viewer: .system).rows.map(\.predictedLabel)
    }
    #expect(try tiles() == ["Benign", nil, nil])
    try store.promote(version: v2.version)
    #expect(try tiles() == ["Pro-B", "Early-B", nil])
    try store.promote(version: v1.version, reason: "roll back")
    #expect(try tiles() == ["Benign", nil, nil])
    let p = try store.prediction(case: 1, viewer: .system)!
    #expect(p.modelVersion == v1.version && abs(p.pMalignant! - 0.3) < 1e-12 && p.confidence == 0.7)
  }
}
