import Foundation
import GRDB
import Imaging

/// The final nucleus mask of a case (issue 18, item 4), as `export --final` writes it: the
/// decision, not one rater's drawing.
///
/// In order: the newest adjudication's mask (`adjudication`); else the mask the raters agree on
/// (`agreement`): two or more raters drew one, every pair overlaps with a Dice of at least
/// `agreedMaskMinimumDice`, and the mask is the pixels more than half of them drew (with two
/// raters, the pixels both drew); else the mask that came with the import (`reference`); else
/// none. Blinding applies as everywhere: what the viewer may not see is not used.
public struct FinalMask: Sendable, Equatable {
  public enum Source: String, Sendable, Codable, CaseIterable {
    case adjudication, agreement, reference
  }
  public var caseID: Int64
  public var source: Source
  public var mask: Mask
  /// Whose mask it is: the adjudicator, the agreeing raters, or empty for the reference.
  public var by: [String]
  /// With `agreement`: the lowest Dice between two of the raters' masks.
  public var minimumDice: Double?
  /// Why a case has no agreed mask although raters drew some (shown beside the source).
  public var note: String?
}

/// A case with no final mask, and why.
public struct MissingFinalMask: Sendable, Equatable {
  public var caseID: Int64
  public var reason: String
}

extension CaseStore {
  /// Raters' masks count as agreed only when every pair overlaps at least this much (Dice);
  /// below it the raters disagree about the nuclei and the decision falls to the reference.
  public static let agreedMaskMinimumDice = 0.8

  /// The pixels more than half of `masks` mark (value >= 128), when there are two or more of
  /// one size and every pair has a Dice of at least `agreedMaskMinimumDice`; else nil.
  static func agreedMask(_ masks: [Mask]) -> (mask: Mask, minimumDice: Double)? {
    guard masks.count >= 2, let low = minimumPairDice(masks), low >= agreedMaskMinimumDice else { return nil }
    let (w, h) = (masks[0].width, masks[0].height)
    var votes = [Int](repeating: 0, count: w * h)
    for m in masks { for i in 0..<(w * h) where m.values[i] >= 128 { votes[i] += 1 } }
    let values = votes.map { 2 * $0 > masks.count ? UInt8(255) : 0 }
    return (Mask(width: w, height: h, values: values), low)
  }

  /// The lowest Dice between two of `masks` (two empty masks agree: 1); nil when their sizes
  /// differ or there are fewer than two.
  static func minimumPairDice(_ masks: [Mask]) -> Double? {
    guard masks.count >= 2,
      masks.allSatisfy({ $0.width == masks[0].width && $0.height == masks[0].height })
    else { return nil }
    var low = 1.0
    for i in masks.indices {
      for j in masks.indices where j > i {
        var a = 0
        var b = 0
        var both = 0
        for k in masks[i].values.indices {
          let x = masks[i].values[k] >= 128
          let y = masks[j].values[k] >= 128
          if x { a += 1 }
          if y { b += 1 }
          if x && y { both += 1 }
        }
        low = min(low, a + b == 0 ? 1 : 2 * Double(both) / Double(a + b))
      }
    }
    return low
  }

  /// The cases an export or a study report covers: the session's when given, else every case.
  public func caseIDs(session: String?) throws(StoreError) -> [Int64] {
    try read { db in
      if let session {
        let sid = try CaseStore.sessionID(db, session)
        return try Int64.fetchAll(
          db, sql: "SELECT case_id FROM session_case WHERE session_id = ? ORDER BY case_id", arguments: [sid])
      }
      return try Int64.fetchAll(db, sql: #"SELECT id FROM "case" ORDER BY id"#)
    }
  }
}
