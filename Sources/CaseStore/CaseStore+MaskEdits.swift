import Foundation
import GRDB
import Imaging

/// Where a mask edit started: the rater's annotation the editor loaded (nil when they had
/// none) and its mask (nil when it had none, i.e. an empty mask).
public struct MaskEditBase: Sendable, Equatable {
  public var annotationID: Int64?
  public var mask: Mask?
  public init(annotationID: Int64?, mask: Mask?) {
    self.annotationID = annotationID
    self.mask = mask
  }
}

/// The result of saving an edited mask.
public struct MaskEditSave: Sendable, Equatable {
  public var annotation: Annotation
  /// The mask as saved: the edit itself, or the edit merged into a mask saved meanwhile.
  public var mask: Mask
  /// Another editor (another window or process of the same rater) had saved a mask since
  /// this edit's base; its changes were kept and this edit's changes applied on top.
  public var merged: Bool
}

/// Lost updates between two editors (issue 15, item 11). The same rater with the case open
/// in two review processes: stroke A is saved from one, then the other saves its full mask,
/// made on the older version, and A's pixels vanish. A save therefore carries the version it
/// was made on (`MaskEditBase`); inside the write transaction, when the rater's current
/// annotation is no longer that version and a mask was saved since, the edit is merged
/// pixel by pixel (three-way: where this edit left a pixel as it was in the base, the newer
/// saved value stays; where it changed it, its value wins), so neither editor's strokes are
/// lost, and the caller is told it was merged so the screen can say so.
extension CaseStore {
  public func saveMaskEdit(
    case caseID: Int64, rater: String, mask: Mask, base: MaskEditBase, session: String? = nil
  ) throws(StoreError) -> MaskEditSave {
    try CaseStore.validateRaterName(rater)
    if let b = base.mask, b.width != mask.width || b.height != mask.height {
      throw .maskSizeMismatch(
        caseID: caseID, expected: "\(mask.width)×\(mask.height)", got: "\(b.width)×\(b.height)")
    }
    let now = CaseStore.timestamp(Date())
    return try write { db in
      let raterID = try CaseStore.raterID(db, rater)
      var current: Row? = nil
      if let raterID {
        if let session {
          let sid = try CaseStore.sessionID(db, session)
          current = try Row.fetchOne(
            db,
            sql:
              "SELECT annotation_id, mask_id FROM session_current WHERE session_id = ? AND case_id = ? AND rater_id = ?",
            arguments: [sid, caseID, raterID])
        } else {
          current = try Row.fetchOne(
            db,
            sql: "SELECT annotation_id, mask_id FROM current_annotation WHERE case_id = ? AND rater_id = ?",
            arguments: [caseID, raterID])
        }
      }
      let currentID: Int64? = current?["annotation_id"]
      var toSave = mask
      var merged = false
      if currentID != base.annotationID {
        // Saved meanwhile. Only a mask saved since matters: a label change is carried forward.
        let baseMaskID: Int64? =
          try base.annotationID.flatMap {
            try Int64.fetchOne(db, sql: "SELECT mask_id FROM annotation WHERE id = ?", arguments: [$0])
          }
        let theirsID: Int64? = current?["mask_id"]
        if theirsID != baseMaskID {
          let theirs: Mask
          if let theirsID {
            let png =
              try Data.fetchOne(db, sql: "SELECT png FROM mask WHERE id = ?", arguments: [theirsID]) ?? Data()
            do { theirs = try decodeMask(data: [UInt8](png), name: "mask \(theirsID)") } catch {
              throw StoreError.corrupt(
                path: self.workspace.databasePath, detail: "stored mask \(theirsID) does not decode: \(error)"
              )
            }
          } else {
            theirs = Mask(width: mask.width, height: mask.height)
          }
          guard theirs.width == mask.width, theirs.height == mask.height else {
            throw StoreError.maskSizeMismatch(
              caseID: caseID, expected: "\(theirs.width)×\(theirs.height)",
              got: "\(mask.width)×\(mask.height)")
          }
          let b = base.mask?.values ?? [UInt8](repeating: 0, count: mask.values.count)
          for i in toSave.values.indices where mask.values[i] == b[i] { toSave.values[i] = theirs.values[i] }
          merged = true
        }
      }
      let a = try CaseStore.appendAnnotation(
        db, caseID: caseID, rater: rater, label: nil, mask: toSave, encoded: MaskBlob(mask: toSave),
        session: session, clear: [], changed: .mask, note: nil, now: now)
      return MaskEditSave(annotation: a, mask: toSave, merged: merged)
    }
  }
}
