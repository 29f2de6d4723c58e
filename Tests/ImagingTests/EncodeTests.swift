import Foundation
import Testing

@testable import Imaging

@Test func pngRoundTripKeepsPixelsAndBytes() throws {
  for path in [
    Paths.sampleData.appendingPathComponent("wbc-seg/images/neutrophil/002.png").path,
    Paths.sampleData.appendingPathComponent("bccd/JPEGImages/BloodImage_00000.jpg").path,
  ] {
    let image = try decodeImage(at: path)
    let encoded = encodePNG(image)
    let back = try decodeImage(data: encoded, name: "encoded")
    #expect(back == image)
    #expect(encodePNG(back) == encoded, "equal pixels give equal bytes")
    #expect(
      try probeImage(data: encoded, name: "encoded")
        == ImageInfo(width: image.width, height: image.height, format: .png))
  }
}

@Test func maskRoundTripIsGrayPNG() throws {
  let mask = try decodeMask(at: Paths.sampleData.appendingPathComponent("wbc-seg/masks/001.png").path)
  let encoded = encodePNG(mask)
  #expect(encoded[25] == 0, "IHDR colour type 0: grayscale")
  #expect(encoded[24] == 8, "8-bit")
  #expect(try decodeMask(data: encoded, name: "m") == mask)
  // As an image it is the gray values in every channel.
  let asImage = try decodeImage(data: encoded, name: "m")
  #expect(asImage.pixels.enumerated().allSatisfy { $0.element == mask.values[$0.offset / 3] })
}

@Test func tinyImagesRoundTrip() throws {
  let one = RGBImage(width: 1, height: 1, pixels: [1, 2, 3])
  #expect(try decodeImage(data: encodePNG(one), name: "1px") == one)
  let odd = RGBImage(width: 3, height: 2, pixels: Array(0..<18).map { UInt8($0 * 14) })
  #expect(try decodeImage(data: encodePNG(odd), name: "odd") == odd)
}

@Test func writePNGIsAtomicAndReplaces() throws {
  let folder = try Paths.temporaryFolder()
  defer { try? FileManager.default.removeItem(at: folder) }
  let path = folder.appendingPathComponent("out.png").path
  let a = RGBImage(width: 4, height: 3, fill: (200, 10, 30))
  let b = RGBImage(width: 5, height: 2, fill: (0, 90, 255))
  try writePNG(a, to: path)
  #expect(try decodeImage(at: path) == a)
  try writePNG(b, to: path)
  #expect(try decodeImage(at: path) == b)
  let mask = Mask(width: 2, height: 2, values: [0, 128, 255, 0])
  try writePNG(mask, to: folder.appendingPathComponent("m.png").path)
  #expect(try decodeMask(at: folder.appendingPathComponent("m.png").path) == mask)
  // No temporary files are left behind.
  #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["m.png", "out.png"])
}

@Test func writePNGFailureNamesFile() {
  let path = "/nonexistent-folder-blastview/out.png"
  do {
    try writePNG(RGBImage(width: 1, height: 1), to: path)
    Issue.record("write into a missing folder succeeded")
  } catch {
    #expect(error.path == path)
    guard case .writeFailed(let why) = error.reason else {
      Issue.record("unexpected \(error)")
      return
    }
    #expect(why.contains("No such file"))
  }
}
