/// Windows BMP, uncompressed: 1/4/8-bit palette, 16-bit (5-5-5 or bit fields), 24-bit and
/// 32-bit (BGRX, or bit fields with an optional alpha channel composited over white).
/// Run-length and embedded JPEG/PNG BMPs are refused as unsupported.
///
/// Written by hand: BMP is a few fixed little-endian headers with no library in the design,
/// and every offset and size below is checked against the buffer before it is used.
enum BMPDecoder {
  struct Header {
    var width: Int
    var height: Int
    var topDown: Bool
    var bitsPerPixel: Int
    var pixelOffset: Int
    /// BGR palette entries for 1/4/8-bit files.
    var palette: [(UInt8, UInt8, UInt8)]
    /// Bit masks for 16/32-bit files (alpha 0 = none).
    var masks: (r: UInt32, g: UInt32, b: UInt32, a: UInt32)
  }

  /// BMP header sizes by name: CORE (OS/2 1.x), INFO, V2, V3, OS/2 2.x, V4, V5.
  static let knownHeaderSizes: Set<Int> = [12, 40, 52, 56, 64, 108, 124]

  static func isBMP(_ d: [UInt8]) -> Bool {
    guard d.count >= 2, d[0] == 0x42, d[1] == 0x4D else { return false }
    if d.count < 18 { return true }  // too short to say more: let the parser call it truncated
    return knownHeaderSizes.contains(Int(le32(d, 14)))
  }

  static func probe(_ d: [UInt8], name: String) throws(ImageError) -> ImageInfo {
    let h = try parseHeader(d, name: name)
    return ImageInfo(width: h.width, height: h.height, format: .bmp)
  }

  static func decode(_ d: [UInt8], name: String, limits: DecodeLimits) throws(ImageError)
    -> DecodedPixels
  {
    func fail(_ r: ImageError.Reason) -> ImageError { ImageError(path: name, reason: r) }
    let h = try parseHeader(d, name: name)
    if h.width > limits.maxPixels / h.height {
      throw fail(.tooLarge(width: h.width, height: h.height, limit: limits.maxPixels))
    }
    let stride = (h.width * h.bitsPerPixel + 31) / 32 * 4
    // Every row, padding included, must be in the file: a file cut anywhere in its pixel
    // data is truncated, even if only the last row's padding is missing.
    let (body, overflow) = stride.multipliedReportingOverflow(by: h.height)
    guard !overflow, d.count - h.pixelOffset >= body else { throw fail(.truncated) }
    let gray = !h.palette.isEmpty && h.palette.allSatisfy { $0.0 == $0.1 && $0.1 == $0.2 }
    let channels = gray ? 1 : 3
    var out = [UInt8](repeating: 0, count: h.width * h.height * channels)
    var badIndex: Int? = nil
    var alpha: [UInt8] = h.masks.a != 0 ? [UInt8](repeating: 0, count: h.width * h.height) : []
    let width = h.width
    d.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for y in 0..<h.height {
          let row = h.pixelOffset + (h.topDown ? y : h.height - 1 - y) * stride
          var o = y * width * channels
          switch h.bitsPerPixel {
          case 1, 4, 8:
            let bpp = h.bitsPerPixel
            let perByte = 8 / bpp
            let valueMask = (1 << bpp) - 1
            for x in 0..<width {
              let byte = Int(src[row + x / perByte])
              let index = (byte >> (8 - bpp * (x % perByte + 1))) & valueMask
              guard index < h.palette.count else {
                badIndex = index
                return
              }
              let (b, g, r) = h.palette[index]
              if gray {
                dst[o] = r
              } else {
                dst[o] = r
                dst[o + 1] = g
                dst[o + 2] = b
              }
              o += channels
            }
          case 24:
            for x in 0..<width {
              let s = row + 3 * x
              dst[o] = src[s + 2]
              dst[o + 1] = src[s + 1]
              dst[o + 2] = src[s]
              o += 3
            }
          default:  // 16 or 32 with masks
            let bytesPerPixel = h.bitsPerPixel / 8
            let fields = [h.masks.r, h.masks.g, h.masks.b].map(Field.init)
            let alphaField = Field(h.masks.a)
            for x in 0..<width {
              let s = row + bytesPerPixel * x
              var v = UInt32(src[s]) | UInt32(src[s + 1]) << 8
              if bytesPerPixel == 4 { v |= UInt32(src[s + 2]) << 16 | UInt32(src[s + 3]) << 24 }
              dst[o] = fields[0].extract(v)
              dst[o + 1] = fields[1].extract(v)
              dst[o + 2] = fields[2].extract(v)
              if !alpha.isEmpty { alpha[y * width + x] = alphaField.extract(v) }
              o += 3
            }
          }
        }
      }
    }
    if let index = badIndex {
      throw fail(.corrupt("palette index \(index) beyond the \(h.palette.count)-colour palette"))
    }
    // Many writers declare an alpha mask but leave it 0 everywhere; treat that as opaque.
    if alpha.contains(where: { $0 != 0 }) {
      for i in 0..<alpha.count {
        let a = Int(alpha[i])
        for c in 0..<3 {
          out[3 * i + c] = UInt8((Int(out[3 * i + c]) * a + 255 * (255 - a) + 127) / 255)
        }
      }
    }
    return DecodedPixels(width: h.width, height: h.height, channels: channels, bytes: out)
  }

  /// A colour bit field: where it sits in the pixel and how to scale it to 8 bits.
  struct Field {
    let mask: UInt32
    let shift: UInt32
    let maxValue: UInt32
    init(_ mask: UInt32) {
      self.mask = mask
      shift = mask == 0 ? 0 : UInt32(mask.trailingZeroBitCount)
      maxValue = mask >> shift
    }
    @inline(__always) func extract(_ v: UInt32) -> UInt8 {
      if maxValue == 0 { return 0 }
      let raw = (v & mask) >> shift
      if maxValue == 255 { return UInt8(raw) }
      return UInt8((UInt64(raw) * 255 + UInt64(maxValue) / 2) / UInt64(maxValue))
    }
  }

  static func parseHeader(_ d: [UInt8], name: String) throws(ImageError) -> Header {
    func fail(_ r: ImageError.Reason) -> ImageError { ImageError(path: name, reason: r) }
    guard d.count >= 2, d[0] == 0x42, d[1] == 0x4D else { throw fail(.notAnImage) }
    guard d.count >= 18 else { throw fail(.truncated) }
    let headerSize = Int(le32(d, 14))
    guard knownHeaderSizes.contains(headerSize) else {
      throw fail(.corrupt("unknown BMP header size \(headerSize)"))
    }
    guard d.count >= 14 + headerSize else { throw fail(.truncated) }
    let pixelOffset = Int(le32(d, 10))
    var width: Int
    var rawHeight: Int
    let bpp: Int
    var compression: UInt32 = 0
    var colorsUsed = 0
    if headerSize == 12 {
      width = Int(le16(d, 18))
      rawHeight = Int(le16(d, 20))
      bpp = Int(le16(d, 24))
    } else {
      width = Int(Int32(bitPattern: le32(d, 18)))
      rawHeight = Int(Int32(bitPattern: le32(d, 22)))
      bpp = Int(le16(d, 28))
      compression = le32(d, 30)
      colorsUsed = Int(le32(d, 46))
    }
    let topDown = rawHeight < 0
    let height = abs(rawHeight)
    guard width > 0, height > 0 else {
      throw fail(.corrupt("BMP size \(width)x\(rawHeight) is empty or negative"))
    }
    // Compression codes (OS/2 2.x reuses 3 and 4 for its own schemes).
    switch (compression, headerSize) {
    case (0, _): break
    case (3, 64), (4, 64): throw fail(.unsupported("OS/2 compressed BMP"))
    case (3, _), (6, _):
      guard bpp == 16 || bpp == 32 else {
        throw fail(.corrupt("bit-field BMP with \(bpp) bits per pixel"))
      }
    case (1, _), (2, _): throw fail(.unsupported("run-length compressed BMP"))
    case (4, _): throw fail(.unsupported("BMP holding a JPEG"))
    case (5, _): throw fail(.unsupported("BMP holding a PNG"))
    default: throw fail(.corrupt("unknown BMP compression \(compression)"))
    }
    guard [1, 4, 8, 16, 24, 32].contains(bpp) else {
      throw fail(.unsupported("\(bpp)-bit BMP"))
    }
    if topDown && compression != 0 && compression != 3 && compression != 6 {
      throw fail(.corrupt("top-down BMP must be uncompressed"))
    }

    var masks: (r: UInt32, g: UInt32, b: UInt32, a: UInt32) = (0, 0, 0, 0)
    var afterHeader = 14 + headerSize
    if bpp == 16 { masks = (0x7C00, 0x03E0, 0x001F, 0) }  // BI_RGB 16-bit is 5-5-5
    if bpp == 32 { masks = (0x00FF_0000, 0x0000_FF00, 0x0000_00FF, 0) }  // BGRX
    if compression == 3 || compression == 6 {
      let count = compression == 6 ? 4 : 3
      // INFO headers keep the masks just after the header; V2 and later at the same
      // offset inside it (V3 and later with an alpha mask).
      let at = 14 + 40
      if headerSize == 40 {
        guard d.count >= at + 4 * count else { throw fail(.truncated) }
        afterHeader += 4 * count
      }
      masks.r = le32(d, at)
      masks.g = le32(d, at + 4)
      masks.b = le32(d, at + 8)
      masks.a = (headerSize >= 56 || (headerSize == 40 && count == 4)) ? le32(d, at + 12) : 0
      for m in [masks.r, masks.g, masks.b, masks.a] where m != 0 {
        let shifted = m >> UInt32(m.trailingZeroBitCount)
        guard shifted & (shifted + 1) == 0 else {
          throw fail(.corrupt("BMP colour mask \(String(m, radix: 16)) is not contiguous"))
        }
      }
      if masks.r == 0 && masks.g == 0 && masks.b == 0 {
        throw fail(.corrupt("BMP colour masks are all zero"))
      }
    }

    var palette: [(UInt8, UInt8, UInt8)] = []
    if bpp <= 8 {
      let maxColors = 1 << bpp
      guard colorsUsed <= maxColors else {
        throw fail(.corrupt("BMP palette of \(colorsUsed) colours for \(bpp)-bit pixels"))
      }
      let count = colorsUsed == 0 ? maxColors : colorsUsed
      let entrySize = headerSize == 12 ? 3 : 4
      guard d.count >= afterHeader + count * entrySize else { throw fail(.truncated) }
      palette.reserveCapacity(count)
      for i in 0..<count {
        let p = afterHeader + i * entrySize
        palette.append((d[p], d[p + 1], d[p + 2]))  // stored B, G, R
      }
      afterHeader += count * entrySize
    }
    guard pixelOffset >= 14 + headerSize else {
      throw fail(.corrupt("BMP pixel data offset \(pixelOffset) inside the header"))
    }
    guard pixelOffset <= d.count else { throw fail(.truncated) }
    return Header(
      width: width, height: height, topDown: topDown, bitsPerPixel: bpp,
      pixelOffset: pixelOffset, palette: palette, masks: masks)
  }
}

@inline(__always) private func le16(_ d: [UInt8], _ o: Int) -> UInt16 {
  UInt16(d[o]) | UInt16(d[o + 1]) << 8
}

@inline(__always) private func le32(_ d: [UInt8], _ o: Int) -> UInt32 {
  UInt32(d[o]) | UInt32(d[o + 1]) << 8 | UInt32(d[o + 2]) << 16 | UInt32(d[o + 3]) << 24
}
