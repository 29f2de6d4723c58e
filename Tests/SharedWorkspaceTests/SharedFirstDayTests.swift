import CaseStore
import Foundation
import TestSupport
import Testing

/// Issue 18's "predictions out of the box" on a shared workspace (issue 16): the service role's
/// `init --database --schema all4` stores the shipped model in the database and promotes it,
/// a later `init` adds none, and `train --watch` (the service trainer) predicts the cases a lead
/// imports, since on a shared workspace only the service role stores predictions.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct SharedFirstDayTests {
  @Test func theServiceInitRegistersTheShippedModelAndTheTrainerPredictsImports() throws {
    let f = try ServiceWorkspaceFixture("shared-first-day", schema: "all4")
    let service = f.service
    #expect(f.initOutput.contains("model: v1 registered into the database and promoted"), "\(f.initOutput)")
    let store = try PostgresStore.open(f.url(as: "blastview"))
    let v1 = try #require(try store.promotedModel())
    let shipped = EndToEnd.repositoryRoot.appendingPathComponent("Models/all4.safetensors").path
    let sum = try OSUsers.shell("/usr/bin/sha256sum", [shipped])
    #expect(v1.version == 1 && v1.sha256 == String(sum.out.prefix(64)))

    // A later init of the same database (an upgrade, another directory) only attaches.
    let again = try Synthetic.run([
      "init", "--workspace", f.base + "/again", "--database", f.url(as: "blastview"),
    ])
    #expect(again.status == 0, "\(again.err)")
    #expect(!again.out.contains("registered"), "\(again.out)")
    #expect(try store.models().count == 1)

    // The lead imports three images; nobody has predicted them yet.
    let images = try f.sampleImages(["lymphocyte"], perClass: 3, classFolders: false)
    let imported = try f.asLead(["import", images])
    try #require(imported.status == 0, "\(imported.err)")
    #expect(try store.predictionCoverage(model: 1) == (predicted: 0, total: 3))

    let watch = try Synthetic.run([
      "train", "--watch", "--until-idle", "--workspace", service, "--threads", "2",
    ])
    try #require(watch.status == 0, "\(watch.out)\n\(watch.err)")
    #expect(watch.out.contains("predicted 3 new cases with v1"), "\(watch.out)")
    #expect(try store.predictionCoverage(model: 1) == (predicted: 3, total: 3))
    let first = try #require(try store.cases(afterID: 0, limit: 1, viewer: .system).first)
    let p = try #require(try store.prediction(case: first.id, model: 1, viewer: .system))
    #expect(p.probabilities.count == 4 && abs(p.probabilities.reduce(0, +) - 1) < 1e-6)

    // Nothing new: the next watch predicts nothing.
    let idle = try Synthetic.run([
      "train", "--watch", "--until-idle", "--workspace", service, "--threads", "2",
    ])
    #expect(idle.status == 0 && !idle.out.contains("predicted"), "\(idle.out)")
  }
}
