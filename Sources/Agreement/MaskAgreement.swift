/// Agreement between two raters' nucleus masks: pixels, matched nuclei, panoptic quality
/// and the aggregated Jaccard index.

/// A map of object instances: 0 is background, each positive value one nucleus (the
/// connected components of a mask, numbered as the caller likes; values need not be
/// consecutive). The module takes labels rather than masks so that it does not depend on
/// Imaging; the CLI labels components with `Mask.connectedComponents`.
public struct InstanceMap: Sendable, Equatable {
  public let width: Int
  public let height: Int
  /// Row-major labels.
  public let labels: [Int32]

  public init(width: Int, height: Int, labels: [Int32]) throws(MaskInputError) {
    guard width >= 0, height >= 0, labels.count == width * height else {
      throw .shape(width: width, height: height, count: labels.count)
    }
    if let bad = labels.first(where: { $0 < 0 }) { throw .negativeLabel(bad) }
    self.width = width
    self.height = height
    self.labels = labels
  }
}

/// What is wrong with the masks given.
public enum MaskInputError: Error, Sendable, Equatable, CustomStringConvertible {
  case shape(width: Int, height: Int, count: Int)
  case negativeLabel(Int32)
  case sizeMismatch(a: (Int, Int), b: (Int, Int))

  public static func == (l: MaskInputError, r: MaskInputError) -> Bool {
    switch (l, r) {
    case (.shape(let a, let b, let c), .shape(let x, let y, let z)): return a == x && b == y && c == z
    case (.negativeLabel(let a), .negativeLabel(let b)): return a == b
    case (.sizeMismatch(let a, let b), .sizeMismatch(let x, let y)): return a == x && b == y
    default: return false
    }
  }

  public var description: String {
    switch self {
    case .shape(let w, let h, let c): return "a \(w)×\(h) label map needs \(w * h) labels, found \(c)"
    case .negativeLabel(let v):
      return "instance label \(v) is negative; 0 is background, objects are positive"
    case .sizeMismatch(let a, let b):
      return "the masks differ in size: \(a.0)×\(a.1) against \(b.0)×\(b.1)"
    }
  }
}

/// One pair of matched nuclei.
public struct InstanceMatch: Sendable, Equatable {
  /// Labels in the reference map and in the other map.
  public let a: Int32
  public let b: Int32
  public let intersection: Int
  public let union: Int
  public var iou: Double { Double(intersection) / Double(union) }
}

/// Mask agreement of a reference map `a` (the first rater) and another map `b`.
///
/// - Pixels: Dice = 2|A∩B| / (|A| + |B|) and IoU = |A∩B| / |A∪B| of the foregrounds.
/// - Nuclei: a pair matches when its IoU is strictly above 0.5. Within one map nuclei do not
///   overlap, so each nucleus has at most one partner above 0.5 and this one-to-one matching
///   is unique (Kirillov et al. 2019, Theorem 1). Precision = matched / nuclei in b,
///   recall = matched / nuclei in a, F1 = 2 matched / (nuclei in a + nuclei in b).
/// - Panoptic quality (Kirillov et al. 2019): SQ = mean IoU of matches, DQ = F1,
///   PQ = SQ × DQ = Σ IoU / (TP + FP/2 + FN/2).
/// - AJI (Kumar et al. 2017, MoNuSeg): each reference nucleus takes the nucleus of b with
///   the highest IoU (ties: the smaller label), reuse allowed; C = Σ |G ∩ S|,
///   U = Σ |G ∪ S| (|G| when it overlaps nothing) + |S| of every nucleus of b never taken;
///   AJI = C / U.
/// - AJI+ (Graham et al. 2019, HoVer-Net): as AJI, with pairs chosen one-to-one to
///   maximise the total IoU (Hungarian), pairs of IoU 0 dropped. When two assignments tie
///   on total IoU, either may be chosen.
public struct MaskAgreement: Sendable, Equatable {
  public let width: Int
  public let height: Int
  public let areaA: Int
  public let areaB: Int
  public let intersection: Int
  public let dice: Result<Double, Undefined>
  public let iou: Result<Double, Undefined>
  /// Number of nuclei (distinct positive labels) in each map.
  public let nucleiA: Int
  public let nucleiB: Int
  /// Pairs with IoU > 0.5, by reference label.
  public let matches: [InstanceMatch]
  public var truePositives: Int { matches.count }
  public var falsePositives: Int { nucleiB - matches.count }
  public var falseNegatives: Int { nucleiA - matches.count }
  public let precision: Result<Double, Undefined>
  public let recall: Result<Double, Undefined>
  public let f1: Result<Double, Undefined>
  public let sq: Result<Double, Undefined>
  public let dq: Result<Double, Undefined>
  public let pq: Result<Double, Undefined>
  public let aji: Result<Double, Undefined>
  public let ajiPlus: Result<Double, Undefined>
  /// AJI's numerator C and denominator U, and AJI+'s, for pooling over images.
  public let ajiIntersection: Int
  public let ajiUnion: Int
  public let ajiPlusIntersection: Int
  public let ajiPlusUnion: Int
  /// Every statistic without a value, with the reason.
  public let undefined: [Undefined]

  /// The IoU a pair must exceed (strictly) to count as a match.
  public static let matchThreshold = 0.5

  public init(reference a: InstanceMap, other b: InstanceMap) throws(MaskInputError) {
    guard a.width == b.width, a.height == b.height else {
      throw .sizeMismatch(a: (a.width, a.height), b: (b.width, b.height))
    }
    width = a.width
    height = a.height
    let la = DenseLabels(a.labels)
    let lb = DenseLabels(b.labels)
    nucleiA = la.count
    nucleiB = lb.count
    var areaA = [Int](repeating: 0, count: la.count)
    var areaB = [Int](repeating: 0, count: lb.count)
    // Overlaps of nucleus i of a and j of b, keyed i << 32 | j.
    var overlap: [UInt64: Int] = [:]
    var fgA = 0
    var fgB = 0
    var both = 0
    for p in 0..<a.labels.count {
      let i = la.index[p]
      let j = lb.index[p]
      if i >= 0 {
        areaA[Int(i)] += 1
        fgA += 1
      }
      if j >= 0 {
        areaB[Int(j)] += 1
        fgB += 1
      }
      if i >= 0 && j >= 0 {
        both += 1
        overlap[UInt64(i) << 32 | UInt64(j), default: 0] += 1
      }
    }
    self.areaA = fgA
    self.areaB = fgB
    intersection = both
    var undefined: [Undefined] = []
    let pixels = PixelOverlap(areaA: fgA, areaB: fgB, intersection: both)
    dice = pixels.dice.map { .success($0) } ?? .failure(Undefined("dice", "both masks are empty"))
    iou = pixels.iou.map { .success($0) } ?? .failure(Undefined("iou", "both masks are empty"))

    // Pairs as (i, j, intersection, union), sorted for determinism.
    let pairs = overlap.map { key, inter in
      let i = Int(key >> 32)
      let j = Int(key & 0xFFFF_FFFF)
      return OverlapPair(i: i, j: j, inter: inter, union: areaA[i] + areaB[j] - inter)
    }.sorted { ($0.i, $0.j) < ($1.i, $1.j) }

    // One-to-one matches at IoU > 0.5: IoU > 0.5 means more than half of each nucleus's
    // union, which two disjoint nuclei cannot both have with the same partner.
    var matches: [InstanceMatch] = []
    for p in pairs where 2 * p.inter > p.union {
      matches.append(
        InstanceMatch(a: la.labels[p.i], b: lb.labels[p.j], intersection: p.inter, union: p.union))
    }
    self.matches = matches
    let tp = matches.count
    precision =
      nucleiB > 0
      ? .success(Double(tp) / Double(nucleiB))
      : .failure(Undefined("precision", "the second mask has no nuclei"))
    recall =
      nucleiA > 0
      ? .success(Double(tp) / Double(nucleiA))
      : .failure(Undefined("recall", "the first mask has no nuclei"))
    if nucleiA + nucleiB > 0 {
      let f = 2 * Double(tp) / Double(nucleiA + nucleiB)
      f1 = .success(f)
      dq = .success(f)
      let iouSum = matches.reduce(0.0) { $0 + $1.iou }
      pq = .success(iouSum / (Double(tp) + Double(nucleiA - tp + nucleiB - tp) / 2))
    } else {
      f1 = .failure(Undefined("f1", "neither mask has nuclei"))
      dq = .failure(Undefined("dq", "neither mask has nuclei"))
      pq = .failure(Undefined("pq", "neither mask has nuclei"))
    }
    sq =
      tp > 0
      ? .success(matches.reduce(0.0) { $0 + $1.iou } / Double(tp))
      : .failure(Undefined("sq", "no nuclei matched at IoU > 0.5, so there is no mean matched IoU"))

    // AJI: each reference nucleus takes its best partner.
    let (c, u) = Self.ajiSums(pairs, areaA: areaA, areaB: areaB)
    aji = u > 0 ? .success(Double(c) / Double(u)) : .failure(Undefined("aji", "both masks are empty"))
    ajiIntersection = c
    ajiUnion = u

    // AJI+: the IoU-maximal one-to-one assignment.
    let (cPlus, uPlus) = Self.ajiPlusSums(pairs, areaA: areaA, areaB: areaB)
    ajiPlusIntersection = cPlus
    ajiPlusUnion = uPlus
    ajiPlus =
      uPlus > 0
      ? .success(Double(cPlus) / Double(uPlus)) : .failure(Undefined("aji_plus", "both masks are empty"))

    for r in [dice, iou, precision, recall, f1, pq, sq, dq, aji, ajiPlus] {
      if let x = r.undefined { undefined.append(x) }
    }
    self.undefined = undefined
  }

  /// AJI's intersection C and union U: each nucleus of a takes its best partner; pairs are
  /// sorted by (i, j), so the first of equal IoUs is the smaller label of b (labels are dense in
  /// increasing order). Unpaired nuclei of both masks add their area to U.
  private static func ajiSums(
    _ pairs: [OverlapPair], areaA: [Int], areaB: [Int]
  ) -> (c: Int, u: Int) {
    var best = [Int](repeating: -1, count: areaA.count)
    for (n, p) in pairs.enumerated() {
      if best[p.i] < 0 || p.iou > pairs[best[p.i]].iou { best[p.i] = n }
    }
    var c = 0
    var u = 0
    var taken = [Bool](repeating: false, count: areaB.count)
    for i in 0..<areaA.count {
      if best[i] >= 0 {
        let p = pairs[best[i]]
        c += p.inter
        u += p.union
        taken[p.j] = true
      } else {
        u += areaA[i]
      }
    }
    for j in 0..<areaB.count where !taken[j] { u += areaB[j] }
    return (c, u)
  }

  /// AJI+'s C and U: Hungarian matching within each connected group of overlapping nuclei (pairs
  /// that do not overlap have IoU 0 and cannot change the optimum, so groups are independent).
  private static func ajiPlusSums(
    _ pairs: [OverlapPair], areaA: [Int], areaB: [Int]
  ) -> (c: Int, u: Int) {
    let assigned = maximumIoUAssignment(
      pairs: pairs.map { ($0.i, $0.j, $0.iou) }, countA: areaA.count, countB: areaB.count)
    var cPlus = 0
    var uPlus = 0
    var usedA = [Bool](repeating: false, count: areaA.count)
    var usedB = [Bool](repeating: false, count: areaB.count)
    let pairIndex = Dictionary(
      uniqueKeysWithValues: pairs.enumerated().map { ($0.element.i << 32 | $0.element.j, $0.offset) })
    for (i, j) in assigned {
      let p = pairs[pairIndex[i << 32 | j]!]
      cPlus += p.inter
      uPlus += p.union
      usedA[i] = true
      usedB[j] = true
    }
    for i in 0..<areaA.count where !usedA[i] { uPlus += areaA[i] }
    for j in 0..<areaB.count where !usedB[j] { uPlus += areaB[j] }
    return (cPlus, uPlus)
  }
}

/// Nucleus i of the first mask overlapping nucleus j of the second (dense indices).
private struct OverlapPair {
  let i: Int
  let j: Int
  let inter: Int
  let union: Int
  var iou: Double { Double(inter) / Double(union) }
}

/// Labels renumbered 0..<count in increasing label order; `index[p]` is -1 for background.
private struct DenseLabels {
  var labels: [Int32] = []
  var index: [Int32]
  var count: Int { labels.count }

  init(_ raw: [Int32]) {
    let distinct = Set(raw).subtracting([0]).sorted()
    labels = distinct
    var lookup: [Int32: Int32] = [:]
    for (n, l) in distinct.enumerated() { lookup[l] = Int32(n) }
    if let maxLabel = distinct.last, Int(maxLabel) <= max(1 << 16, 4 * raw.count) {
      var table = [Int32](repeating: -1, count: Int(maxLabel) + 1)
      for (l, n) in lookup { table[Int(l)] = n }
      index = raw.map { table[Int($0)] }
    } else {
      index = raw.map { lookup[$0] ?? -1 }
    }
  }
}

/// The one-to-one pairs (i, j) maximising Σ IoU, among pairs with IoU > 0.
func maximumIoUAssignment(pairs: [(Int, Int, Double)], countA: Int, countB: Int) -> [(Int, Int)] {
  // Union-find over nodes 0..<countA (a) and countA..<countA+countB (b).
  var parent = Array(0..<(countA + countB))
  func find(_ x: Int) -> Int {
    var x = x
    while parent[x] != x {
      parent[x] = parent[parent[x]]
      x = parent[x]
    }
    return x
  }
  for (i, j, _) in pairs {
    let r1 = find(i)
    let r2 = find(countA + j)
    if r1 != r2 { parent[r1] = r2 }
  }
  var groups: [Int: [(Int, Int, Double)]] = [:]
  for p in pairs { groups[find(p.0), default: []].append(p) }
  var out: [(Int, Int)] = []
  for root in groups.keys.sorted() {
    let group = groups[root]!
    let rowsA = Array(Set(group.map(\.0))).sorted()
    let colsB = Array(Set(group.map(\.1))).sorted()
    if rowsA.count == 1 && colsB.count == 1 {
      out.append((rowsA[0], colsB[0]))
      continue
    }
    let rowOf = Dictionary(uniqueKeysWithValues: rowsA.enumerated().map { ($1, $0) })
    let colOf = Dictionary(uniqueKeysWithValues: colsB.enumerated().map { ($1, $0) })
    var cost = [Double](repeating: 0, count: rowsA.count * colsB.count)
    var positive = [Bool](repeating: false, count: rowsA.count * colsB.count)
    for (i, j, iou) in group {
      cost[rowOf[i]! * colsB.count + colOf[j]!] = -iou
      positive[rowOf[i]! * colsB.count + colOf[j]!] = iou > 0
    }
    let assignment = linearAssignment(cost: cost, rows: rowsA.count, cols: colsB.count)
    for (r, c) in assignment.enumerated() {
      if let c, positive[r * colsB.count + c] { out.append((rowsA[r], colsB[c])) }
    }
  }
  return out.sorted { $0 < $1 }
}
