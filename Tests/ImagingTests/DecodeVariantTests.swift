import Foundation
import Testing

@testable import Imaging

/// One decoder path: a small real-content image in some PNG/BMP/JPEG variant and the
/// pixels it must decode to, worked out independently by tools/fixtures/make_imaging_fixtures.py.
struct Variant: Decodable, CustomTestStringConvertible, Sendable {
  let file: String
  let width: Int
  let height: Int
  let kind: String  // "rgb" (decodeImage) or "mask" (decodeMask)
  let expected: String
  let tolerance: Int
  var testDescription: String { "\(file) as \(kind)" }

  static let all: [Variant] = {
    struct Manifest: Decodable { let variants: [Variant] }
    let data = try! Data(contentsOf: Paths.fixtures.appendingPathComponent("manifest.json"))
    return try! JSONDecoder().decode(Manifest.self, from: data).variants
  }()
}

@Test(arguments: Variant.all)
func decodesVariantToIndependentReference(_ v: Variant) throws {
  let expected = try Paths.bytes(Paths.fixture(v.expected))
  let actual: [UInt8]
  if v.kind == "mask" {
    let mask = try decodeMask(at: Paths.fixture(v.file))
    #expect(mask.width == v.width && mask.height == v.height)
    actual = mask.values
  } else {
    let image = try decodeImage(at: Paths.fixture(v.file))
    #expect(image.width == v.width && image.height == v.height)
    actual = image.pixels
  }
  try #require(actual.count == expected.count)
  let worst = zip(actual, expected).map { abs(Int($0) - Int($1)) }.max() ?? 0
  #expect(worst <= v.tolerance, "largest difference \(worst)")
}

@Test(arguments: Variant.all.filter { $0.kind == "rgb" })
func probeReadsHeaderOnly(_ v: Variant) throws {
  let info = try probeImage(at: Paths.fixture(v.file))
  let format: ImageFormat = v.file.hasSuffix(".png") ? .png : v.file.hasSuffix(".bmp") ? .bmp : .jpeg
  #expect(info == ImageInfo(width: v.width, height: v.height, format: format))
}

@Test func formatComesFromMagicBytesNotName() throws {
  // A JPEG under a .png name decodes as the JPEG it is.
  let folder = try Paths.temporaryFolder()
  defer { try? FileManager.default.removeItem(at: folder) }
  let lying = folder.appendingPathComponent("really-a-jpeg.png").path
  try FileManager.default.copyItem(atPath: Paths.fixture("variants/baseline.jpg"), toPath: lying)
  #expect(try probeImage(at: lying).format == .jpeg)
  #expect(try decodeImage(at: lying) == decodeImage(at: Paths.fixture("variants/baseline.jpg")))
}

@Test func grayAndColourDecodesAgree() throws {
  // gray8.png decoded as an image is the gray values in all three channels.
  let image = try decodeImage(at: Paths.fixture("variants/gray8.png"))
  let mask = try decodeMask(at: Paths.fixture("variants/gray8.png"))
  for i in 0..<mask.values.count {
    #expect(image.pixels[3 * i] == mask.values[i] && image.pixels[3 * i + 2] == mask.values[i])
  }
}

@Test func sniffingUsesMagicBytes() throws {
  #expect(ImageFormat.sniff(try Paths.bytes(Paths.fixture("variants/rgb8.png"))) == .png)
  #expect(ImageFormat.sniff(try Paths.bytes(Paths.fixture("variants/gray.jpg"))) == .jpeg)
  #expect(ImageFormat.sniff(try Paths.bytes(Paths.fixture("variants/rgb24.bmp"))) == .bmp)
  // "BM" followed by something that is not a BMP header size is not a BMP.
  #expect(ImageFormat.sniff(Array("BMW service notes 2026".utf8)) == nil)
  #expect(ImageFormat.sniff([UInt8]()) == nil)
  #expect(ImageFormat.sniff(Array("GIF89a".utf8)) == nil)
}
