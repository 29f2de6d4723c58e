import Imaging
import Testing

@testable import Terminal

@Suite struct HalfBlockEncoderTests {
  /// 2 × 3 pixels: column 0 red over blue over white, column 1 red over green over black.
  let image: RGBImage = {
    var i = RGBImage(width: 2, height: 3)
    i[0, 0] = (255, 0, 0)
    i[1, 0] = (255, 0, 0)
    i[0, 1] = (0, 0, 255)
    i[1, 1] = (0, 255, 0)
    i[0, 2] = (255, 255, 255)
    i[1, 2] = (0, 0, 0)
    return i
  }()

  @Test func trueColourBytesAreExactlyAsHandWritten() {
    let rows = HalfBlockEncoder.encode(image, trueColor: true).map { String(decoding: $0, as: UTF8.self) }
    #expect(rows.count == 2)
    // Row 0: top red, bottoms blue then green; the foreground is unchanged in cell 2.
    #expect(rows[0] == "\u{1B}[38;2;255;0;0;48;2;0;0;255m▀\u{1B}[48;2;0;255;0m▀\u{1B}[0m")
    // Row 1: the odd last pixel row, so the lower halves are the default background (49).
    #expect(rows[1] == "\u{1B}[38;2;255;255;255;49m▀\u{1B}[38;2;0;0;0m▀\u{1B}[0m")
  }

  @Test func colourCubeBytesUseTheNearestIndex() {
    // xterm's cube: index = 16 + 36 r + 6 g + b with levels 0,95,135,175,215,255:
    // red → 196, blue → 21, green → 46, white → 231, black → 16.
    let rows = HalfBlockEncoder.encode(image, trueColor: false).map { String(decoding: $0, as: UTF8.self) }
    #expect(rows[0] == "\u{1B}[38;5;196;48;5;21m▀\u{1B}[48;5;46m▀\u{1B}[0m")
    #expect(rows[1] == "\u{1B}[38;5;231;49m▀\u{1B}[38;5;16m▀\u{1B}[0m")
  }

  @Test func nearest256MatchesHandComputedIndices() {
    #expect(Color.nearest256(128, 128, 128) == 244)  // grey ramp: 8 + 10·12 = 128
    #expect(Color.nearest256(95, 135, 175) == 16 + 36 * 1 + 6 * 2 + 3)  // exactly on the cube: 67
    #expect(Color.nearest256(0, 0, 0) == 16)
    #expect(Color.nearest256(255, 255, 255) == 231)
    #expect(Color.nearest256(8, 8, 8) == 232)
    #expect(Color.nearest256(238, 238, 238) == 255)
    #expect(Color.nearest256(100, 0, 0) == 52)  // 16 + 36·1
    // Every index maps back to itself through its own RGB value.
    for i in 16..<256 {
      let (r, g, b) = Color.rgbOf256(i)
      let j = Color.nearest256(UInt8(r), UInt8(g), UInt8(b))
      #expect(Color.rgbOf256(j) == Color.rgbOf256(i), "index \(i)")
    }
  }
}
