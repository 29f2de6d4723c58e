import Imaging
import Testing

@testable import Terminal

/// A small sixel decoder written from the VT330/340 programmer reference, independent of
/// libsixel, to check that what we send decodes to the picture we meant.
struct SixelDecoder {
  var width = 0
  var height = 0
  var declaredWidth = 0
  var declaredHeight = 0
  var pixels: [UInt8] = []  // RGB, unpainted pixels stay 0
  var painted: [Bool] = []
  var registers = [Int: (UInt8, UInt8, UInt8)]()

  enum Failure: Error { case notDCS, noRaster, badTerminator }

  static func decode(_ bytes: [UInt8]) throws -> SixelDecoder {
    var d = SixelDecoder()
    var i = 0
    guard bytes.count > 4, bytes[0] == 0x1B, bytes[1] == 0x50 else { throw Failure.notDCS }
    i = 2
    while i < bytes.count, bytes[i] != 0x71 { i += 1 }  // parameters up to 'q'
    i += 1
    func number() -> Int {
      var n = 0
      while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
        n = n * 10 + Int(bytes[i] - 0x30)
        i += 1
      }
      return n
    }
    func numbers() -> [Int] {
      var list = [number()]
      while i < bytes.count, bytes[i] == 0x3B {
        i += 1
        list.append(number())
      }
      return list
    }
    var x = 0
    var band = 0
    var colour = 0
    var sawRaster = false
    while i < bytes.count {
      let c = bytes[i]
      switch c {
      case 0x22:  // " raster attributes: Pan;Pad;Ph;Pv
        i += 1
        let p = numbers()
        guard p.count == 4 else { throw Failure.noRaster }
        d.declaredWidth = p[2]
        d.declaredHeight = p[3]
        d.width = p[2]
        d.height = p[3]
        d.pixels = [UInt8](repeating: 0, count: d.width * d.height * 3)
        d.painted = [Bool](repeating: false, count: d.width * d.height)
        sawRaster = true
      case 0x23:  // # colour: #n or #n;2;r;g;b (percent)
        i += 1
        let p = numbers()
        colour = p[0]
        if p.count == 5, p[1] == 2 {
          func scale(_ v: Int) -> UInt8 { UInt8((v * 255 + 50) / 100) }
          d.registers[p[0]] = (scale(p[2]), scale(p[3]), scale(p[4]))
        }
      case 0x21:  // ! repeat
        i += 1
        let n = number()
        let ch = bytes[i]
        i += 1
        for _ in 0..<n {
          d.paint(ch, x: x, band: band, colour: colour)
          x += 1
        }
      case 0x24:
        x = 0
        i += 1  // $ carriage return
      case 0x2D:
        x = 0
        band += 1
        i += 1  // - next band
      case 0x3F...0x7E:
        guard sawRaster else { throw Failure.noRaster }
        d.paint(c, x: x, band: band, colour: colour)
        x += 1
        i += 1
      case 0x1B:
        guard i + 1 < bytes.count, bytes[i + 1] == 0x5C else { throw Failure.badTerminator }
        return d
      default: i += 1
      }
    }
    throw Failure.badTerminator
  }

  mutating func paint(_ ch: UInt8, x: Int, band: Int, colour: Int) {
    let bits = Int(ch) - 0x3F
    guard x < width, let rgb = registers[colour] else { return }
    for k in 0..<6 where bits & (1 << k) != 0 {
      let y = band * 6 + k
      guard y < height else { continue }
      let o = (y * width + x) * 3
      pixels[o] = rgb.0
      pixels[o + 1] = rgb.1
      pixels[o + 2] = rgb.2
      painted[y * width + x] = true
    }
  }
}

/// A smear-like test picture: pale background, a pink-violet disc with darker "chromatin"
/// stripes, and a smooth gradient; deterministic.
func smearLikeImage(width: Int, height: Int) -> RGBImage {
  var img = RGBImage(width: width, height: height)
  let cx = Double(width) / 2
  let cy = Double(height) / 2
  let radius = Double(min(width, height)) * 0.35
  for y in 0..<height {
    for x in 0..<width {
      let dx = Double(x) - cx
      let dy = Double(y) - cy
      let d = (dx * dx + dy * dy).squareRoot()
      if d < radius {
        let stripe = (x / 3 + y / 5) % 2 == 0 ? 0.0 : 30.0
        img[x, y] = (UInt8(120 - stripe), UInt8(60 - stripe / 2), UInt8(160 - stripe))
      } else {
        let t = Double(x + y) / Double(width + height)
        img[x, y] = (UInt8(230 - 30 * t), UInt8(200 - 40 * t), UInt8(210 - 20 * t))
      }
    }
  }
  return img
}

@Suite struct SixelEncoderTests {
  @Test func outputIsACompleteDCSSequenceWithTheRightRaster() throws {
    let image = smearLikeImage(width: 50, height: 37)
    let bytes = try SixelEncoder.encode(image, colors: 32)
    #expect(Array(bytes.prefix(2)) == [0x1B, 0x50])  // DCS
    #expect(Array(bytes.suffix(2)) == [0x1B, 0x5C])  // ST
    let decoded = try SixelDecoder.decode(bytes)
    #expect(decoded.declaredWidth == 50)
    #expect(decoded.declaredHeight == 37)
    #expect(decoded.registers.count <= 32)
    #expect(decoded.registers.count >= 4)
  }

  @Test func decodedPictureMatchesTheOriginal() throws {
    let image = smearLikeImage(width: 64, height: 48)
    let decoded = try SixelDecoder.decode(try SixelEncoder.encode(image, colors: 64))
    // Every pixel painted, and 8×8 block averages within a few levels (dithering moves
    // single pixels, not the local average).
    #expect(decoded.painted.allSatisfy { $0 })
    var worst = 0.0
    for by in stride(from: 0, to: 48, by: 8) {
      for bx in stride(from: 0, to: 64, by: 8) {
        for channel in 0..<3 {
          var a = 0.0
          var b = 0.0
          for y in by..<by + 8 {
            for x in bx..<bx + 8 {
              a += Double(image.pixels[(y * 64 + x) * 3 + channel])
              b += Double(decoded.pixels[(y * 64 + x) * 3 + channel])
            }
          }
          worst = max(worst, abs(a - b) / 64)
        }
      }
    }
    #expect(worst < 12, "worst 8×8 block mean difference \(worst)")
  }

  @Test func fewerColoursGiveFewerRegisters() throws {
    let image = smearLikeImage(width: 40, height: 40)
    let d16 = try SixelDecoder.decode(try SixelEncoder.encode(image, colors: 16))
    #expect(d16.registers.count <= 16)
  }
}
