// Resizing. Each axis is resampled on its own (separably): area averaging on an axis that
// shrinks, so every source pixel counts with the share of it an output pixel covers (no
// aliasing in thumbnails of fine chromatin texture); bilinear on an axis that grows.

extension RGBImage {
  /// A `width` × `height` copy: area average when shrinking, bilinear when enlarging
  /// (pixel centres aligned, edges clamped), chosen per axis; same size returns a copy.
  public func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
    precondition(newWidth >= 0 && newHeight >= 0, "negative size \(newWidth)x\(newHeight)")
    if newWidth == width && newHeight == height { return self }
    if newWidth == 0 || newHeight == 0 || width == 0 || height == 0 {
      return RGBImage(width: newWidth, height: newHeight)
    }
    let xs = ResampleAxis(source: width, target: newWidth)
    let ys = ResampleAxis(source: height, target: newHeight)
    // Horizontal pass into Double rows, then vertical pass, rounding once at the end.
    var horizontal = [Double](repeating: 0, count: newWidth * height * 3)
    pixels.withUnsafeBufferPointer { src in
      horizontal.withUnsafeMutableBufferPointer { dst in
        for y in 0..<height {
          let row = y * width * 3
          for ox in 0..<newWidth {
            var r = 0.0
            var g = 0.0
            var b = 0.0
            for k in xs.range(ox) {
              let w = xs.weights[k]
              let s = row + xs.indices[k] * 3
              r += w * Double(src[s])
              g += w * Double(src[s + 1])
              b += w * Double(src[s + 2])
            }
            let d = (y * newWidth + ox) * 3
            dst[d] = r
            dst[d + 1] = g
            dst[d + 2] = b
          }
        }
      }
    }
    var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
    let rowLength = newWidth * 3
    var accumulator = [Double](repeating: 0, count: rowLength)
    horizontal.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        accumulator.withUnsafeMutableBufferPointer { acc in
          for oy in 0..<newHeight {
            for i in 0..<rowLength { acc[i] = 0 }
            for k in ys.range(oy) {
              let w = ys.weights[k]
              let s = ys.indices[k] * rowLength
              for i in 0..<rowLength { acc[i] += w * src[s + i] }
            }
            let d = oy * rowLength
            for i in 0..<rowLength { dst[d + i] = UInt8(min(255, max(0, acc[i].rounded()))) }
          }
        }
      }
    }
    return RGBImage(width: newWidth, height: newHeight, pixels: out)
  }
}

/// For each output index along one axis: which source indices contribute, with what weight.
struct ResampleAxis {
  var starts: [Int]  // into indices/weights, count target + 1
  var indices: [Int] = []
  var weights: [Double] = []

  func range(_ o: Int) -> Range<Int> { starts[o]..<starts[o + 1] }

  init(source: Int, target: Int) {
    starts = [0]
    starts.reserveCapacity(target + 1)
    if target < source {
      // Area averaging: output pixel o covers source interval [o*s, (o+1)*s), s = source/target.
      // Weights are the covered length of each source pixel divided by s; they sum to 1.
      for o in 0..<target {
        // Exact rational endpoints: o*source/target, in units of 1/target.
        let lo = o * source
        let hi = (o + 1) * source
        var i = lo / target
        while i * target < hi {
          let a = max(lo, i * target)
          let b = min(hi, (i + 1) * target)
          if b > a {
            indices.append(i)
            weights.append(Double(b - a) / Double(source))
          }
          i += 1
        }
        starts.append(indices.count)
      }
    } else {
      // Bilinear: output centre o + 0.5 maps to source coordinate (o + 0.5) * s - 0.5,
      // clamped to the edge pixels; same size maps every pixel onto itself.
      let scale = Double(source) / Double(target)
      for o in 0..<target {
        let c = min(max((Double(o) + 0.5) * scale - 0.5, 0), Double(source - 1))
        let i0 = Int(c.rounded(.down))
        let f = c - Double(i0)
        indices.append(i0)
        weights.append(1 - f)
        if f > 0 && i0 + 1 < source {
          indices.append(i0 + 1)
          weights.append(f)
        }
        starts.append(indices.count)
      }
    }
  }
}

extension Mask {
  /// A `width` × `height` copy by nearest neighbour (the source pixel under each output
  /// pixel's centre), so a label mask keeps exactly its label values.
  public func resized(width newWidth: Int, height newHeight: Int) -> Mask {
    precondition(newWidth >= 0 && newHeight >= 0, "negative size \(newWidth)x\(newHeight)")
    if newWidth == width && newHeight == height { return self }
    if width == 0 || height == 0 { return Mask(width: newWidth, height: newHeight) }
    // Source index of output centre o: floor((2o + 1) * source / (2 * target)), exact.
    let xs = (0..<newWidth).map { min(width - 1, (2 * $0 + 1) * width / (2 * newWidth)) }
    var out = [UInt8](repeating: 0, count: newWidth * newHeight)
    for oy in 0..<newHeight {
      let sy = min(height - 1, (2 * oy + 1) * height / (2 * newHeight))
      let srcRow = sy * width
      let dstRow = oy * newWidth
      for ox in 0..<newWidth { out[dstRow + ox] = values[srcRow + xs[ox]] }
    }
    return Mask(width: newWidth, height: newHeight, values: out)
  }
}
