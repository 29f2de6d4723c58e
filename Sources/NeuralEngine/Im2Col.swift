/// Geometry of a 2-D convolution over one image.
public struct ConvGeometry: Sendable, Equatable {
  public let channels: Int
  public let height: Int
  public let width: Int
  public let kernel: Int
  public let stride: Int
  public let padding: Int

  public init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
    self.channels = channels
    self.height = height
    self.width = width
    self.kernel = kernel
    self.stride = stride
    self.padding = padding
  }

  public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
  public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
  /// Rows of the column matrix: channels × kernel × kernel.
  public var colRows: Int { channels * kernel * kernel }
  /// Columns of the column matrix: output pixels.
  public var colCols: Int { outHeight * outWidth }
  /// True when the column matrix is the image itself (1×1, stride 1, no padding).
  public var isIdentity: Bool { kernel == 1 && stride == 1 && padding == 0 }
}

/// Unfolds one CHW image into the (C·k·k) × (Ho·Wo) column matrix, zero outside the image.
/// Only output rows `rows` are written (columns (oy − rows.lowerBound)·Wo + ox, row stride `ld`),
/// so a convolution can unfold a tile that stays in cache; `channels` limits the rows of channels.
public func im2col(
  _ x: UnsafePointer<Float>, _ g: ConvGeometry, _ col: UnsafeMutablePointer<Float>, ld: Int? = nil,
  rows: Range<Int>? = nil, channels: Range<Int>? = nil
) {
  let k = g.kernel
  let s = g.stride
  let p = g.padding
  let h = g.height
  let w = g.width
  let wo = g.outWidth
  let oys = rows ?? 0..<g.outHeight
  let stride = ld ?? oys.count * wo
  let cs = channels ?? 0..<g.channels
  for ci in cs {
    let xc = x + ci * h * w
    for ky in 0..<k {
      for kx in 0..<k {
        let row = col + ((ci * k + ky) * k + kx) * stride
        // Output columns whose input column lies inside the image: ox*s - p + kx in [0, w).
        let oxLo = max(0, (p - kx + s - 1) / s)
        let oxHi = min(wo, floorDiv(w - 1 + p - kx, s) + 1)
        for oy in oys {
          let iy = oy * s - p + ky
          let dst = row + (oy - oys.lowerBound) * wo
          if iy < 0 || iy >= h || oxHi <= oxLo {
            dst.update(repeating: 0, count: wo)
            continue
          }
          if oxLo > 0 { dst.update(repeating: 0, count: oxLo) }
          let src = xc + iy * w
          if s == 1 {
            (dst + oxLo).update(from: src + (oxLo - p + kx), count: oxHi - oxLo)
          } else {
            var ix = oxLo * s - p + kx
            for ox in oxLo..<oxHi {
              dst[ox] = src[ix]
              ix += s
            }
          }
          if oxHi < wo { (dst + oxHi).update(repeating: 0, count: wo - oxHi) }
        }
      }
    }
  }
}

/// Folds a column matrix back into a CHW image, adding overlapping contributions; the inverse
/// of `im2col` for gradients. Overwrites the image's `channels` when `accumulate` is false.
public func col2im(
  _ col: UnsafePointer<Float>, _ g: ConvGeometry, _ x: UnsafeMutablePointer<Float>,
  accumulate: Bool, channels: Range<Int>? = nil
) {
  let k = g.kernel
  let s = g.stride
  let p = g.padding
  let h = g.height
  let w = g.width
  let ho = g.outHeight
  let wo = g.outWidth
  let cs = channels ?? 0..<g.channels
  for ci in cs {
    let xc = x + ci * h * w
    if !accumulate { xc.update(repeating: 0, count: h * w) }
    for ky in 0..<k {
      for kx in 0..<k {
        let row = col + ((ci * k + ky) * k + kx) * ho * wo
        let oxLo = max(0, (p - kx + s - 1) / s)
        let oxHi = min(wo, floorDiv(w - 1 + p - kx, s) + 1)
        if oxHi <= oxLo { continue }
        for oy in 0..<ho {
          let iy = oy * s - p + ky
          if iy < 0 || iy >= h { continue }
          let src = row + oy * wo
          let dst = xc + iy * w
          var ix = oxLo * s - p + kx
          for ox in oxLo..<oxHi {
            dst[ix] += src[ox]
            ix += s
          }
        }
      }
    }
  }
}

@inline(__always)
func floorDiv(_ a: Int, _ b: Int) -> Int {
  let q = a / b
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
