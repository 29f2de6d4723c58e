import CaseStore
import Foundation
import MTACNN
import NeuralEngine
import TestSupport
import Testing

/// `train --from-workspace` on a shared workspace: the service role trains on the database's
/// current labels and reference masks (the same reading as the trainer's jobs), and a rater, who must
/// not read every blinded label, is refused by the store with both roles named.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct SharedTrainFromWorkspaceTests {
  @Test func theServiceRoleTrainsFromTheDatabaseAndARaterIsRefused() throws {
    let f = try ServiceWorkspaceFixture("shared-train-from-ws", schema: "wbc5", shippedModel: false)
    let (base, service, db) = (f.base, f.service, f.database)
    let images = try f.sampleImages(
      ["neutrophil", "lymphocyte", "monocyte", "eosinophil"], perClass: 4, classFolders: true)
    let imported = try f.asLead([
      "import", images, "--labels-from-folders", "--masks",
      EndToEnd.repositoryRoot.appendingPathComponent("SampleData/wbc-seg/masks").path,
    ])
    try #require(imported.status == 0, "\(imported.out)\n\(imported.err)")

    let out = base + "/from-db.safetensors"
    let quick = [
      "--tasks", "cls", "--size", "32", "--batch", "8", "--max-batches", "2", "--threads", "2", "--seed", "1",
    ]
    let trained = try Synthetic.run(
      ["train", "--from-workspace", "--workspace", service, "--epochs", "1", "--out", out] + quick)
    try #require(trained.status == 0, "\(trained.out)\n\(trained.err)")
    // Every imported case brought its expert mask, and training read them from the database.
    #expect(imported.out.contains("with mask: 16"), "\(imported.out)")
    let header = (trained.out + trained.err).split(separator: "\n").first { $0.hasPrefix("train: ") } ?? ""
    #expect(header.contains("labelled, ") && !header.contains(" 0 with masks"), "\(header)")
    let meta = try ModelCheckpoint.metadata(of: try SafeTensorsFile.read(path: out))
    let database = try #require(meta.trainingValue("database") as? String)
    #expect(database.contains(db), "\(database)")
    #expect(try ModelCheckpoint.load(path: out).0.classCount == 5)

    // A rater may not read every label: the store refuses before training starts.
    let ana = base + "/ana"
    try FileManager.default.createDirectory(atPath: ana, withIntermediateDirectories: true)
    let addAna = try f.asLead(["rater", "add", "bvana", "--role", "rater"])
    try #require(addAna.status == 0, "\(addAna.err)")
    try SharedWorkspace.attach(directory: ana, url: f.url(as: "bvana"))
    let refused = try Synthetic.run(
      ["train", "--from-workspace", "--workspace", ana, "--epochs", "1", "--out", base + "/ana.safetensors"]
        + quick)
    #expect(refused.status != 0)
    #expect(
      refused.err.contains("only the workspace's service role") && refused.err.contains("bvana"),
      "\(refused.err)")
    #expect(!FileManager.default.fileExists(atPath: base + "/ana.safetensors"))
  }
}
