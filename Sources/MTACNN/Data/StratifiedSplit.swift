import Crypto

/// Which part of the data an image belongs to. The test part is for the final report only.
public enum SplitPart: String, Codable, Sendable, CaseIterable {
  case train, val, test
}

/// The stratified 80/10/10 split by a seeded hash of each file's bytes (issue 4), the same bit for
/// bit as `tools/torch/data.py`:
///
/// - key = SHA-256( seed as 8-byte little-endian UInt64 ‖ SHA-256(file bytes) ), 32 bytes;
/// - within each class, images are ordered by key (bytewise), ties (identical files) by their
///   relative path's UTF-8 bytes;
/// - a class of n images gets val = test = (n + 5) / 10 (integer division: n/10 rounded half up)
///   and train = n - val - test; the first `train` in order are train, the next `val` val, the
///   rest test.
///
/// The split depends only on the bytes and the seed, so renaming or moving files never moves an
/// image between parts, and adding images moves few.
public enum StratifiedSplit {
  public struct Entry: Sendable, Equatable {
    public var classIndex: Int
    /// SHA-256 of the file's bytes.
    public var digest: [UInt8]
    /// Tie-break for identical files: the path relative to the data root, "<class folder>/<name>".
    public var relativePath: String

    public init(classIndex: Int, digest: [UInt8], relativePath: String) {
      self.classIndex = classIndex
      self.digest = digest
      self.relativePath = relativePath
    }
  }

  public static func sha256(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

  public static func key(digest: [UInt8], seed: UInt64) -> [UInt8] {
    var h = SHA256()
    withUnsafeBytes(of: seed.littleEndian) { h.update(bufferPointer: $0) }
    h.update(data: digest)
    return Array(h.finalize())
  }

  /// (train, val, test) sizes for a class of n images.
  public static func counts(_ n: Int) -> (train: Int, val: Int, test: Int) {
    let v = (n + 5) / 10
    return (n - 2 * v, v, v)
  }

  /// The part of each entry, in input order.
  public static func assign(_ entries: [Entry], seed: UInt64 = 0) -> [SplitPart] {
    var parts = [SplitPart](repeating: .train, count: entries.count)
    let keys = entries.map { key(digest: $0.digest, seed: seed) }
    let byClass = Dictionary(grouping: entries.indices, by: { entries[$0].classIndex })
    for (_, members) in byClass {
      let ordered = members.sorted { a, b in
        if keys[a] != keys[b] { return keys[a].lexicographicallyPrecedes(keys[b]) }
        return Array(entries[a].relativePath.utf8).lexicographicallyPrecedes(
          Array(entries[b].relativePath.utf8))
      }
      let (train, val, _) = counts(ordered.count)
      for (rank, i) in ordered.enumerated() {
        parts[i] = rank < train ? .train : (rank < train + val ? .val : .test)
      }
    }
    return parts
  }
}
