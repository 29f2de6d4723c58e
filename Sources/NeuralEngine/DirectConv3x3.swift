/// Direct 3×3, stride-1, pad-1 convolution kernels (AVX2/FMA through SIMD8).
///
/// im2col + sgemm spends its time moving the column matrix: for the network's thin layers
/// (16-32 channels at 112-224 pixels) that is 9× the input per image, and OpenBLAS packs it again.
/// These kernels read the input where it is. A register block holds 4 output channels × 24
/// positions (12 AVX accumulators); every input vector loaded feeds 4 FMAs and every broadcast
/// weight 3, so the loop runs at the FMA units' rate (~90-110 GFLOP/s per Zen 4 core, against
/// 40-60 for the im2col path on these shapes).
///
/// Work is done per band of output rows. The band's input rows plus the one-pixel halo are
/// copied into a zero-bordered scratch whose rows are w + 2 apart, and the kernel runs over the
/// band's *flattened* positions p = row·(w + 2) + x: the taps of p are p + ky·(w + 2) + kx, so
/// one loop covers the whole band in 24-wide blocks with no row ends or edge tests, and narrow
/// images (28 px) vectorise as well as wide ones. The two halo columns of each row produce
/// outputs that are dropped when the band is copied out (2/(w + 2) wasted work: 7% at 28 px,
/// 1% at 224). The band and its output stay in L2.
enum DirectConv3x3 {
  typealias V = SIMD8<Float>

  /// Floats after each band plane so vector reads past the last position stay in bounds.
  static let slack = 32

  @inline(__always) static func ld(_ p: UnsafePointer<Float>) -> V {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
  }

  @inline(__always) static func st(_ p: UnsafeMutablePointer<Float>, _ v: V) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
  }

  /// Output channels rounded up to the register block.
  static func blockedChannels(_ c: Int) -> Int { (c + 3) / 4 * 4 }

  /// Sizes of one band of `rows` output rows of width `w`.
  struct Band {
    let w: Int
    let rows: Int
    /// Row stride: the image row and its two halo columns.
    var s: Int { w + 2 }
    /// Floats per channel of the input band: rows + 2 halo rows, plus slack.
    var inPlane: Int { (rows + 2) * s + DirectConv3x3.slack }
    /// Floats per channel of the output band: the flat positions rounded up to a block.
    var outPlane: Int { (rows * s + 23) / 24 * 24 }
    /// Floats per channel of a gradient band (vector-rounded, zero past the last position).
    var gradPlane: Int { (rows * s + 7) / 8 * 8 }
  }

  /// Packs weights (cout, cin, 3, 3) as [cout/4][cin][9][4], zero-filled past cout. With
  /// `transposeFlip` it packs the kernel of the input gradient instead: (cin, cout) swapped and
  /// the 3×3 taps reversed, so dX = dY ⋆ packed.
  static func packWeights(
    _ w: UnsafePointer<Float>, cout: Int, cin: Int, transposeFlip: Bool, into out: UnsafeMutablePointer<Float>
  ) {
    // Roles in the packed convolution: `m` outputs from `n` inputs.
    let m = transposeFlip ? cin : cout
    let n = transposeFlip ? cout : cin
    let mb = blockedChannels(m)
    out.update(repeating: 0, count: mb * n * 9)
    for o in 0..<m {
      for i in 0..<n {
        for t in 0..<9 {
          let v = transposeFlip ? w[(i * cin + o) * 9 + (8 - t)] : w[(o * cin + i) * 9 + t]
          out[(((o / 4) * n + i) * 9 + t) * 4 + (o % 4)] = v
        }
      }
    }
  }

  /// Copies image rows `rows` and their halo (zero outside the image) of `c` planes h×w into
  /// `band` [c][inPlane]: row j at j·s, a zero column each side, zero slack at the end.
  static func padBand(
    _ src: UnsafePointer<Float>, channels c: Int, h: Int, w: Int, rows: Range<Int>,
    into band: UnsafeMutablePointer<Float>
  ) {
    let b = Band(w: w, rows: rows.count)
    let s = b.s
    for ch in 0..<c {
      let plane = src + ch * h * w
      let dst = band + ch * b.inPlane
      for j in 0..<(rows.count + 2) {
        let y = rows.lowerBound - 1 + j
        let d = dst + j * s
        if y < 0 || y >= h {
          d.update(repeating: 0, count: s)
        } else {
          d[0] = 0
          (d + 1).update(from: plane + y * w, count: w)
          d[w + 1] = 0
        }
      }
      (dst + (rows.count + 2) * s).update(repeating: 0, count: slack)
    }
  }

  /// Forward over one band: `outBand` [blocked m][outPlane] = packed ⋆ band, at every flat
  /// position (halo columns included; `copyOut` drops them).
  static func forwardBand(
    _ band: UnsafePointer<Float>, n: Int, _ b: Band, _ packed: UnsafePointer<Float>, m: Int,
    _ outBand: UnsafeMutablePointer<Float>
  ) {
    let op = b.outPlane
    for cb in 0..<(blockedChannels(m) / 4) {
      let wb = packed + cb * n * 36
      let o = outBand + cb * 4 * op
      var p = 0
      while p < op {
        block(band + p, n, b.inPlane, b.s, wb, o + p, op)
        p += 24
      }
    }
  }

  /// Register block: 4 output channels × 24 flat positions. `inp` is the input band at the
  /// block's first position, `o` the output band.
  @inline(never)
  static func block(
    _ inp: UnsafePointer<Float>, _ n: Int, _ plane: Int, _ s: Int, _ wb: UnsafePointer<Float>,
    _ o: UnsafeMutablePointer<Float>, _ outPlane: Int
  ) {
    var a00 = V()
    var a01 = V()
    var a02 = V()
    var a10 = V()
    var a11 = V()
    var a12 = V()
    var a20 = V()
    var a21 = V()
    var a22 = V()
    var a30 = V()
    var a31 = V()
    var a32 = V()
    var wc = wb
    var base = inp
    for _ in 0..<n {
      for ky in 0..<3 {
        let row = base + ky * s
        for kx in 0..<3 {
          let wk = wc + (ky * 3 + kx) * 4
          // Inputs first, then one broadcast weight at a time: 12 accumulators + 3 inputs + 1
          // weight = the 16 AVX registers, nothing spills.
          let i0 = ld(row + kx)
          let i1 = ld(row + kx + 8)
          let i2 = ld(row + kx + 16)
          let w0 = V(repeating: wk[0])
          a00 = a00.addingProduct(i0, w0)
          a01 = a01.addingProduct(i1, w0)
          a02 = a02.addingProduct(i2, w0)
          let w1 = V(repeating: wk[1])
          a10 = a10.addingProduct(i0, w1)
          a11 = a11.addingProduct(i1, w1)
          a12 = a12.addingProduct(i2, w1)
          let w2 = V(repeating: wk[2])
          a20 = a20.addingProduct(i0, w2)
          a21 = a21.addingProduct(i1, w2)
          a22 = a22.addingProduct(i2, w2)
          let w3 = V(repeating: wk[3])
          a30 = a30.addingProduct(i0, w3)
          a31 = a31.addingProduct(i1, w3)
          a32 = a32.addingProduct(i2, w3)
        }
      }
      wc += 36
      base += plane
    }
    st(o, a00)
    st(o + 8, a01)
    st(o + 16, a02)
    st(o + 1 * outPlane, a10)
    st(o + 1 * outPlane + 8, a11)
    st(o + 1 * outPlane + 16, a12)
    st(o + 2 * outPlane, a20)
    st(o + 2 * outPlane + 8, a21)
    st(o + 2 * outPlane + 16, a22)
    st(o + 3 * outPlane, a30)
    st(o + 3 * outPlane + 8, a31)
    st(o + 3 * outPlane + 16, a32)
  }

  /// Copies the valid positions of an output band into `m` planes h×w at rows `rows`, applying
  /// bias and epilogue: out = max(0?, scale·(v + bias) + shift).
  static func copyOut(
    _ outBand: UnsafePointer<Float>, m: Int, _ b: Band, rows: Range<Int>, h: Int,
    _ out: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, epilogue e: ConvEpilogue
  ) {
    let w = b.w
    for co in 0..<m {
      let scale = e.scale?[co] ?? 1
      let shift = (e.shift?[co] ?? 0) + scale * (bias?[co] ?? 0)
      let plain = scale == 1 && shift == 0 && !e.relu
      for (j, y) in rows.enumerated() {
        let src = outBand + co * b.outPlane + j * b.s
        let dst = out + co * h * w + y * w
        if plain {
          dst.update(from: src, count: w)
        } else {
          affine(src, dst, w, scale, shift, e.relu)
        }
      }
    }
  }

  /// Copies rows `rows` of `c` gradient planes h×w into `band` [blocked c][gradPlane] with the
  /// band's flat layout, zero at the halo columns, past the last position and in the channels
  /// past c.
  static func padGradientBand(
    _ src: UnsafePointer<Float>, channels c: Int, h: Int, w: Int, rows: Range<Int>,
    into band: UnsafeMutablePointer<Float>
  ) {
    let b = Band(w: w, rows: rows.count)
    let gp = b.gradPlane
    for ch in 0..<blockedChannels(c) {
      let dst = band + ch * gp
      if ch >= c {
        dst.update(repeating: 0, count: gp)
        continue
      }
      for (j, y) in rows.enumerated() {
        let d = dst + j * b.s
        d.update(from: src + ch * h * w + y * w, count: w)
        d[w] = 0
        d[w + 1] = 0
      }
      let used = rows.count * b.s
      if gp > used { (dst + used).update(repeating: 0, count: gp - used) }
    }
  }

  /// Weight gradient over one band: dW[co][ci][ky][kx] += Σ_p dY[co][p]·X[ci][p + ky·s + kx] over
  /// the band's flat positions (dY is zero at halo positions), into `dw` laid out (m, n, 3, 3).
  static func weightGradientBand(
    _ band: UnsafePointer<Float>, n: Int, _ b: Band, _ dyBand: UnsafePointer<Float>, m: Int,
    _ dw: UnsafeMutablePointer<Float>
  ) {
    let gp = b.gradPlane
    let s = b.s
    for cb in 0..<(blockedChannels(m) / 4) {
      let valid = min(4, m - cb * 4)
      let g0 = dyBand + (cb * 4) * gp
      for ci in 0..<n {
        for ky in 0..<3 {
          var a00 = V()
          var a01 = V()
          var a02 = V()
          var a10 = V()
          var a11 = V()
          var a12 = V()
          var a20 = V()
          var a21 = V()
          var a22 = V()
          var a30 = V()
          var a31 = V()
          var a32 = V()
          let xin = band + ci * b.inPlane + ky * s
          var q = 0
          while q < gp {
            // Inputs first, then one gradient vector at a time (16 registers, no spills).
            let i0 = ld(xin + q)
            let i1 = ld(xin + q + 1)
            let i2 = ld(xin + q + 2)
            let d0 = ld(g0 + q)
            a00 = a00.addingProduct(d0, i0)
            a01 = a01.addingProduct(d0, i1)
            a02 = a02.addingProduct(d0, i2)
            let d1 = ld(g0 + gp + q)
            a10 = a10.addingProduct(d1, i0)
            a11 = a11.addingProduct(d1, i1)
            a12 = a12.addingProduct(d1, i2)
            let d2 = ld(g0 + 2 * gp + q)
            a20 = a20.addingProduct(d2, i0)
            a21 = a21.addingProduct(d2, i1)
            a22 = a22.addingProduct(d2, i2)
            let d3 = ld(g0 + 3 * gp + q)
            a30 = a30.addingProduct(d3, i0)
            a31 = a31.addingProduct(d3, i1)
            a32 = a32.addingProduct(d3, i2)
            q += 8
          }
          let o = dw + ((cb * 4) * n + ci) * 9 + ky * 3
          o[0] += a00.sum()
          o[1] += a01.sum()
          o[2] += a02.sum()
          if valid > 1 {
            let o1 = o + n * 9
            o1[0] += a10.sum()
            o1[1] += a11.sum()
            o1[2] += a12.sum()
          }
          if valid > 2 {
            let o2 = o + 2 * n * 9
            o2[0] += a20.sum()
            o2[1] += a21.sum()
            o2[2] += a22.sum()
          }
          if valid > 3 {
            let o3 = o + 3 * n * 9
            o3[0] += a30.sum()
            o3[1] += a31.sum()
            o3[2] += a32.sum()
          }
        }
      }
    }
  }

  /// Output rows per band so that the band's scratch (`bytesPerRow` per output row plus
  /// `fixedBytes`) stays within `budget` bytes (an L2-sized slice).
  static func bandRows(height: Int, bytesPerRow: Int, fixedBytes: Int, budget: Int = 384 * 1024) -> Int {
    max(1, min(height, (budget - fixedBytes) / max(1, bytesPerRow)))
  }
}
