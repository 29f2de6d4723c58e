import Foundation
import Testing

@testable import Imaging

/// Issue 15 item 6: no length or size a file declares decides an allocation. libpng's own
/// allocations are counted by the codec (png_codec.c); these tests read that accounting.
@Suite struct AllocationBoundTests {
  static func be(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)]
  }

  static func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
      c ^= UInt32(b)
      for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }
    return ~c
  }

  static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let t = Array(type.utf8)
    return be(UInt32(data.count)) + t + data + be(crc32(t + data))
  }

  static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
  static let ihdr = chunk("IHDR", be(1) + be(1) + [8, 2, 0, 0, 0])
  static let idat = chunk(
    "IDAT", [0x78, 0x01, 0x01, 4, 0, 0xFB, 0xFF, 0, 10, 20, 30, 0x00, 0x68, 0x00, 0x3D])
  static let iend = chunk("IEND", [])

  /// The 69-byte class of file from the issue: a chunk header declaring ~2 GiB.
  static func declaring(_ type: String, length: UInt32) -> [UInt8] {
    signature + ihdr + be(length) + Array(type.utf8) + [0, 0, 0, 0] + idat + iend
  }

  /// What libpng may hold for a 1×1 image: the 8 MiB header budget plus four 8-byte rows.
  static let ceilingFor1x1 = (8 << 20) + 4 * (8 + 64)

  @Test(arguments: ["tEXt", "zTXt", "iTXt", "sPLT", "iCCP", "eXIf", "pCAL", "sCAL", "hIST", "abCd", "prVt"])
  func aChunkDeclaringGigabytesCostsNoMemory(type: String) {
    let file = Self.declaring(type, length: 0x7FFF_FFF0)
    let (peak, error) = CodecBridge.pngLibraryPeak(file, name: "bomb.png")
    // Before: libpng allocated (and zero-filled) the declared 2 GiB for tEXt/zTXt/iTXt/sPLT.
    #expect(peak < 1 << 20, "\(type): libpng held \(peak) bytes")
    #expect(error != nil, "\(type): a file cut inside a chunk must not decode")
    #expect(error?.path == "bomb.png")
  }

  /// Valid ancillary chunks we do not use are skipped, not refused: the image still decodes.
  @Test func imagesWithLargeMetadataStillDecode() throws {
    let text = [UInt8]("Comment".utf8) + [0] + [UInt8](repeating: 0x41, count: 3 << 20)
    let file = Self.signature + Self.ihdr + Self.chunk("tEXt", text) + Self.idat + Self.iend
    let (peak, error) = CodecBridge.pngLibraryPeak(file, name: "meta.png")
    #expect(error == nil, "\(String(describing: error))")
    #expect(peak < 1 << 20)
    let image = try decodeImage(data: file, name: "meta.png")
    #expect(image.width == 1 && image.pixels == [10, 20, 30])
  }

  @Test func aRealImageStaysWithinTheStatedCeiling() throws {
    let path = Paths.sampleData.appendingPathComponent("wbc-seg/images/basophil").path
    let first = try FileManager.default.contentsOfDirectory(atPath: path).sorted()[0]
    let bytes = try Paths.bytes(path + "/" + first)
    let info = try probeImage(data: bytes, name: first)
    let (peak, error) = CodecBridge.pngLibraryPeak(bytes, name: first)
    #expect(error == nil)
    #expect(peak > 0 && peak <= (8 << 20) + 4 * (info.width * 8 + 64))
  }
}

/// Seeded random mutations of SampleData files through every decoder: never a crash, and a
/// failure is an `ImageError` naming the file. Bounded (a few hundred decodes of small
/// images) so it runs in CI in seconds; the seed is in the failure message to replay one.
@Suite struct DecoderFuzzTests {
  struct Generator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }

  static func mutate(_ input: [UInt8], _ rng: inout Generator) -> [UInt8] {
    var b = input
    for _ in 0..<Int.random(in: 1...4, using: &rng) {
      guard !b.isEmpty else { break }
      let i = Int.random(in: 0..<b.count, using: &rng)
      switch Int.random(in: 0..<6, using: &rng) {
      case 0: b[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
      case 1: b[i] = UInt8.random(in: 0...255, using: &rng)
      case 2: b.removeSubrange(i...)  // truncate
      case 3:  // a big-endian length of 0xFFxxxxxx somewhere (chunk/marker lengths)
        for k in 0..<min(4, b.count - i) { b[i + k] = k == 0 ? 0x7F : UInt8.random(in: 0...255, using: &rng) }
      case 4:  // duplicate a stretch
        let n = min(b.count - i, Int.random(in: 1...64, using: &rng))
        b.insert(contentsOf: b[i..<(i + n)], at: i)
      default: b[i] = 0xFF
      }
    }
    return b
  }

  static func samples() throws -> [(String, [UInt8])] {
    let wbc = Paths.sampleData.appendingPathComponent("wbc-seg").path
    let image = try FileManager.default.contentsOfDirectory(atPath: wbc + "/images/basophil").sorted()[0]
    let mask = try FileManager.default.contentsOfDirectory(atPath: wbc + "/masks").sorted()[0]
    let jpegs = Paths.sampleData.appendingPathComponent("bccd/JPEGImages").path
    let jpeg = try FileManager.default.contentsOfDirectory(atPath: jpegs).sorted()[0]
    return [
      ("image.png", try Paths.bytes(wbc + "/images/basophil/" + image)),
      ("mask.png", try Paths.bytes(wbc + "/masks/" + mask)),
      ("image.jpg", try Paths.bytes(jpegs + "/" + jpeg)),
      ("gray8.bmp", try Paths.bytes(Paths.fixture("variants/gray8.bmp"))),
    ]
  }

  @Test func mutatedSampleFilesNeverCrashAndFailClearly() throws {
    var decoded = 0
    var refused = 0
    for (name, original) in try Self.samples() {
      for seed in UInt64(0)..<120 {
        var rng = Generator(state: seed &* 7919 &+ UInt64(original.count))
        let bytes = Self.mutate(original, &rng)
        do {
          let image = try decodeImage(data: bytes, name: name)
          #expect(image.width > 0 && image.height > 0)
          decoded += 1
        } catch {
          #expect(error.path == name, "seed \(seed)")
          #expect(!error.description.isEmpty)
          refused += 1
        }
        if name.hasSuffix(".png") {
          let (peak, _) = CodecBridge.pngLibraryPeak(bytes, name: name)
          #expect(peak <= (8 << 20) + 4 * (4096 * 8 + 64), "\(name) seed \(seed): libpng held \(peak) bytes")
        }
      }
    }
    // Both outcomes happen, so the mutations reach the decoders' error paths and past them.
    #expect(decoded > 0 && refused > 0, "decoded \(decoded), refused \(refused)")
  }
}
