import Foundation
import NeuralEngine
import Testing

@testable import MTACNN

/// Issue 15, item 4: a checkpoint is a file anyone can hand over. Its configuration is checked
/// against documented bounds and against the file's own tensors before any network is built, so
/// an absurd size is a clear error naming the file and the field, never an abort ("failed to
/// allocate 2 TB") or gigabytes of memory.
@Suite struct HostileCheckpointTests {
  /// A real checkpoint of a tiny two-task network (saved by the real writer).
  static func smallCheckpoint() throws -> (bytes: [UInt8], config: ModelConfiguration) {
    var c = ModelConfiguration.defaults(for: .all4, size: 32)
    c.channels = [4, 8, 8, 8]
    c.decoderChannels = [4, 4, 4, 4]
    c.transformerWidth = 8
    c.transformerHeads = 2
    c.transformerDepth = 1
    c.transformerMLP = 8
    let model = try MTACNNModel(configuration: c, seed: 3)
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "hostile-\(UUID().uuidString).safetensors"
    )
    .path
    defer { unlink(path) }
    try model.save(to: path)
    return (Array(try Data(contentsOf: URL(fileURLWithPath: path))), c)
  }

  /// The checkpoint with its `config` metadata edited as JSON (every other byte kept).
  static func withConfig(_ bytes: [UInt8], _ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
    var n = 0
    for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
    var header = try #require(
      try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
    var meta = try #require(header["__metadata__"] as? [String: String])
    let configText = try #require(meta["config"])
    var config = try #require(
      try JSONSerialization.jsonObject(with: Data(configText.utf8)) as? [String: Any])
    edit(&config)
    meta["config"] = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
    header["__metadata__"] = meta
    var h = Array(try JSONSerialization.data(withJSONObject: header))
    while (h.count + 8) % 8 != 0 { h.append(0x20) }
    var out: [UInt8] = []
    var len = UInt64(h.count)
    for _ in 0..<8 {
      out.append(UInt8(len & 0xFF))
      len >>= 8
    }
    return out + h + bytes[(8 + n)...]
  }

  /// Loads the way predict, eval and explain do (`ModelCheckpoint.load`), from a file named `name`.
  static func load(_ bytes: [UInt8], name: String) throws -> MTACNNModel {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-ckpt-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent(name).path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    defer { unlink(path) }
    return try ModelCheckpoint.load(path: path).0
  }

  /// Each absurd field, with the name the error must give. Before the fix the metadata of every
  /// one of these was accepted, and building the network allocated what it asked for.
  static let hostile: [(field: String, edit: @Sendable (inout [String: Any]) -> Void)] = [
    ("size", { $0["size"] = 1 << 20 }),
    ("size", { $0["size"] = 1040 }),
    ("channels[0]", { $0["channels"] = [1 << 20, 8, 8, 8] }),
    ("channels[3]", { $0["channels"] = [4, 8, 8, 100_000] }),
    ("decoder_channels[1]", { $0["decoder_channels"] = [4, 1 << 24, 4, 4] }),
    ("transformer_depth", { $0["transformer_depth"] = 1_000_000 }),
    ("transformer_heads", { $0["transformer_heads"] = 1 << 20 }),
    ("transformer_width", { $0["transformer_width"] = 1 << 22 }),
    ("transformer_mlp", { $0["transformer_mlp"] = 1 << 30 }),
    (
      "number of classes",
      {
        $0["classes"] = (0..<100_000).map { "c\($0)" }
        $0["hierarchical"] = false
      }
    ),
    ("beta_init", { $0["beta_init"] = 1e300 }),
    ("source_size[0]", { $0["source_size"] = [1 << 40, 224] }),
    (
      "blank_corner",
      { $0["blank_corner"] = ["x": 188, "y": 188, "width": 1 << 40, "height": 36, "fill": "mean"] }
    ),
    // Within the bounds, but not what the tensors say: the tensors win, before anything is built.
    ("channels[0]", { $0["channels"] = [8, 8, 8, 8] }),
    ("transformer_mlp", { $0["transformer_mlp"] = 4096 }),
    ("transformer_depth", { $0["transformer_depth"] = 30 }),
    ("transformer_depth", { $0["transformer_depth"] = 0 }),
    ("size", { $0["size"] = 512 }),
    ("classes", { $0["classes"] = ["Benign", "Early", "Pre", "Pro", "Extra"] }),
    ("decoder_channels[2]", { $0["decoder_channels"] = [4, 4, 64, 4] }),
  ]

  @Test(arguments: 0..<hostile.count)
  func absurdConfigurationIsRefusedNamingFileAndField(_ index: Int) throws {
    let (bytes, _) = try Self.smallCheckpoint()
    let (field, edit) = Self.hostile[index]
    let path = "/models/hostile-\(index).safetensors"
    let file = try SafeTensorsFile(bytes: try Self.withConfig(bytes, edit), path: path)
    do {
      _ = try ModelCheckpoint.metadata(of: file)
      Issue.record("config field \(field) was accepted")
    } catch {
      #expect("\(error)".contains(path), "\(error)")
      #expect("\(error)".contains(field), "\(error)")
    }
  }

  @Test func theUntouchedSmallCheckpointLoads() throws {
    let (bytes, config) = try Self.smallCheckpoint()
    let model = try Self.load(try Self.withConfig(bytes) { _ in }, name: "small.safetensors")
    #expect(model.configuration == config)
  }

  /// Structural damage the safetensors reader already refused before this issue; kept here so a
  /// change to it cannot quietly let one through (each is checked to name the file).
  @Test func damagedFileStructureIsRefused() throws {
    let (bytes, _) = try Self.smallCheckpoint()
    var n = 0
    for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
    var cases: [(String, [UInt8])] = []
    // Header length beyond the file, and beyond the 100 MB bound.
    var long = bytes
    long[0] = 0xFF
    long[1] = 0xFF
    long[2] = 0xFF
    cases.append(("header length beyond the file", long))
    var huge = bytes
    for i in 0..<8 { huge[i] = 0xFF }
    cases.append(("header length over the bound", huge))
    cases.append(("truncated data", Array(bytes.dropLast(17))))
    cases.append(("trailing data", bytes + [0, 0, 0, 0]))
    // A dtype the shape does not fit, and a name given twice (JSON keeps one of the two).
    let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
    let mismatched = header.replacingOccurrences(of: "\"dtype\":\"F32\"", with: "\"dtype\":\"F16\"")
    cases.append(("dtype mismatch", Self.reassemble(mismatched, data: Array(bytes[(8 + n)...]))))
    let first = try #require(header.range(of: "\"seg.out.bias\""))
    let duplicated = header.replacingCharacters(in: first, with: "\"seg.out.weight\"")
    cases.append(("duplicate name", Self.reassemble(duplicated, data: Array(bytes[(8 + n)...]))))
    for (what, b) in cases {
      do {
        _ = try Self.load(b, name: "\(what).safetensors")
        Issue.record("\(what) was accepted")
      } catch {
        #expect("\(error)".contains("\(what).safetensors"), "\(what): \(error)")
      }
    }
  }

  /// A key given twice: Python's json keeps the last, so the file a reviewer inspects with the
  /// reference tools would not be the one BlastView runs. Refused in the header and in `config`.
  @Test func aKeyGivenTwiceIsRefused() throws {
    let (bytes, _) = try Self.smallCheckpoint()
    var n = 0
    for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
    let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
    let data = Array(bytes[(8 + n)...])
    // A second `config` in the metadata, written with an escape so it is not byte-identical.
    let twiceInMetadata = header.replacingOccurrences(
      of: "\"__metadata__\":{", with: #""__metadata__":{"\u0063onfig":"{}","#)
    // `size` twice inside the configuration text.
    let twiceInConfig = header.replacingOccurrences(
      of: #"\"size\":32"#, with: #"\"size\":32,\"size\":1048576"#)
    #expect(twiceInMetadata != header && twiceInConfig != header)
    for (what, text) in [("metadata", twiceInMetadata), ("config", twiceInConfig)] {
      do {
        _ = try Self.load(Self.reassemble(text, data: data), name: "twice-\(what).safetensors")
        Issue.record("a key given twice in the \(what) was accepted")
      } catch {
        #expect("\(error)".contains("twice-\(what).safetensors"), "\(error)")
        #expect("\(error)".contains("appears twice"), "\(error)")
      }
    }
    #expect(
      SafeTensorsFile.firstDuplicateKey(in: Array(#"{"a":[{"b":1},{"b":2}],"c":{"a":1}}"#.utf8)[...]) == nil)
    #expect(
      SafeTensorsFile.firstDuplicateKey(in: Array(#"{"a":1,"b":{"x":"\"a\"","x":2}}"#.utf8)[...]) == "x")
  }

  static func reassemble(_ header: String, data: [UInt8]) -> [UInt8] {
    var h = Array(header.utf8)
    while (h.count + 8) % 8 != 0 { h.append(0x20) }
    var out: [UInt8] = []
    var len = UInt64(h.count)
    for _ in 0..<8 {
      out.append(UInt8(len & 0xFF))
      len >>= 8
    }
    return out + h + data
  }

  /// Property: seeded mutations of a small real checkpoint (bytes flipped in the header and the
  /// data, truncations, and configuration fields set to hostile integers) either load or are
  /// refused with an error; a network that loads never holds more parameters than the file has
  /// data for, and its working set stays within the documented bound. 400 mutations, well under
  /// a second of work each.
  @Test func seededMutationsNeverCrashOrOverAllocate() throws {
    let (bytes, _) = try Self.smallCheckpoint()
    var n = 0
    for i in 0..<8 { n |= Int(bytes[i]) << (8 * i) }
    var rng = SplitMix64(seed: 0x15_04)
    let fields = [
      "size", "transformer_width", "transformer_depth", "transformer_heads", "transformer_mlp", "beta_init",
    ]
    let arrayFields = ["channels", "decoder_channels", "source_size"]
    let hostileInts: [Int] = [
      0, -1, 1, 2, 15, 16, 17, 31, 32, 48, 1024, 1040, 65_536, 1 << 31, 1 << 40, Int.max,
    ]
    var loaded = 0
    var refused = 0
    for iteration in 0..<400 {
      var m: [UInt8]
      switch iteration % 4 {
      case 0:
        m = bytes
        for _ in 0..<(1 + Int(rng.next() % 4)) {
          let at = 8 + Int(rng.next() % UInt64(n))
          m[at] ^= UInt8(1 << (rng.next() % 8))
        }
      case 1:
        m = bytes
        let at = 8 + n + Int(rng.next() % UInt64(bytes.count - 8 - n))
        m[at] = UInt8(truncatingIfNeeded: rng.next())
      case 2:
        m = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
      default:
        let value = hostileInts[Int(rng.next() % UInt64(hostileInts.count))]
        if rng.next() % 2 == 0 {
          let f = fields[Int(rng.next() % UInt64(fields.count))]
          m = try Self.withConfig(bytes) { $0[f] = value }
        } else {
          let f = arrayFields[Int(rng.next() % UInt64(arrayFields.count))]
          let slot = Int(rng.next() % 4)
          m = try Self.withConfig(bytes) { c in
            var a = (c[f] as? [Int]) ?? [224, 224]
            if slot < a.count { a[slot] = value }
            c[f] = a
          }
        }
      }
      do {
        let model = try Self.load(m, name: "mutant-\(iteration).safetensors")
        let floats = model.store.parameters.reduce(0) { $0 + $1.value.count }
        #expect(floats * 4 <= m.count, "mutant \(iteration) built \(floats) parameters from \(m.count) bytes")
        #expect(model.configuration.estimatedWorkingSetFloats <= ModelConfiguration.Bounds.workingSetFloats)
        loaded += 1
      } catch {
        #expect("\(error)".contains("mutant-\(iteration).safetensors"), "\(error)")
        refused += 1
      }
    }
    // Data-byte flips keep the file valid (they change weights, not sizes), so both outcomes occur.
    #expect(loaded > 0 && refused > 0)
  }
}
