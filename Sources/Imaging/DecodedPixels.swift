/// What every decoder hands back before conversion: 1 channel (gray) or 3 (RGB), 8-bit.
/// `decodeImage` widens gray to RGB; `decodeMask` keeps gray and takes the luminance of RGB.
struct DecodedPixels {
  var width: Int
  var height: Int
  var channels: Int
  var bytes: [UInt8]

  func rgbImage() -> RGBImage {
    if channels == 3 { return RGBImage(width: width, height: height, pixels: bytes) }
    var rgb = [UInt8](repeating: 0, count: bytes.count * 3)
    rgb.withUnsafeMutableBufferPointer { out in
      bytes.withUnsafeBufferPointer { gray in
        for i in 0..<gray.count {
          let v = gray[i]
          out[3 * i] = v
          out[3 * i + 1] = v
          out[3 * i + 2] = v
        }
      }
    }
    return RGBImage(width: width, height: height, pixels: rgb)
  }

  /// Gray values as they are; RGB as ITU-R BT.601 luma, (299 R + 587 G + 114 B) / 1000
  /// rounded, which maps every gray R = G = B back to exactly that value.
  func mask() -> Mask {
    if channels == 1 { return Mask(width: width, height: height, values: bytes) }
    let count = width * height
    var values = [UInt8](repeating: 0, count: count)
    values.withUnsafeMutableBufferPointer { out in
      bytes.withUnsafeBufferPointer { rgb in
        for i in 0..<count {
          let y = 299 * Int(rgb[3 * i]) + 587 * Int(rgb[3 * i + 1]) + 114 * Int(rgb[3 * i + 2])
          out[i] = UInt8((y + 500) / 1000)
        }
      }
    }
    return Mask(width: width, height: height, values: values)
  }
}
