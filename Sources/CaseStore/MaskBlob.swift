import Foundation
import GRDB
import Imaging

/// A mask as stored: an 8-bit gray PNG (Imaging's encoder), addressed by the SHA-256 of its
/// bytes so identical masks are stored once and carrying a mask forward costs nothing.
struct MaskBlob {
  let png: [UInt8]
  let sha256: String
  let width: Int
  let height: Int

  init(mask: Mask) {
    png = encodePNG(mask)
    sha256 = Digest.sha256Hex(png)
    width = mask.width
    height = mask.height
  }

  /// Inserts the blob unless an identical one exists; returns its id.
  func store(_ db: Database) throws -> Int64 {
    try db.execute(
      sql:
        "INSERT INTO mask (sha256, width, height, png) VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
      arguments: [sha256, width, height, Data(png)])
    return try Int64.fetchOne(db, sql: "SELECT id FROM mask WHERE sha256 = ?", arguments: [sha256])!
  }
}

extension CaseStore {
  /// The mask with id `id` (from an annotation, adjudication, prediction or reference mask),
  /// decoded.
  public func mask(id: Int64) throws(StoreError) -> Mask {
    let png = try maskPNG(id: id)
    do {
      return try decodeMask(data: png, name: "mask \(id)")
    } catch {
      throw .corrupt(path: workspace.databasePath, detail: "stored mask \(id) does not decode: \(error)")
    }
  }

  /// The stored PNG bytes of mask `id` (export writes them as they are), checked against the
  /// SHA-256 they were stored under: a flipped byte in a mask page is reported as damage, never
  /// shown or exported as someone's mask.
  public func maskPNG(id: Int64) throws(StoreError) -> [UInt8] {
    let row = try read { db in
      try Row.fetchOne(db, sql: "SELECT sha256, png FROM mask WHERE id = ?", arguments: [id])
    }
    guard let row, let data = row["png"] as Data? else { throw .invalidInput("no mask with id \(id)") }
    let bytes = [UInt8](data)
    guard Digest.sha256Hex(bytes) == (row["sha256"] as String?) else {
      throw .corrupt(path: workspace.databasePath, detail: "stored mask \(id) no longer matches its SHA-256")
    }
    return bytes
  }

  /// The reference mask that came with the import, if any.
  public func referenceMaskID(case caseID: Int64) throws(StoreError) -> Int64? {
    try read { db in
      try Int64.fetchOne(db, sql: "SELECT mask_id FROM reference_mask WHERE case_id = ?", arguments: [caseID])
    }
  }
}
