import CaseStore
import Foundation
import TestSupport
import Testing

/// A shared workspace set up the way a department's IT would: a fresh database, the service
/// workspace made by `init` as the `blastview` service role with `bvlead` as its lead, and the
/// lead's own directory attached over their role. The in-process shared suites start here; the
/// OS-user suites (`SharedWorkspaceIdentityTests`, the second host) set up theirs as those
/// users, which is what they test.
struct ServiceWorkspaceFixture {
  let pg: PGTestCluster
  let database: String
  /// The test's scratch folder: `service`, `lead` and `images` live under it.
  let base: String
  /// What `init` printed (the shipped model's registration among it).
  let initOutput: String

  var service: String { base + "/service" }
  var lead: String { base + "/lead" }

  /// `schema` is the workspace's; without `shippedModel` the init registers no model
  /// (`--no-model`).
  init(_ name: String, schema: String, shippedModel: Bool = true) throws {
    pg = try PGTestCluster.require()
    database = try pg.createDatabase()
    base = Synthetic.folder(name)
    let made = try Synthetic.run(
      [
        "init", "--workspace", base + "/service", "--database", pg.url(database, as: "blastview"), "--schema",
        schema, "--lead", "bvlead",
      ] + (shippedModel ? [] : ["--no-model"]))
    try #require(made.status == 0, "\(made.err)")
    initOutput = made.out
    try SharedWorkspace.attach(directory: base + "/lead", url: pg.url(database, as: "bvlead"))
  }

  /// The database's URL connecting as `role`.
  func url(as role: String) -> String { pg.url(database, as: role) }

  /// Copies the first `perClass` SampleData wbc-seg images of each class into `base/images`:
  /// into a folder per class (for `--labels-from-folders`) when `classFolders`, else side by side.
  /// Returns the folder.
  func sampleImages(_ classes: [String], perClass: Int, classFolders: Bool) throws -> String {
    let images = base + "/images"
    let source = EndToEnd.repositoryRoot.appendingPathComponent("SampleData/wbc-seg/images").path
    for cls in classes {
      let into = classFolders ? images + "/" + cls : images
      try FileManager.default.createDirectory(atPath: into, withIntermediateDirectories: true)
      for n in try FileManager.default.contentsOfDirectory(atPath: source + "/" + cls).sorted().prefix(
        perClass)
      {
        try FileManager.default.copyItem(atPath: source + "/" + cls + "/" + n, toPath: into + "/" + n)
      }
    }
    return images
  }

  /// Runs the CLI in the lead's directory: `arguments` then `--workspace lead`.
  func asLead(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    try Synthetic.run(arguments + ["--workspace", lead])
  }
}
