import Agreement
import CaseStore
import Foundation
import Imaging

/// Two raters' nucleus masks over the session cases where both drew one: per case and
/// pooled (the numbers of `blastview agree-masks --session`, which calls this).
public struct MaskPairAgreement: Sendable, Equatable {
  public struct Case: Sendable, Equatable {
    public let caseID: Int64
    public let agreement: MaskAgreement
  }

  /// The reference rater (recall is over their nuclei) and the other.
  public let a: String
  public let b: String
  public let cases: [Case]
  public let summary: MaskAgreementSummary
  /// Cases where only one of the two has a mask.
  public let onlyA: Int
  public let onlyB: Int

  /// Compares `a`'s and `b`'s masks among `rows` (a session's current masks as the viewer
  /// sees them), in case order.
  public static func compute(
    store: CaseStore, rows: [RaterMask], a: String, b: String, threshold: UInt8 = 128,
    connectivity: Connectivity = .eight, cache: MaskAgreementCache? = nil
  ) throws(SessionAgreementError) -> MaskPairAgreement {
    var byCase: [Int64: [String: Int64]] = [:]
    for r in rows where r.rater == a || r.rater == b { byCase[r.caseID, default: [:]][r.rater] = r.maskID }
    let both = byCase.keys.sorted().filter { byCase[$0]!.count == 2 }
    let onlyA = byCase.values.filter { $0.count == 1 && $0[a] != nil }.count
    let onlyB = byCase.values.filter { $0.count == 1 && $0[b] != nil }.count
    var cases: [Case] = []
    for c in both {
      let key = MaskAgreementCache.Key(
        a: byCase[c]![a]!, b: byCase[c]![b]!, threshold: threshold,
        connectivity: connectivity == .four ? 4 : 8)
      if let hit = cache?.lookup(key) {
        cases.append(Case(caseID: c, agreement: hit))
        continue
      }
      let ma: Mask
      let mb: Mask
      do {
        ma = try store.mask(id: key.a)
        mb = try store.mask(id: key.b)
      } catch {
        throw .store(error)
      }
      guard ma.width == mb.width, ma.height == mb.height else {
        throw .input(
          "case \(c): the raters' masks differ in size (\(ma.width)×\(ma.height) and \(mb.width)×\(mb.height))"
        )
      }
      let agreement: MaskAgreement
      do {
        agreement = try MaskAgreement(
          reference: try instances(ma, threshold, connectivity),
          other: try instances(mb, threshold, connectivity))
      } catch {
        throw .input("case \(c): \(error)")
      }
      cache?.store(key, agreement)
      cases.append(Case(caseID: c, agreement: agreement))
    }
    return MaskPairAgreement(
      a: a, b: b, cases: cases, summary: MaskAgreementSummary(cases.map(\.agreement)), onlyA: onlyA,
      onlyB: onlyB)
  }

  static func instances(_ mask: Mask, _ threshold: UInt8, _ connectivity: Connectivity) throws(MaskInputError)
    -> InstanceMap
  {
    let c = mask.connectedComponents(connectivity: connectivity, threshold: threshold)
    return try InstanceMap(width: c.width, height: c.height, labels: c.labels)
  }
}

/// Mask comparisons kept between dashboard refreshes, keyed by the two stored masks (masks
/// are content-addressed and never change, so a key's value never goes stale). Bounded; safe
/// from any thread.
public final class MaskAgreementCache: @unchecked Sendable {
  public struct Key: Hashable, Sendable {
    public var a: Int64
    public var b: Int64
    public var threshold: UInt8
    public var connectivity: Int
  }

  private let lock = NSLock()
  private var entries: [Key: MaskAgreement] = [:]
  private let limit: Int

  public init(limit: Int = 20_000) { self.limit = limit }

  func lookup(_ key: Key) -> MaskAgreement? {
    lock.lock()
    defer { lock.unlock() }
    return entries[key]
  }

  func store(_ key: Key, _ value: MaskAgreement) {
    lock.lock()
    defer { lock.unlock() }
    if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
    entries[key] = value
  }

  public var count: Int {
    lock.lock()
    defer { lock.unlock() }
    return entries.count
  }
}
