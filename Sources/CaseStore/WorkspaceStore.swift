import Foundation
import Imaging

/// A role in a workspace. `lead` (adds raters, changes roles, closes any session) exists only
/// in a shared workspace, where roles are enforced by PostgreSQL; in an embedded workspace
/// the file permissions are the access control and there are raters and adjudicators.
public enum WorkspaceRole: String, Sendable, Codable, CaseIterable, Equatable {
  case rater, adjudicator, lead
}

/// A rater as both backends report them.
public struct WorkspaceRater: Sendable, Equatable, Codable {
  public var name: String
  /// nil: a name that acted in the workspace but no longer holds any role.
  public var role: WorkspaceRole?

  public init(name: String, role: WorkspaceRole?) {
    self.name = name
    self.role = role
  }
}

/// The operations the shared-workspace commands need (`init`, `rater`, `import`, `annotate`,
/// `history`, `session`, `labels import`, `agree --session`), specified once for both
/// backends: the embedded SQLite store (`CaseStore`) and the PostgreSQL one
/// (`PostgresStore`). The contract tests (`StoreContractTests`) run the same assertions on
/// both, so a behaviour defined here cannot drift between them.
///
/// The one intended difference is identity: SQLite believes the `rater` a caller names;
/// PostgreSQL knows who is connected (`connectedRater`) and refuses any other name.
public protocol WorkspaceStore: AnyObject, Sendable {
  var labelSchema: LabelSchema { get }
  /// The rater the database says is connected (PostgreSQL: `session_user`); nil when the
  /// backend takes the caller's word (SQLite).
  var connectedRater: String? { get }

  /// Adds a rater with a role, or changes the role of an existing one.
  @discardableResult
  func addRater(_ name: String, role: WorkspaceRole) throws(StoreError) -> WorkspaceRater
  func workspaceRaters() throws(StoreError) -> [WorkspaceRater]

  func importImages(_ options: ImportOptions, progress: (ImportProgress) -> Void) throws(StoreError)
    -> ImportSummary
  func resolveCase(_ text: String) throws(StoreError) -> Int64
  func caseRecord(id: Int64, viewer: Viewer) throws(StoreError) -> CaseRecord
  func caseCount() throws(StoreError) -> Int
  /// The image's bytes, checked against the case's SHA-256.
  func imageBytes(case id: Int64) throws(StoreError) -> [UInt8]
  /// Refuses (naming the file and what changed) to record anything on a case whose image is
  /// no longer the one imported.
  func requireUnchangedImage(case caseID: Int64) throws(StoreError)

  @discardableResult
  func annotate(
    case caseID: Int64, rater: String, label: String?, mask: Mask?, session: String?, clear: AnnotationFields,
    note: String?
  ) throws(StoreError) -> Annotation
  func history(case caseID: Int64, viewer: Viewer) throws(StoreError) -> [Annotation]
  func importLabels(csvPath: String, session: String?) throws(StoreError) -> [Annotation]

  @discardableResult
  func createSession(
    name: String, raters: [String], cases: CaseSelection, blinded: Bool, hideModel: Bool, createdBy: String
  ) throws(StoreError) -> SessionInfo
  func closeSession(_ name: String, by rater: String) throws(StoreError)
  func session(named name: String) throws(StoreError) -> SessionInfo
  func sessions() throws(StoreError) -> [SessionInfo]
  func currentLabels(session: String, viewer: Viewer) throws(StoreError) -> [RaterLabel]

  // Audit
  /// Recomputes the audit chain (`AuditChain`) and names the first broken link.
  func verifyAuditChain() throws(StoreError) -> AuditChain.Verification
}

extension WorkspaceStore {
  /// The rater a command acts as: `claimed` (`--rater`) when given, else who the database
  /// says is connected, else the Unix user. A shared workspace refuses a claim that is not
  /// the connected role, naming both.
  public func actingRater(claimed: String?) throws(StoreError) -> String {
    guard let connected = connectedRater else { return claimed ?? defaultRaterName() }
    if let claimed, claimed != connected {
      throw .invalidInput(
        "--rater \(claimed) refused: this shared workspace knows you as \(connected) (the PostgreSQL role "
          + "you are connected as); nobody acts as another rater")
    }
    return connected
  }
}

extension CaseStore: WorkspaceStore {
  public var connectedRater: String? { nil }

  @discardableResult
  public func addRater(_ name: String, role: WorkspaceRole) throws(StoreError) -> WorkspaceRater {
    guard let r = RaterRole(rawValue: role.rawValue) else {
      throw .invalidInput(
        "the role \(role.rawValue) exists only in a shared (PostgreSQL) workspace; an embedded workspace has "
          + "raters and adjudicators")
    }
    let rater = try setRole(r, for: name)
    return WorkspaceRater(name: rater.name, role: WorkspaceRole(rawValue: rater.role.rawValue))
  }

  public func workspaceRaters() throws(StoreError) -> [WorkspaceRater] {
    try raters().map { WorkspaceRater(name: $0.name, role: WorkspaceRole(rawValue: $0.role.rawValue)) }
  }

  public func imageBytes(case id: Int64) throws(StoreError) -> [UInt8] {
    let record = try caseRecord(id: id, viewer: .system)
    let bytes: [UInt8]
    switch FileWalk.readFile(record.imagePath) {
    case .success(let b): bytes = b
    case .failure(let issue): throw .io(path: issue.path, reason: issue.reason)
    }
    guard Digest.sha256Hex(bytes) == record.sha256 else {
      throw .io(path: record.imagePath, reason: "its SHA-256 is not the case's any more (the file changed)")
    }
    return bytes
  }
}
