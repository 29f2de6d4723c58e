import Foundation
import GRDB

/// Train/validation/test, fixed per case at import from its SHA-256 (see `Split.of`).
public enum Split: String, Sendable, Codable, CaseIterable, Equatable {
  case train, val, test

  /// The seed every workspace uses unless `init` is told otherwise; it is stored in the
  /// workspace (`setting.split_seed`), so a case's split never changes.
  public static let defaultSeed = "blastview-split-v1"

  /// 80/10/10 from SHA-256(seed ‖ raw image digest): the first 8 bytes as a big-endian
  /// integer modulo 10 give 0-7 train, 8 val, 9 test. Independent of import order and of
  /// the machine, and the same image always lands in the same split.
  public static func of(sha256Hex: String, seed: String = defaultSeed) -> Split {
    let bucket = Digest.splitBucket(sha256Hex: sha256Hex, seed: seed)
    switch bucket {
    case 0..<8: return .train
    case 8: return .val
    default: return .test
    }
  }
}

/// A case: one image, as imported.
public struct CaseRecord: Sendable, Equatable, Codable {
  public var id: Int64
  /// As stored: relative to the workspace's image root when `pathIsRelative`, else absolute.
  public var path: String
  public var pathIsRelative: Bool
  /// `path` resolved against the image root: what to open.
  public var imagePath: String
  public var sha256: String
  public var format: String
  public var width: Int
  public var height: Int
  /// The label that came with the import (folder name or manifest), if any.
  public var referenceLabel: String?
  public var split: Split
  public var addedAt: Date
  /// The viewer is blinded for this case: `path` is the opaque `case-<id>` (file paths carry
  /// the class, e.g. `images/lymphocyte/025.png`), and `imagePath`, kept so the image can be
  /// read, is never encoded or shown (issue 15, item 10).
  public var pathHidden: Bool = false

  /// What to show for the image: the real path, or the opaque name while blinded.
  public var shownPath: String { pathHidden ? path : imagePath }

  enum CodingKeys: String, CodingKey {
    case id, path, pathIsRelative, imagePath, sha256, format, width, height, referenceLabel, split, addedAt,
      pathHidden
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(id, forKey: .id)
    try c.encode(path, forKey: .path)
    try c.encode(pathIsRelative, forKey: .pathIsRelative)
    try c.encode(shownPath, forKey: .imagePath)
    try c.encode(sha256, forKey: .sha256)
    try c.encode(format, forKey: .format)
    try c.encode(width, forKey: .width)
    try c.encode(height, forKey: .height)
    try c.encodeIfPresent(referenceLabel, forKey: .referenceLabel)
    try c.encode(split, forKey: .split)
    try c.encode(addedAt, forKey: .addedAt)
    if pathHidden { try c.encode(true, forKey: .pathHidden) }
  }

  /// Applies the blinding of a case to its record: no reference label, no path.
  mutating func blind() {
    referenceLabel = nil
    path = CaseStore.opaqueName(id)
    pathHidden = true
  }
}

extension CaseStore {
  /// What a case's image is called while the viewer is blinded for it.
  public static func opaqueName(_ id: Int64) -> String { "case-\(id)" }
}

public enum RaterRole: String, Sendable, Codable, Equatable {
  case rater, adjudicator
}

public struct Rater: Sendable, Equatable, Codable {
  public var id: Int64
  public var name: String
  public var role: RaterRole
  public var createdAt: Date
}

/// Which fields an annotation changed relative to the rater's previous state.
public struct AnnotationFields: OptionSet, Sendable, Codable, Hashable {
  public let rawValue: Int
  public init(rawValue: Int) { self.rawValue = rawValue }
  public static let label = AnnotationFields(rawValue: 1)
  public static let mask = AnnotationFields(rawValue: 2)
}

/// One entry of the audit trail: the full state (label and mask) of one rater on one case
/// after an edit. The newest per (case, rater) is that rater's current annotation.
public struct Annotation: Sendable, Equatable, Codable {
  public var id: Int64
  public var caseID: Int64
  public var rater: String
  public var session: String?
  public var label: String?
  /// The mask, as an id for `CaseStore.mask(id:)`; nil when the rater has no mask.
  public var maskID: Int64?
  /// What this edit changed (label, mask or both); the rest was carried forward.
  public var changed: AnnotationFields
  /// The annotation of the same rater and case this one replaced.
  public var supersedes: Int64?
  public var note: String?
  public var createdAt: Date
  /// A label recorded in a blinded session after the rater's blind label there: made after
  /// seeing the others, so it is shown as a revision and not counted for agreement.
  public var revisesBlindLabel: Bool = false
}

/// A final label recorded by an adjudicator; the newest per case is the current one.
public struct Adjudication: Sendable, Equatable, Codable {
  public var id: Int64
  public var caseID: Int64
  public var label: String
  public var maskID: Int64?
  public var adjudicator: String
  public var session: String?
  public var reason: String
  public var supersedes: Int64?
  public var createdAt: Date
}

/// Who is reading. Every read that can show annotations or predictions takes one and
/// applies the blinding rules for that rater (see `Blinding.swift`).
public struct Viewer: Sendable, Equatable, Hashable {
  /// The reading rater, or nil for a process that is no rater (the trainer, a lead's
  /// script): nothing is hidden from it.
  public var rater: String?
  /// The session being worked in: it limits case lists to the session's cases and
  /// annotations of other raters to those made in the session.
  public var session: String?

  public init(rater: String?, session: String? = nil) {
    self.rater = rater
    self.session = session
  }

  public static func rater(_ name: String, session: String? = nil) -> Viewer {
    Viewer(rater: name, session: session)
  }
  /// A reader that is no rater (training, evaluation): sees everything.
  public static let system = Viewer(rater: nil)
}

/// The default rater name: the Unix user running the process.
public func defaultRaterName() -> String {
  if let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name {
    let s = String(cString: name)
    if !s.isEmpty { return s }
  }
  return ProcessInfo.processInfo.environment["USER"] ?? "rater"
}

extension CaseStore {
  /// Resolves a stored case path against the image root.
  static func resolvePath(_ path: String, relative: Bool, root: String?) -> String {
    guard relative, let root else { return path }
    return root.hasSuffix("/") ? root + path : root + "/" + path
  }

  static func caseRecord(_ r: Row, root: String?) -> CaseRecord {
    let path: String = r["path"]
    let rel: Bool = r["path_is_relative"]
    return CaseRecord(
      id: r["id"], path: path, pathIsRelative: rel, imagePath: resolvePath(path, relative: rel, root: root),
      sha256: r["sha256"], format: r["format"], width: r["width"], height: r["height"],
      referenceLabel: r["reference_label"], split: Split(rawValue: r["split"]) ?? .train,
      addedAt: date(r["added_at"]) ?? Date(timeIntervalSince1970: 0))
  }

  static let annotationColumns = """
    a.id, a.case_id, r.name AS rater, s.name AS session, a.label, a.mask_id, a.changed, a.supersedes,
    a.note, a.created_at,
    (s.blinded AND (a.changed & 1) != 0 AND EXISTS (
      SELECT 1 FROM annotation f WHERE f.session_id = a.session_id AND f.case_id = a.case_id
      AND f.rater_id = a.rater_id AND f.id < a.id AND f.label IS NOT NULL)) AS revises_blind
    """
  static let annotationJoins = """
    JOIN rater r ON r.id = a.rater_id LEFT JOIN session s ON s.id = a.session_id
    """

  static func annotation(_ r: Row) -> Annotation {
    Annotation(
      id: r["id"], caseID: r["case_id"], rater: r["rater"], session: r["session"], label: r["label"],
      maskID: r["mask_id"], changed: AnnotationFields(rawValue: r["changed"]), supersedes: r["supersedes"],
      note: r["note"], createdAt: date(r["created_at"]) ?? Date(timeIntervalSince1970: 0),
      revisesBlindLabel: (r["revises_blind"] as Bool?) ?? false)
  }
}
