import FileSafety
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What went wrong with a safetensors file; the description names the file, the tensor when
/// there is one, and the problem.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable, Sendable {
  public enum Reason: Equatable, Sendable {
    case unreadable(String)
    case truncated(String)
    case headerTooLarge(Int)
    case badJSON(String)
    case badHeader(String)
    case unknownDType(String)
    case unsupportedDType(String)
    case sizeMismatch(shape: [Int], dtype: String, bytes: Int)
    case outOfRange(begin: Int, end: Int, dataBytes: Int)
    case overlapping(other: String)
    case gap(before: Int)
    case trailingBytes(Int)
    case missing
    case wrongShape(expected: [Int], found: [Int])
    case writeFailed(String)
  }

  public let path: String
  public let tensor: String?
  public let reason: Reason

  public init(path: String, tensor: String? = nil, reason: Reason) {
    self.path = path
    self.tensor = tensor
    self.reason = reason
  }

  public var description: String {
    let what: String
    switch reason {
    case .unreadable(let s): what = "cannot be read: \(s)"
    case .truncated(let s): what = "is truncated: \(s)"
    case .headerTooLarge(let n): what = "declares a \(n)-byte header, over the 100 MB limit"
    case .badJSON(let s): what = "has a header that is not valid JSON: \(s)"
    case .badHeader(let s): what = "has an invalid header: \(s)"
    case .unknownDType(let d): what = "has unknown dtype \"\(d)\""
    case .unsupportedDType(let d): what = "has dtype \(d); only F32, F16, BF16 and F64 can be read"
    case .sizeMismatch(let shape, let dtype, let bytes):
      what = "holds \(bytes) bytes, which does not match shape \(shape) of \(dtype)"
    case .outOfRange(let b, let e, let n):
      what = "has data_offsets [\(b), \(e)] outside the \(n)-byte data section"
    case .overlapping(let other): what = "overlaps the data of tensor \"\(other)\""
    case .gap(let at): what = "starts at byte \(at), leaving unindexed bytes before it"
    case .trailingBytes(let n): what = "has \(n) bytes after the last tensor that no tensor indexes"
    case .missing: what = "is missing"
    case .wrongShape(let e, let f): what = "has shape \(f), expected \(e)"
    case .writeFailed(let s): what = "could not be written: \(s)"
    }
    if let tensor {
      return "\(path): tensor \"\(tensor)\" \(what)"
    }
    return "\(path) \(what)"
  }
}

/// Element types of the safetensors format and their sizes in bytes.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
  case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL
  case F8_E4M3, F8_E5M2

  public var byteSize: Int {
    switch self {
    case .F64, .I64, .U64: 8
    case .F32, .I32, .U32: 4
    case .F16, .BF16, .I16, .U16: 2
    case .I8, .U8, .BOOL, .F8_E4M3, .F8_E5M2: 1
    }
  }

  /// Types the engine converts to Float when reading.
  public var isReadable: Bool { [.F32, .F16, .BF16, .F64].contains(self) }
}

/// One tensor's header entry. `begin`/`end` are byte offsets into the data section.
public struct SafeTensorsEntry: Sendable, Equatable {
  public let name: String
  public let dtype: SafeTensorsDType
  public let shape: [Int]
  public let begin: Int
  public let end: Int
  public var count: Int { Tensor.count(of: shape) }
}

/// A safetensors file, read and validated (https://huggingface.co/docs/safetensors): an 8-byte
/// little-endian header length, a JSON header of dtype, shape and data offsets per tensor plus
/// optional string `__metadata__`, then the raw little-endian data.
public final class SafeTensorsFile: @unchecked Sendable {
  public let path: String
  public let metadata: [String: String]
  /// Entries in order of their data offsets.
  public let entries: [SafeTensorsEntry]
  private let bytes: [UInt8]
  private let dataStart: Int
  private let index: [String: Int]

  /// The official implementation's limit: a header larger than this is hostile or broken.
  public static let maxHeaderBytes = 100_000_000
  /// Largest checkpoint read into memory (BlastView's models are a few MB).
  public static let maxFileBytes = 4 << 30

  /// Reads and validates the file at `path`.
  public static func read(path: String) throws(SafeTensorsError) -> SafeTensorsFile {
    // SafeFile.read: a FIFO or device given as a model is refused instead of hanging.
    let bytes: [UInt8]
    do { bytes = try SafeFile.read(path, maxBytes: maxFileBytes) } catch {
      if error.errno == ENOENT { throw SafeTensorsError(path: path, reason: .unreadable("no such file")) }
      throw SafeTensorsError(path: path, reason: .unreadable(error.why))
    }
    return try SafeTensorsFile(bytes: bytes, path: path)
  }

  /// Validates `bytes` as a safetensors file; `path` names it in errors.
  public init(bytes: [UInt8], path: String) throws(SafeTensorsError) {
    self.path = path
    self.bytes = bytes
    guard bytes.count >= 8 else {
      throw SafeTensorsError(
        path: path, reason: .truncated("\(bytes.count) bytes, shorter than the 8-byte header length"))
    }
    var n64: UInt64 = 0
    for i in 0..<8 { n64 |= UInt64(bytes[i]) << (8 * UInt64(i)) }
    guard n64 <= UInt64(SafeTensorsFile.maxHeaderBytes) else {
      throw SafeTensorsError(path: path, reason: .headerTooLarge(Int(clamping: n64)))
    }
    let n = Int(n64)
    guard n <= bytes.count - 8 else {
      throw SafeTensorsError(
        path: path,
        reason: .truncated("the header needs \(n) bytes but only \(bytes.count - 8) follow the length"))
    }
    dataStart = 8 + n
    let dataBytes = bytes.count - dataStart
    let headerData = Data(bytes[8..<(8 + n)])
    let json: Any
    do {
      json = try JSONSerialization.jsonObject(with: headerData, options: [])
    } catch {
      throw SafeTensorsError(path: path, reason: .badJSON(SafeTensorsFile.jsonMessage(error)))
    }
    guard let dict = json as? [String: Any] else {
      throw SafeTensorsError(path: path, reason: .badJSON("the header is not a JSON object"))
    }
    // A key given twice is read as the first by one parser and the last by another (Python's
    // json keeps the last): the tensors or configuration one tool shows would not be the ones
    // another runs. Refused, at any depth.
    if let key = SafeTensorsFile.firstDuplicateKey(in: bytes[8..<(8 + n)]) {
      throw SafeTensorsError(
        path: path, reason: .badHeader("the key \"\(key)\" appears twice in one object"))
    }
    var meta: [String: String] = [:]
    if let m = dict["__metadata__"] {
      guard let md = m as? [String: Any] else {
        throw SafeTensorsError(path: path, reason: .badHeader("__metadata__ is not an object"))
      }
      for (k, v) in md {
        guard let s = v as? String else {
          throw SafeTensorsError(
            path: path, reason: .badHeader("__metadata__ value for \"\(k)\" is not a string"))
        }
        meta[k] = s
      }
    }
    metadata = meta

    var list: [SafeTensorsEntry] = []
    for name in dict.keys.sorted() where name != "__metadata__" {
      list.append(try SafeTensorsFile.parseEntry(name, dict[name]!, path: path))
    }
    list.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
    // Overlaps first (a broken index), then data past the end (truncated when the index is
    // otherwise contiguous), then unindexed gaps and trailing bytes, as the format forbids them.
    for i in 1..<max(list.count, 1) where list[i].begin < list[i - 1].end {
      throw SafeTensorsError(path: path, tensor: list[i].name, reason: .overlapping(other: list[i - 1].name))
    }
    var contiguous = true
    var expected = 0
    for e in list {
      if e.begin != expected { contiguous = false }
      expected = e.end
    }
    for e in list where e.end > dataBytes {
      if contiguous && list.first?.begin == 0 {
        throw SafeTensorsError(
          path: path, tensor: e.name,
          reason: .truncated("its data runs to byte \(e.end) but the file has \(dataBytes) data bytes"))
      }
      throw SafeTensorsError(
        path: path, tensor: e.name, reason: .outOfRange(begin: e.begin, end: e.end, dataBytes: dataBytes))
    }
    var pos = 0
    for e in list {
      if e.begin != pos { throw SafeTensorsError(path: path, tensor: e.name, reason: .gap(before: e.begin)) }
      pos = e.end
    }
    if pos != dataBytes { throw SafeTensorsError(path: path, reason: .trailingBytes(dataBytes - pos)) }
    entries = list
    var idx: [String: Int] = [:]
    for (i, e) in list.enumerated() { idx[e.name] = i }
    index = idx
  }

  /// The first key that appears twice in one object of `json` (which must be valid JSON), with
  /// escapes decoded, so `"size"` and `"\u0073ize"` are the same key.
  public static func firstDuplicateKey(in json: ArraySlice<UInt8>) -> String? {
    var objects: [Set<String>?] = []  // nil for an array
    var expectKey = false
    var i = json.startIndex
    let quote = UInt8(ascii: "\"")
    while i < json.endIndex {
      switch json[i] {
      case UInt8(ascii: "{"):
        objects.append([])
        expectKey = true
      case UInt8(ascii: "["):
        objects.append(nil)
        expectKey = false
      case UInt8(ascii: "}"), UInt8(ascii: "]"):
        if !objects.isEmpty { objects.removeLast() }
        expectKey = false
      case UInt8(ascii: ","):
        expectKey = objects.last.map { $0 != nil } ?? false
      case quote:
        var j = i + 1
        while j < json.endIndex && json[j] != quote {
          if json[j] == UInt8(ascii: "\\") { j += 1 }
          j += 1
        }
        let end = min(j, json.endIndex - 1)
        if expectKey, let last = objects.indices.last, var keys = objects[last] {
          let raw = Data(json[i...end])
          let key =
            (try? JSONSerialization.jsonObject(with: raw, options: .fragmentsAllowed)) as? String
            ?? String(decoding: raw, as: UTF8.self)
          if keys.contains(key) { return key }
          keys.insert(key)
          objects[last] = keys
          expectKey = false
        }
        i = end
      default: break
      }
      i += 1
    }
    return nil
  }

  private static func jsonMessage(_ error: Error) -> String {
    let ns = error as NSError
    if let d = ns.userInfo[NSDebugDescriptionErrorKey] as? String { return d }
    return ns.localizedDescription
  }

  private static func integer(_ v: Any) -> Int? {
    if let n = v as? NSNumber {
      // Booleans bridge to NSNumber too; reject them and non-integers.
      let kind = String(cString: n.objCType)
      if kind == "c" || kind == "B" { return nil }
      let d = n.doubleValue
      guard d == d.rounded(), d >= 0, d < 9e15 else { return nil }
      return n.intValue
    }
    return nil
  }

  private static func parseEntry(_ name: String, _ value: Any, path: String) throws(SafeTensorsError)
    -> SafeTensorsEntry
  {
    func bad(_ s: String) -> SafeTensorsError {
      SafeTensorsError(path: path, tensor: name, reason: .badHeader(s))
    }
    guard let d = value as? [String: Any] else { throw bad("entry is not an object") }
    guard let dts = d["dtype"] as? String else { throw bad("no dtype string") }
    guard let dtype = SafeTensorsDType(rawValue: dts) else {
      throw SafeTensorsError(path: path, tensor: name, reason: .unknownDType(dts))
    }
    guard let sh = d["shape"] as? [Any] else { throw bad("no shape array") }
    var shape: [Int] = []
    for s in sh {
      guard let v = integer(s) else {
        throw bad("shape \(sh) has a value that is not a non-negative integer")
      }
      shape.append(v)
    }
    guard let offs = d["data_offsets"] as? [Any], offs.count == 2, let b = integer(offs[0]),
      let e = integer(offs[1])
    else { throw bad("data_offsets is not a pair of non-negative integers") }
    guard b <= e else { throw bad("data_offsets [\(b), \(e)] ends before it begins") }
    var count = 1
    for v in shape {
      let (r, o) = count.multipliedReportingOverflow(by: v)
      guard !o, r < 1 << 40 else { throw bad("shape \(shape) is impossibly large") }
      count = r
    }
    guard count * dtype.byteSize == e - b else {
      throw SafeTensorsError(
        path: path, tensor: name, reason: .sizeMismatch(shape: shape, dtype: dts, bytes: e - b))
    }
    return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, begin: b, end: e)
  }

  public var names: [String] { entries.map(\.name) }

  public func entry(named name: String) -> SafeTensorsEntry? {
    index[name].map { entries[$0] }
  }

  /// Converts the entry's data to Float into `out` (which must have the entry's element count).
  public func read(_ e: SafeTensorsEntry, into out: UnsafeMutablePointer<Float>) throws(SafeTensorsError) {
    guard e.dtype.isReadable else {
      throw SafeTensorsError(path: path, tensor: e.name, reason: .unsupportedDType(e.dtype.rawValue))
    }
    let n = e.count
    bytes.withUnsafeBytes { raw in
      let base = raw.baseAddress! + dataStart + e.begin
      switch e.dtype {
      case .F32:
        for i in 0..<n {
          out[i] = Float(bitPattern: UInt32(littleEndian: (base + 4 * i).loadUnaligned(as: UInt32.self)))
        }
      case .F64:
        for i in 0..<n {
          out[i] = Float(
            Double(bitPattern: UInt64(littleEndian: (base + 8 * i).loadUnaligned(as: UInt64.self))))
        }
      case .F16:
        for i in 0..<n {
          out[i] = halfToFloat(UInt16(littleEndian: (base + 2 * i).loadUnaligned(as: UInt16.self)))
        }
      case .BF16:
        for i in 0..<n {
          let h = UInt16(littleEndian: (base + 2 * i).loadUnaligned(as: UInt16.self))
          out[i] = Float(bitPattern: UInt32(h) << 16)
        }
      default: break
      }
    }
  }

  /// Reads the entry into `tensor`, which must have the same shape.
  public func read(_ e: SafeTensorsEntry, into tensor: Tensor) throws(SafeTensorsError) {
    guard e.shape == tensor.shape else {
      throw SafeTensorsError(
        path: path, tensor: e.name, reason: .wrongShape(expected: tensor.shape, found: e.shape))
    }
    try read(e, into: tensor.data)
  }

  /// The named tensor as a new Float tensor.
  public func tensor(_ name: String) throws(SafeTensorsError) -> Tensor {
    guard let e = entry(named: name) else {
      throw SafeTensorsError(path: path, tensor: name, reason: .missing)
    }
    let t = Tensor(shape: e.shape)
    try read(e, into: t.data)
    return t
  }

  /// The named tensor's values as Floats.
  public func floats(_ name: String) throws(SafeTensorsError) -> [Float] {
    try tensor(name).array
  }
}

/// IEEE 754 half to single precision, including subnormals, infinities and NaN.
@inline(__always)
public func halfToFloat(_ h: UInt16) -> Float {
  let sign = UInt32(h & 0x8000) << 16
  let exp = Int((h >> 10) & 0x1F)
  let man = UInt32(h & 0x3FF)
  if exp == 0 {
    if man == 0 { return Float(bitPattern: sign) }
    let v = Float(man) * (1.0 / 16_777_216.0)  // man · 2^-24
    return sign != 0 ? -v : v
  }
  if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (man << 13)) }
  return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (man << 13))
}

/// Writes safetensors files: F32 data, tensors in the order given, `__metadata__` strings.
public enum SafeTensorsWriter {
  /// The file's bytes. Names must be unique and not `__metadata__`.
  public static func encode(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) -> [UInt8] {
    var header = "{"
    var parts: [String] = []
    if !metadata.isEmpty {
      let items = metadata.keys.sorted().map { "\"\(jsonEscape($0))\":\"\(jsonEscape(metadata[$0]!))\"" }
      parts.append("\"__metadata__\":{" + items.joined(separator: ",") + "}")
    }
    var offset = 0
    var seen: Set<String> = []
    for (name, t) in tensors {
      precondition(name != "__metadata__" && !seen.contains(name), "bad or duplicate tensor name \(name)")
      seen.insert(name)
      let bytes = t.count * 4
      let shape = t.shape.map(String.init).joined(separator: ",")
      parts.append(
        "\"\(jsonEscape(name))\":{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}"
      )
      offset += bytes
    }
    header += parts.joined(separator: ",") + "}"
    var h = Array(header.utf8)
    // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
    while (h.count + 8) % 8 != 0 { h.append(0x20) }
    var out = [UInt8]()
    out.reserveCapacity(8 + h.count + offset)
    var n = UInt64(h.count)
    for _ in 0..<8 {
      out.append(UInt8(n & 0xFF))
      n >>= 8
    }
    out += h
    for (_, t) in tensors {
      for i in 0..<t.count {
        var bits = t[i].bitPattern.littleEndian
        withUnsafeBytes(of: &bits) { out.append(contentsOf: $0) }
      }
    }
    return out
  }

  /// Writes the file atomically: a temporary file in the same directory, flushed to disk, then
  /// renamed over `path`, so a crash never leaves a half-written checkpoint in its place.
  public static func write(
    _ tensors: [(String, Tensor)], metadata: [String: String] = [:], to path: String
  ) throws(SafeTensorsError) {
    let bytes = encode(tensors, metadata: metadata)
    try writeAtomically(bytes, to: path)
  }

  /// Through `SafeFile`: a random, exclusively created temporary name (never a predictable
  /// `.tmp-<pid>` another user could plant a link at) and a `path` that is a link refused.
  static func writeAtomically(_ bytes: [UInt8], to path: String) throws(SafeTensorsError) {
    do { try SafeFile.write(bytes, to: path) } catch {
      throw SafeTensorsError(path: path, reason: .writeFailed(error.why))
    }
  }
}
