import FileSafety
import Foundation
import NeuralEngine

/// The check behind "frozen tensors are byte-identical": the raw little-endian bytes of each
/// named tensor in two checkpoint files, compared as stored (not as decoded floats, so a NaN
/// payload or a negative zero that changed would be caught too).
public enum FrozenTensors {
  public struct Check: Codable, Equatable, Sendable {
    /// Tensors compared.
    public var checked: Int
    /// Those whose bytes differ (or that are missing from one file).
    public var changed: [String]
    public var identical: Bool { changed.isEmpty && checked > 0 }
  }

  public static func compare(_ names: [String], before: String, after: String) throws(WorkflowError) -> Check
  {
    let a = try rawTensors(before)
    let b = try rawTensors(after)
    var changed: [String] = []
    for name in names.sorted() {
      guard let x = a[name], let y = b[name], x == y else {
        changed.append(name)
        continue
      }
    }
    return Check(checked: names.count, changed: changed)
  }

  /// Each tensor's stored bytes.
  public static func rawTensors(_ path: String) throws(WorkflowError) -> [String: ArraySlice<UInt8>] {
    let file: SafeTensorsFile
    do { file = try SafeTensorsFile.read(path: path) } catch { throw WorkflowError(error) }
    let bytes: [UInt8]
    do { bytes = try SafeFile.read(path, maxBytes: 4 << 30) } catch {
      throw WorkflowError("cannot read \(path): \(error.why)")
    }
    guard bytes.count >= 8 else { throw WorkflowError("cannot read \(path): shorter than a header") }
    var headerLength = 0
    for i in 0..<8 { headerLength |= Int(bytes[i]) << (8 * i) }
    let base = 8 + headerLength
    var out: [String: ArraySlice<UInt8>] = [:]
    for e in file.entries where base + e.end <= bytes.count {
      out[e.name] = bytes[(base + e.begin)..<(base + e.end)]
    }
    return out
  }
}
