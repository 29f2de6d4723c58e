import Crypto
import Foundation

/// SHA-256 helpers: case identity (file bytes), mask and model identity, and the split hash.
/// Public for the benchmarks, which build the same content-addressed cases on both backends.
public enum Digest {
  static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
    var s = ""
    s.reserveCapacity(64)
    for b in digest {
      s.append(hexDigits[Int(b >> 4)])
      s.append(hexDigits[Int(b & 15)])
    }
    return s
  }

  private static let hexDigits: [Character] = Array("0123456789abcdef")

  public static func sha256Hex(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

  /// Streams a file through SHA-256 in 1 MiB chunks (model files can be large). Only a
  /// regular file is read: a FIFO or device at the path is an error, not a hang.
  static func sha256Hex(fileAt path: String) throws(StoreError) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else {
      throw .io(path: path, reason: "cannot be read (\(String(cString: strerror(errno))))")
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
      throw .io(path: path, reason: "not a regular file")
    }
    var hasher = SHA256()
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw .io(path: path, reason: "read failed (\(String(cString: strerror(errno))))")
      }
      if n == 0 { break }
      buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
    }
    return hex(hasher.finalize())
  }

  /// 0...9 from SHA-256(seed ‖ raw digest bytes); see `Split.of`.
  static func splitBucket(sha256Hex: String, seed: String) -> Int {
    var input = Array(seed.utf8)
    input.append(contentsOf: rawBytes(hex: sha256Hex))
    let d = Array(SHA256.hash(data: input))
    var v: UInt64 = 0
    for i in 0..<8 { v = (v << 8) | UInt64(d[i]) }
    return Int(v % 10)
  }

  /// A case's place in a seeded random draw: the first 8 bytes of SHA-256(seed ‖ raw digest
  /// bytes), as `splitBucket` but for ranking.
  static func sampleRank(sha256Hex: String, seed: String) -> UInt64 {
    var input = Array("sample:\(seed):".utf8)
    input.append(contentsOf: rawBytes(hex: sha256Hex))
    let d = Array(SHA256.hash(data: input))
    var v: UInt64 = 0
    for i in 0..<8 { v = (v << 8) | UInt64(d[i]) }
    return v
  }

  static func rawBytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(hex.utf8.count / 2)
    var hi: UInt8? = nil
    for c in hex.utf8 {
      let v: UInt8
      switch c {
      case 48...57: v = c - 48
      case 97...102: v = c - 87
      case 65...70: v = c - 55
      default: continue
      }
      if let h = hi {
        out.append(h << 4 | v)
        hi = nil
      } else {
        hi = v
      }
    }
    return out
  }
}
