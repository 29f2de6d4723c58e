import Foundation
import GRDB
import Testing

@testable import CaseStore

/// Issue 10: the model's colour check is stored with each prediction (`v2-prediction-colour`).
@Suite struct PredictionColourTests {
  func model(_ store: CaseStore, _ dir: TempDir) throws -> Int64 {
    let src = dir.sub("m.safetensors")
    try Data("weights".utf8).write(to: URL(fileURLWithPath: src))
    let v = try store.registerModel(
      file: src, parent: nil, tasks: ["classification"], trainedTasks: ["classification"], frozenTasks: [])
    try store.promote(version: v.version)
    return v.version
  }

  @Test func colourDistanceAndFlagRoundTrip() throws {
    let dir = TempDir()
    let store = try makeStore(dir, cases: 3)
    let v = try model(store, dir)
    try store.savePredictions(
      [
        NewPrediction(
          caseID: 1, probabilities: [0.1, 0.2, 0.3, 0.4], colourDistance: 38.25, colourUnusual: true),
        NewPrediction(
          caseID: 2, probabilities: [0.7, 0.1, 0.1, 0.1], colourDistance: 2.5, colourUnusual: false),
        NewPrediction(caseID: 3, probabilities: [0.7, 0.1, 0.1, 0.1]),
      ], model: v)
    let p1 = try #require(try store.prediction(case: 1, viewer: .system))
    #expect(p1.colourDistance == 38.25 && p1.colourUnusual == true && p1.label == "Pro-B")
    let p2 = try #require(try store.prediction(case: 2, viewer: .system))
    #expect(p2.colourDistance == 2.5 && p2.colourUnusual == false)
    let p3 = try #require(try store.prediction(case: 3, viewer: .system))
    #expect(p3.colourDistance == nil && p3.colourUnusual == nil)
    // The case view reads predictions through caseDetail.
    #expect(try store.caseDetail(id: 1, viewer: .system).prediction?.colourUnusual == true)
    // Predicted again by the same version: replaced, the flag included.
    try store.savePredictions(
      [
        NewPrediction(
          caseID: 1, probabilities: [0.1, 0.2, 0.3, 0.4], colourDistance: 1, colourUnusual: false)
      ],
      model: v)
    let again = try #require(try store.prediction(case: 1, viewer: .system))
    #expect(again.colourDistance == 1 && again.colourUnusual == false)
  }

  @Test func aWorkspaceFromBeforeTheColumnsIsMigratedAndKeepsItsPredictions() throws {
    let dir = TempDir()
    let path: String
    do {
      let store = try makeStore(dir, cases: 2)
      let v = try model(store, dir)
      try store.savePredictions([NewPrediction(caseID: 1, probabilities: [0.4, 0.3, 0.2, 0.1])], model: v)
      path = store.workspace.directory
    }
    // Make it a version-1 database: no colour columns, the migration not applied.
    let db = try DatabaseQueue(path: path + "/" + Workspace.databaseFileName)
    try db.write { d in
      try d.execute(sql: "ALTER TABLE prediction DROP COLUMN colour_distance")
      try d.execute(sql: "ALTER TABLE prediction DROP COLUMN colour_unusual")
      try d.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v2-prediction-colour'")
    }
    try db.close()
    let store = try Workspace.open(path: path)
    let old = try #require(try store.prediction(case: 1, viewer: .system))
    #expect(old.label == "Benign" && old.colourDistance == nil && old.colourUnusual == nil)
    let columns = try store.read { d in
      try Row.fetchAll(d, sql: "PRAGMA table_info(prediction)").map { $0["name"] as String }
    }
    #expect(columns.contains("colour_distance") && columns.contains("colour_unusual"))
    try store.savePredictions(
      [
        NewPrediction(
          caseID: 2, probabilities: [0.1, 0.2, 0.3, 0.4], colourDistance: 50, colourUnusual: true)
      ],
      model: 1)
    #expect(try store.prediction(case: 2, viewer: .system)?.colourUnusual == true)
  }
}
