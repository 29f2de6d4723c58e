import Foundation
import Imaging

/// An explanation as a file, so the review app's cache outlives the process (LIME costs seconds).
/// Maps and region labels are stored as little-endian binary (base64 in JSON): a 128 × 128 heatmap
/// is 64 KB of floats rather than a quarter-megabyte of decimal text. `version` guards the layout.
extension ImageExplanation: Codable {
  static let codingVersion = 1

  enum CodingKeys: String, CodingKey {
    case version, method
    case classIndex = "class_index"
    case className = "class_name"
    case probabilities
    case heatmap, superpixels
    case regionWeights = "region_weights"
    case topRegions = "top_regions"
    case fitScore = "fit_r2"
    case cam
    case cornerRect = "corner_rect"
    case cornerShare = "corner_share"
    case cornerAreaShare = "corner_area_share"
    case cornerSource = "corner_source"
    case cornerBlanked = "corner_blanked"
  }

  /// A map or a label image: its size and its values' bytes.
  struct Plane: Codable {
    var width: Int
    var height: Int
    var data: Data
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(Self.codingVersion, forKey: .version)
    try c.encode(method, forKey: .method)
    try c.encode(classIndex, forKey: .classIndex)
    try c.encode(className, forKey: .className)
    try c.encode(probabilities, forKey: .probabilities)
    try c.encode(Self.plane(heatmap), forKey: .heatmap)
    if let sp = superpixels {
      let bytes = sp.labels.withUnsafeBufferPointer { Data(buffer: $0) }
      try c.encode(Plane(width: sp.width, height: sp.height, data: bytes), forKey: .superpixels)
    }
    try c.encodeIfPresent(regionWeights, forKey: .regionWeights)
    try c.encode(topRegions, forKey: .topRegions)
    try c.encodeIfPresent(fitScore, forKey: .fitScore)
    if let cam { try c.encode(Self.plane(cam), forKey: .cam) }
    try c.encode(corner.rect, forKey: .cornerRect)
    try c.encodeIfPresent(corner.share, forKey: .cornerShare)
    try c.encode(corner.areaShare, forKey: .cornerAreaShare)
    try c.encode(cornerSource, forKey: .cornerSource)
    try c.encode(cornerBlanked, forKey: .cornerBlanked)
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let version = try c.decode(Int.self, forKey: .version)
    guard version == Self.codingVersion else {
      throw DecodingError.dataCorruptedError(
        forKey: .version, in: c,
        debugDescription: "explanation file version \(version), expected \(Self.codingVersion)")
    }
    method = try c.decode(ExplanationMethod.self, forKey: .method)
    classIndex = try c.decode(Int.self, forKey: .classIndex)
    className = try c.decode(String.self, forKey: .className)
    probabilities = try c.decode([Float].self, forKey: .probabilities)
    heatmap = try Self.map(c.decode(Plane.self, forKey: .heatmap), key: .heatmap, in: c)
    if let p = try c.decodeIfPresent(Plane.self, forKey: .superpixels) {
      let labels: [Int32] = Self.values(p.data)
      guard Self.sane(p), labels.count == p.width * p.height, labels.allSatisfy({ $0 >= 0 })
      else {
        throw DecodingError.dataCorruptedError(
          forKey: .superpixels, in: c,
          debugDescription: "superpixel labels do not fill \(p.width)×\(p.height)")
      }
      superpixels = Superpixels(width: p.width, height: p.height, labels: labels)
    } else {
      superpixels = nil
    }
    regionWeights = try c.decodeIfPresent([Double].self, forKey: .regionWeights)
    topRegions = try c.decode([Int].self, forKey: .topRegions)
    if let sp = superpixels {
      guard regionWeights?.count == sp.count, topRegions.allSatisfy({ $0 >= 0 && $0 < sp.count }) else {
        throw DecodingError.dataCorruptedError(
          forKey: .regionWeights, in: c, debugDescription: "region weights do not match the regions")
      }
    }
    fitScore = try c.decodeIfPresent(Double.self, forKey: .fitScore)
    cam = try c.decodeIfPresent(Plane.self, forKey: .cam).map { try Self.map($0, key: .cam, in: c) }
    corner = CornerAttribution(
      rect: try c.decode(PixelRect.self, forKey: .cornerRect),
      share: try c.decodeIfPresent(Double.self, forKey: .cornerShare),
      areaShare: try c.decode(Double.self, forKey: .cornerAreaShare))
    cornerSource = try c.decode(String.self, forKey: .cornerSource)
    cornerBlanked = try c.decode(Bool.self, forKey: .cornerBlanked)
  }

  /// A size a cache file may claim: positive and at most 16384 a side (a damaged or hostile file
  /// gets an error, not an overflow or a huge allocation).
  static func sane(_ p: Plane) -> Bool {
    p.width > 0 && p.height > 0 && p.width <= 16384 && p.height <= 16384
  }

  static func plane(_ m: AttributionMap) -> Plane {
    Plane(width: m.width, height: m.height, data: m.values.withUnsafeBufferPointer { Data(buffer: $0) })
  }

  static func map(_ p: Plane, key: CodingKeys, in c: KeyedDecodingContainer<CodingKeys>) throws
    -> AttributionMap
  {
    let v: [Float] = values(p.data)
    guard sane(p), v.count == p.width * p.height, v.allSatisfy(\.isFinite) else {
      throw DecodingError.dataCorruptedError(
        forKey: key, in: c, debugDescription: "\(key.stringValue) does not fill \(p.width)×\(p.height)")
    }
    return AttributionMap(width: p.width, height: p.height, values: v)
  }

  /// The values of `data`, as many whole ones as it holds (this machine's byte order: the cache
  /// is local to the workspace's machine).
  static func values<T: BitwiseCopyable>(_ data: Data) -> [T] {
    let n = data.count / MemoryLayout<T>.stride
    var out: [T] = []
    out.reserveCapacity(n)
    data.withUnsafeBytes { raw in
      for i in 0..<n { out.append(raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.stride, as: T.self)) }
    }
    return out
  }
}
