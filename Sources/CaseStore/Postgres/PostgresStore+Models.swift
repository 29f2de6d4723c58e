import FileSafety
import Foundation

/// The model registry of a shared workspace (`ModelRegistryStore`), through the functions of
/// migration `pg-v6-models`: the server checks who may promote, roll back or change the gate,
/// and withholds the weights from a rater the session hides the model from. Model files live
/// in the database by SHA-256; `verifiedModelFile` checks the bytes on read and keeps them in
/// this user's private cache.
extension PostgresStore: ModelRegistryStore {
  /// A model file's address in a shared workspace (its bytes are in the database).
  static func modelAddress(_ sha256: String) -> String { "sha256:" + sha256 }

  public func models() throws(StoreError) -> [ModelVersion] {
    try connection.query("SELECT * FROM blastview.models()").map(PostgresStore.modelVersion)
  }

  public func model(version: Int64) throws(StoreError) -> ModelVersion {
    guard let m = try models().first(where: { $0.version == version }) else { throw .unknownModel(version) }
    return m
  }

  public func promotedModel() throws(StoreError) -> ModelVersion? {
    try models().first(where: \.isPromoted)
  }

  public func modelPromotions() throws(StoreError) -> [ModelPromotion] {
    try connection.query("SELECT * FROM blastview.model_promotions()").map { r in
      ModelPromotion(
        id: r.int("id") ?? 0, version: r.int("model_version") ?? 0, by: r["promoted_by"], reason: r["reason"],
        at: r.date("promoted_at") ?? Date(timeIntervalSince1970: 0))
    }
  }

  public func rollbackTarget() throws(StoreError) -> Int64? {
    guard let current = try promotedModel() else { return nil }
    if let parent = current.parent { return parent }
    return try modelPromotions().first { $0.version != current.version }?.version
  }

  /// A lead's promotion is recorded under the connected role whatever `by` says; the service
  /// role's (an automatic promotion the gate allowed) under `by`, the job that made it.
  public func promote(version: Int64, by: String?, reason: String?) throws(StoreError) {
    if !isService, let by { _ = try actingRater(claimed: by) }
    try connection.transaction { () throws(StoreError) in
      try connection.query(
        "SELECT blastview.model_promote($1, $2, $3)", [.int(version), .optional(reason), .optional(by)])
    }
  }

  public func predictionCoverage(model: Int64) throws(StoreError) -> (predicted: Int, total: Int) {
    let r = try connection.query("SELECT * FROM blastview.model_coverage($1)", [.int(model)]).first
    return (Int(r?.int("predicted") ?? 0), Int(r?.int("total") ?? 0))
  }

  public func setRetrainingSetting(_ key: String, _ value: String) throws(StoreError) {
    try connection.transaction { () throws(StoreError) in
      try connection.query("SELECT blastview.gate_setting_set($1, $2)", [.text(key), .text(value)])
    }
  }

  /// The weights as the database holds them (refused while a session hides the model from the
  /// connected rater), checked against the SHA-256 and written once into this user's cache
  /// (`models/<sha256>.safetensors`, 0600); a cached copy is re-checked before each use.
  public func verifiedModelFile(_ model: ModelVersion) throws(StoreError) -> String {
    let dir = workspace.modelsDirectory
    let path = dir + "/" + model.sha256 + ".safetensors"
    if (try? Digest.sha256Hex(fileAt: path)) == model.sha256 { return path }
    guard
      let r = try connection.query("SELECT * FROM blastview.model_file($1)", [.int(model.version)]).first,
      let bytes = r.bytes("bytes")
    else { throw .unknownModel(model.version) }
    guard Digest.sha256Hex(bytes) == model.sha256, r["sha256"] == model.sha256 else {
      throw .modelFileMismatch(version: model.version, path: PostgresStore.modelAddress(model.sha256))
    }
    do {
      try SafeFile.makeDirectories(dir, mode: 0o700)
      let tmp = try SafeFile.writeTemporary(bytes, in: dir, base: "incoming", mode: 0o600)
      defer { unlink(tmp) }
      try SafeFile.install(tmp, at: path, replace: true)
    } catch {
      throw .io(path: path, reason: error.why)
    }
    return path
  }

  static func modelVersion(_ r: PGRow) -> ModelVersion {
    func json<T: Decodable>(_ t: T.Type, _ name: String) -> T? {
      r[name].flatMap { try? JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }
    let sha = r["sha256"] ?? ""
    return ModelVersion(
      version: r.int("version") ?? 0, parent: r.int("parent"), file: modelAddress(sha), sha256: sha,
      tasks: json([String].self, "tasks") ?? [], trainedTasks: json([String].self, "trained_tasks") ?? [],
      frozenTasks: json([String].self, "frozen_tasks") ?? [], frozenVerified: r.bool("frozen_verified"),
      metrics: json(JSONValue.self, "metrics") ?? .null, config: json(JSONValue.self, "config") ?? .null,
      trainingJobID: r.int("training_job_id"), trainedThroughAnnotation: r.int("trained_through_annotation"),
      notes: r["notes"], createdAt: r.date("created_at") ?? Date(timeIntervalSince1970: 0),
      isPromoted: r.bool("is_promoted") ?? false, promotedAt: r.date("promoted_at"))
  }
}
