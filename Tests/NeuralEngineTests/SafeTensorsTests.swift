import Foundation
import Testing

@testable import NeuralEngine

private func header(_ json: String, data: [UInt8]) -> [UInt8] {
  let h = Array(json.utf8)
  var n = UInt64(h.count)
  var out: [UInt8] = []
  for _ in 0..<8 {
    out.append(UInt8(n & 0xFF))
    n >>= 8
  }
  return out + h + data
}

private func expectError(
  _ bytes: [UInt8], _ reason: (SafeTensorsError.Reason) -> Bool, tensor: String?,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  do {
    _ = try SafeTensorsFile(bytes: bytes, path: "bad.safetensors")
    Issue.record("expected an error", sourceLocation: sourceLocation)
  } catch {
    #expect(reason(error.reason), "got \(error)", sourceLocation: sourceLocation)
    #expect(error.tensor == tensor, "got \(error)", sourceLocation: sourceLocation)
    #expect(error.description.hasPrefix("bad.safetensors"), sourceLocation: sourceLocation)
    if let tensor { #expect(error.description.contains(tensor), sourceLocation: sourceLocation) }
  }
}

@Test("safetensors round-trips tensors and metadata")
func safetensorsRoundTrip() throws {
  let a = randomTensor([2, 3, 4], seed: 1)
  let b = Tensor(shape: [0], values: [])
  let c = Tensor(shape: [], values: [7])
  let meta = ["config": "{\"size\": 128, \"quote\": \"\\\"\"}", "note": "ünïcode\nline"]
  let bytes = SafeTensorsWriter.encode(
    [("conv.weight", a), ("empty", b), ("scalar \"q\"", c)], metadata: meta)
  // Data starts 8-byte aligned.
  let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
  #expect((8 + n) % 8 == 0)
  let f = try SafeTensorsFile(bytes: bytes, path: "mem")
  #expect(f.metadata == meta)
  #expect(f.names.sorted() == ["conv.weight", "empty", "scalar \"q\""])
  #expect(try f.tensor("conv.weight").array == a.array)
  #expect(try f.tensor("conv.weight").shape == [2, 3, 4])
  #expect(try f.tensor("empty").count == 0)
  #expect(try f.floats("scalar \"q\"") == [7])
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(getpid())")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: dir) }
  let path = dir.appendingPathComponent("x.safetensors").path
  try SafeTensorsWriter.write([("a", a)], metadata: ["k": "v"], to: path)
  let g = try SafeTensorsFile.read(path: path)
  #expect(try g.floats("a") == a.array)
  #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["x.safetensors"])
}

@Test("safetensors converts F16, BF16 and F64 to Float")
func safetensorsConversions() throws {
  // F16: 1, −2, 65504 (max), 2^−24 (smallest subnormal), +inf.
  let f16: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00]
  // BF16: 1, −5, 0.
  let bf16: [UInt16] = [0x3F80, 0xC0A0, 0x0000]
  var data: [UInt8] = []
  for v in f16 + bf16 { data += [UInt8(v & 0xFF), UInt8(v >> 8)] }
  var d = (0.1 as Double).bitPattern
  withUnsafeBytes(of: &d) { data += $0 }
  let json =
    "{\"h\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[0,10]},"
    + "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[10,16]},"
    + "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[16,24]}}"
  let f = try SafeTensorsFile(bytes: header(json, data: data), path: "mem")
  let h = try f.floats("h")
  #expect(h[0] == 1 && h[1] == -2 && h[2] == 65504 && h[3] == Float(pow(2.0, -24.0)) && h[4] == .infinity)
  #expect(try f.floats("b") == [1, -5, 0])
  #expect(try f.floats("d") == [Float(0.1)])
}

@Test("safetensors rejects bad files with errors that name the tensor")
func safetensorsErrors() throws {
  let t = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"
  let eight = [UInt8](repeating: 0, count: 8)
  expectError([1, 2, 3], { if case .truncated = $0 { true } else { false } }, tensor: nil)
  expectError(
    [200, 0, 0, 0, 0, 0, 0, 0, 123], { if case .truncated = $0 { true } else { false } }, tensor: nil)
  expectError(
    [0, 0, 0, 0, 0, 0, 0, 1], { if case .headerTooLarge = $0 { true } else { false } }, tensor: nil)
  expectError(header("{\"w\": [", data: []), { if case .badJSON = $0 { true } else { false } }, tensor: nil)
  expectError(header("[1, 2]", data: []), { if case .badJSON = $0 { true } else { false } }, tensor: nil)
  expectError(
    header("{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: eight),
    { $0 == .unknownDType("F33") }, tensor: "w")
  expectError(
    header("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", data: eight),
    { if case .sizeMismatch = $0 { true } else { false } }, tensor: "w")
  expectError(
    header("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", data: eight),
    { if case .badHeader = $0 { true } else { false } }, tensor: "w")
  expectError(
    header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", data: eight),
    { if case .badHeader = $0 { true } else { false } }, tensor: "w")
  expectError(
    header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[true,8]}}", data: eight),
    { if case .badHeader = $0 { true } else { false } }, tensor: "w")
  expectError(
    header(
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", data: eight + eight),
    { $0 == .overlapping(other: "a") }, tensor: "b")
  expectError(
    header(
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[64,72]}}", data: eight + eight),
    { $0 == .outOfRange(begin: 64, end: 72, dataBytes: 16) }, tensor: "b")
  expectError(
    header(
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", data: eight + eight),
    { $0 == .gap(before: 8) }, tensor: "b")
  expectError(header(t, data: eight + [1]), { $0 == .trailingBytes(1) }, tensor: nil)
  expectError(
    header("{\"__metadata__\":{\"k\":5}," + t.dropFirst(), data: eight),
    { if case .badHeader = $0 { true } else { false } }, tensor: nil)
  // A valid file cut short: the tensor whose data is missing is named.
  let good = SafeTensorsWriter.encode([
    ("first", randomTensor([4], seed: 1)), ("second", randomTensor([4], seed: 2)),
  ])
  expectError(Array(good.dropLast(3)), { if case .truncated = $0 { true } else { false } }, tensor: "second")
  // Known but non-float dtypes parse, and fail clearly when read.
  let ints = try SafeTensorsFile(
    bytes: header("{\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", data: eight), path: "m")
  #expect(throws: SafeTensorsError(path: "m", tensor: "i", reason: .unsupportedDType("I64"))) {
    try ints.tensor("i")
  }
  // The message quotes the file's tensor name as it is (the CLI filters what it prints:
  // `ModelCommandTests.hostileTextInModelErrorsIsNeutralisedWhenPrinted`).
  let hostile = header("{\"\\u001b[2J\":{\"dtype\":\"X\",\"shape\":[],\"data_offsets\":[0,0]}}", data: [])
  do {
    _ = try SafeTensorsFile(bytes: hostile, path: "h")
    Issue.record("a tensor of unknown dtype X was accepted")
  } catch {
    #expect(error.description.contains("\u{1b}[2J"))
  }
  #expect(throws: SafeTensorsError.self) { try SafeTensorsFile.read(path: "/nonexistent/x.safetensors") }
}
