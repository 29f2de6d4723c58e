import Imaging

/// Scales `image` to `width` × `height`: area averaging when shrinking (thumbnails must not
/// alias the fine chromatin texture), nearest-neighbour sampling when enlarging, which
/// keeps single pixels crisp in the mask editor.
///
/// Interim: the Imaging module's `RGBImage.resized(width:height:)` replaces this once it lands.
func scaled(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
  guard width > 0, height > 0, image.width > 0, image.height > 0 else {
    return RGBImage(width: max(0, width), height: max(0, height))
  }
  var out = [UInt8](repeating: 0, count: width * height * 3)
  let sw = image.width
  let sh = image.height
  image.pixels.withUnsafeBufferPointer { src in
    for y in 0..<height {
      let y0 = y * sh / height
      let y1 = max(y0 + 1, (y + 1) * sh / height)
      for x in 0..<width {
        let x0 = x * sw / width
        let x1 = max(x0 + 1, (x + 1) * sw / width)
        var r = 0
        var g = 0
        var b = 0
        for yy in y0..<y1 {
          var i = (yy * sw + x0) * 3
          for _ in x0..<x1 {
            r += Int(src[i])
            g += Int(src[i + 1])
            b += Int(src[i + 2])
            i += 3
          }
        }
        let n = (y1 - y0) * (x1 - x0)
        let o = (y * width + x) * 3
        out[o] = UInt8((r + n / 2) / n)
        out[o + 1] = UInt8((g + n / 2) / n)
        out[o + 2] = UInt8((b + n / 2) / n)
      }
    }
  }
  return RGBImage(width: width, height: height, pixels: out)
}
