import Foundation
import Imaging

/// The operations the review TUI (`blastview review`) needs, specified once for both backends:
/// browsing (keyset pages under a filter and sort), the case view, labelling and mask edits,
/// session queues, triage and adjudication. `CaseStore` (SQLite) and `PostgresStore` implement
/// it with the same blinding rules; the contract tests (`ReviewStoreContractTests`) run the
/// same assertions on both. The model screen reads and changes the registry through
/// `ModelRegistryStore`, and the agreement dashboard reads through `SessionAgreementSource`;
/// both backends provide both.
///
/// On PostgreSQL every rule is applied by the server's functions (`PGFunctionsReview`), so the
/// TUI cannot show a rater more than `psql` would give him, and an adjudication by anyone
/// without the adjudicator role is refused by the database, not only by the screen.
public protocol ReviewStore: ModelRegistryStore, SessionAgreementSource {
  /// The workspace directory: an embedded workspace's, or the local directory of a shared one
  /// (its database URL and this user's caches: thumbnails, explanations).
  var workspace: Workspace { get }
  /// The embedded store, for what runs only there for now (queueing a retraining from the app,
  /// background predictions); nil on a shared workspace.
  var embeddedStore: CaseStore? { get }

  /// Registers `rater` for reviewing if needed and returns their role. A shared workspace
  /// refuses any name but the connected role's, and a role that is no rater of the workspace.
  func enrolReviewer(_ rater: String) throws(StoreError) -> RaterRole
  /// The rater's role as the store has it now (a lead may have changed it meanwhile); a
  /// shared workspace's lead reviews as a rater (adjudication needs the adjudicator role).
  func reviewRole(of rater: String) throws(StoreError) -> RaterRole

  func casePage(_ request: CasePageRequest, viewer: Viewer) throws(StoreError) -> CasePage
  func caseCount(_ filter: CaseFilter, viewer: Viewer) throws(StoreError) -> Int
  func caseDetail(id: Int64, viewer: Viewer) throws(StoreError) -> CaseDetail
  /// A stored mask (one the viewer was given the id of), decoded.
  func storedMask(id: Int64) throws(StoreError) -> Mask
  /// The case image at a `CaseRecord.imagePath` / `CaseRow.imagePath`, checked where the
  /// backend can (a shared workspace's images are content-addressed and verified on read).
  func caseImage(at imagePath: String) throws(StoreError) -> RGBImage
  /// The case image, refused unless its bytes have `sha256` (the case's recorded hash): what
  /// an explanation is computed on.
  func verifiedCaseImage(at imagePath: String, sha256: String) throws(StoreError) -> RGBImage
  func saveMaskEdit(case caseID: Int64, rater: String, mask: Mask, base: MaskEditBase, session: String?)
    throws(StoreError) -> MaskEditSave

  func promotedModelVersion() throws(StoreError) -> Int64?
  /// The promoted model's version and its checkpoint's metadata entry `key` (the screening
  /// operating point is `operating_point`), read without the weights; nil without a promoted
  /// model.
  func promotedModelMetadata(_ key: String) throws(StoreError) -> ModelMetadataEntry?
  /// A local file holding the registered weights of `version` and their SHA-256, for the
  /// explanations; nil when no such version is registered. A shared workspace refuses while a
  /// session hides the model from the rater (the weights would reveal what it hides).
  func modelFileForReading(version: Int64) throws(StoreError) -> (path: String, sha256: String)?
  func setting(_ key: String) throws(StoreError) -> String?
  /// A number that moves when another process (or client) commits something the app shows.
  func externalChangeVersion() throws(StoreError) -> Int

  /// `possiblyMalignantFrom`: the promoted model's screening operating point (a case at or
  /// above it that a rater called Benign comes first).
  func triageQueue(
    viewer: Viewer, confidenceBelow: Double, limit: Int, session: String?, possiblyMalignantFrom: Double?
  ) throws(StoreError) -> [TriageItem]
  func adjudicate(
    case caseID: Int64, adjudicator: String, label: String, mask: Mask?, reason: String, session: String?
  ) throws(StoreError) -> Adjudication

}

extension CaseStore: ReviewStore {
  public var embeddedStore: CaseStore? { self }

  public func enrolReviewer(_ rater: String) throws(StoreError) -> RaterRole {
    try ensureRater(rater).role
  }

  public func reviewRole(of rater: String) throws(StoreError) -> RaterRole {
    try self.rater(named: rater)?.role ?? .rater
  }

  public func caseImage(at imagePath: String) throws(StoreError) -> RGBImage {
    do { return try decodeImage(at: imagePath) } catch {
      throw .io(path: imagePath, reason: error.description)
    }
  }

  public func verifiedCaseImage(at imagePath: String, sha256: String) throws(StoreError) -> RGBImage {
    do { return try CaseStore.decodeVerifiedImage(at: imagePath, sha256: sha256) } catch {
      throw .io(path: imagePath, reason: error.description)
    }
  }

  public func promotedModelVersion() throws(StoreError) -> Int64? { try promotedModel()?.version }

  public func promotedModelMetadata(_ key: String) throws(StoreError) -> ModelMetadataEntry? {
    guard let m = try promotedModel() else { return nil }
    return ModelMetadataEntry(
      version: m.version,
      value: CheckpointHeader.entry(key, inMetadataJSON: CheckpointHeader.metadataJSON(file: m.file)))
  }

  public func modelFileForReading(version: Int64) throws(StoreError) -> (path: String, sha256: String)? {
    try models().first { $0.version == version }.map { ($0.file, $0.sha256) }
  }

  public func storedMask(id: Int64) throws(StoreError) -> Mask { try mask(id: id) }
}
