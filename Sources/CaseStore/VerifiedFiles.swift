import Foundation
import Imaging

/// Files the store trusts by path after import: a case's image, a registered model. Their
/// SHA-256 was recorded then; every read here checks the bytes against it, so an image or a
/// model replaced on disk is refused (naming the file and what changed) instead of being
/// shown, explained, annotated or used for predictions under the old identity.
///
/// Cheap: a file whose identity (device, inode, size, mtime, ctime of the descriptor it was
/// read through; see `ImageFileBytes`) is the one already verified in this process is not
/// hashed again. Any change to the file changes its ctime or inode, so the hash runs again.
/// Nothing is stored in the database, so workspaces made before this check work unchanged.
extension CaseStore {
  /// Decodes a case's image after checking its bytes against the recorded SHA-256.
  public static func decodeVerifiedImage(at path: String, sha256: String, limits: DecodeLimits = .default)
    throws(ImageError) -> RGBImage
  {
    let file = try readImageBytes(at: path, limits: limits)
    try verify(file, path: path, sha256: sha256)
    return try decodeImage(data: file.bytes, name: path, limits: limits)
  }

  /// Checks a case's image file against its recorded SHA-256 without decoding it.
  public static func verifyImageFile(at path: String, sha256: String) throws(ImageError) {
    try verify(try readImageBytes(at: path), path: path, sha256: sha256)
  }

  /// What is wrong with a case's image file, or nil: the case view shows this instead of the
  /// image, and annotating refuses.
  public static func imageProblem(_ record: CaseRecord) -> String? {
    do { try verifyImageFile(at: record.imagePath, sha256: record.sha256) } catch { return error.description }
    return nil
  }

  /// Refuses to record anything on a case whose image was replaced since import: the rater
  /// would be labelling a picture that is not the case. (A missing file is not refused here:
  /// a workspace can be used where its images are not mounted.)
  public func requireUnchangedImage(case caseID: Int64) throws(StoreError) {
    let record = try caseRecord(id: caseID, viewer: .system)
    do { try CaseStore.verifyImageFile(at: record.imagePath, sha256: record.sha256) } catch {
      if case .changedSinceImport = error.reason {
        throw .invalidInput("case \(caseID): \(error.description); nothing was recorded")
      }
    }
  }

  /// Whether the file at `path` (a registered model) still has SHA-256 `sha256`.
  public static func fileMatches(path: String, sha256: String) -> Bool {
    (try? Digest.sha256Hex(fileAt: path)) == sha256
  }

  /// `decodeVerifiedImage` for a case record.
  public static func decodeVerifiedImage(_ record: CaseRecord) throws(ImageError) -> RGBImage {
    try decodeVerifiedImage(at: record.imagePath, sha256: record.sha256)
  }

  static func verify(_ file: ImageFileBytes, path: String, sha256: String) throws(ImageError) {
    let key = path + "\u{0}" + sha256
    if VerifiedIdentities.shared.contains(key, identity: file.identity) { return }
    let now = Digest.sha256Hex(file.bytes)
    guard now == sha256 else {
      throw ImageError(path: path, reason: .changedSinceImport(recorded: sha256, now: now))
    }
    VerifiedIdentities.shared.insert(key, identity: file.identity)
  }

  /// Checks a registered model's file against the registry's SHA-256 before it is loaded
  /// (predictions, explanations, retraining); a file replaced in place is refused.
  public func verifyModelFile(_ model: ModelVersion) throws(StoreError) {
    guard (try? Digest.sha256Hex(fileAt: model.file)) == model.sha256 else {
      throw .modelFileMismatch(version: model.version, path: model.file)
    }
  }
}

/// File identities already checked in this process, per (path, expected hash).
final class VerifiedIdentities: @unchecked Sendable {
  static let shared = VerifiedIdentities()
  private let lock = NSLock()
  private var seen: [String: String] = [:]

  func contains(_ key: String, identity: String) -> Bool {
    lock.lock()
    defer { lock.unlock() }
    return seen[key] == identity
  }

  func insert(_ key: String, identity: String) {
    lock.lock()
    defer { lock.unlock() }
    if seen.count > 100_000 { seen.removeAll() }
    seen[key] = identity
  }
}
