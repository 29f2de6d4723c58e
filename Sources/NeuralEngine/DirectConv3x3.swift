/// Direct 3×3, stride-1, pad-1 convolution kernels (AVX2/FMA through SIMD8).
///
/// im2col + sgemm spends its time moving the column matrix: for the network's thin layers
/// (16-32 channels at 112-224 pixels) that is 9× the input per image, and OpenBLAS packs it again.
/// These kernels read the input where it is. A register block holds 4 output channels × 24
/// pixels of one output row (12 AVX accumulators); every input vector loaded feeds 4 FMAs and
/// every broadcast weight 3, so the loop runs at the FMA units' rate (~110 GFLOP/s per Zen 4 core,
/// against 40-60 for the im2col path on these shapes).
///
/// Work is done per band of output rows: the band's input rows (plus the one-pixel halo) are
/// copied into a zero-bordered scratch so no kernel ever tests an edge, and the band stays in L2.
enum DirectConv3x3 {
  typealias V = SIMD8<Float>

  @inline(__always) static func ld(_ p: UnsafePointer<Float>) -> V {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
  }

  @inline(__always) static func st(_ p: UnsafeMutablePointer<Float>, _ v: V, _ count: Int) {
    if count >= 8 {
      UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    } else {
      for i in 0..<count { p[i] = v[i] }
    }
  }

  /// Row stride of a padded band: width + 2 halo columns, rounded up to 8, plus 8 so a vector
  /// load starting at the last valid column stays inside the row.
  static func paddedWidth(_ w: Int) -> Int { (w + 2 + 7) / 8 * 8 + 8 }

  /// Output channels rounded up to the register block.
  static func blockedChannels(_ c: Int) -> Int { (c + 3) / 4 * 4 }

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

  /// Copies rows `rows` (plus a one-row halo above and below, zero outside the image) of `c`
  /// planes h×w into `band` [c][rows.count + 2][wp], with a zero column on the left and zeros
  /// right of the image.
  static func padBand(
    _ src: UnsafePointer<Float>, channels c: Int, h: Int, w: Int, rows: Range<Int>,
    into band: UnsafeMutablePointer<Float>, wp: Int
  ) {
    let r = rows.count + 2
    for ch in 0..<c {
      let plane = src + ch * h * w
      let dst = band + ch * r * wp
      for j in 0..<r {
        let y = rows.lowerBound - 1 + j
        let d = dst + j * wp
        if y < 0 || y >= h {
          d.update(repeating: 0, count: wp)
        } else {
          d[0] = 0
          (d + 1).update(from: plane + y * w, count: w)
          (d + 1 + w).update(repeating: 0, count: wp - 1 - w)
        }
      }
    }
  }

  /// Forward over one band: out rows `rows` of `m` channels (h×w planes, row stride w) from the
  /// padded band of `n` input channels and packed weights.
  static func forwardBand(
    _ band: UnsafePointer<Float>, n: Int, wp: Int, rows: Range<Int>, h: Int, w: Int,
    _ packed: UnsafePointer<Float>, m: Int, _ out: UnsafeMutablePointer<Float>,
    epilogue e: ConvEpilogue = .none
  ) {
    let r = rows.count + 2
    let plane = r * wp
    for cb in 0..<(blockedChannels(m) / 4) {
      let wb = packed + cb * n * 36
      let valid = min(4, m - cb * 4)
      for (j, y) in rows.enumerated() {
        // Vectors of the row split into blocks of 3 and 2 (a block of 1 has too few
        // accumulators to hide the FMA latency): 28 vectors = 3·8 + 2·2.
        let vectors = (w + 7) / 8
        var threes = vectors / 3
        var twos = 0
        switch vectors % 3 {
        case 1 where threes > 0:
          threes -= 1
          twos = 2
        case 2: twos = 1
        default: break
        }
        var x = 0
        for b in 0..<(threes + twos + (vectors == 1 ? 1 : 0)) {
          let o = out + (cb * 4) * h * w + y * w + x
          let base = band + j * wp + x
          if vectors == 1 {
            block1(base, n, plane, wp, wb, o, h * w, valid, last: w, e, cb * 4)
          } else if b < threes {
            block3(base, n, plane, wp, wb, o, h * w, valid, last: min(8, w - x - 16), e, cb * 4)
            x += 24
          } else {
            block2(base, n, plane, wp, wb, o, h * w, valid, last: min(8, w - x - 8), e, cb * 4)
            x += 16
          }
        }
      }
    }
  }

  /// Register block of 4 output channels × 24 pixels.
  @inline(never)
  static func block3(
    _ base: UnsafePointer<Float>, _ n: Int, _ plane: Int, _ wp: Int, _ wb: UnsafePointer<Float>,
    _ o: UnsafeMutablePointer<Float>, _ outPlane: Int, _ valid: Int, last: Int, _ e: ConvEpilogue,
    _ channel: Int
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
    var inp = base
    for _ in 0..<n {
      for ky in 0..<3 {
        let row = inp + ky * wp
        for kx in 0..<3 {
          let wk = wc + (ky * 3 + kx) * 4
          let i0 = ld(row + kx)
          let i1 = ld(row + kx + 8)
          let i2 = ld(row + kx + 16)
          // Inputs first, then one broadcast weight at a time: 12 accumulators + 3 inputs + 1
          // weight = the 16 AVX registers, nothing spills.
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
      inp += plane
    }
    storeRow(o, a00, a01, a02, nv: 3, last: last, e, channel)
    if valid > 1 { storeRow(o + 1 * outPlane, a10, a11, a12, nv: 3, last: last, e, channel + 1) }
    if valid > 2 { storeRow(o + 2 * outPlane, a20, a21, a22, nv: 3, last: last, e, channel + 2) }
    if valid > 3 { storeRow(o + 3 * outPlane, a30, a31, a32, nv: 3, last: last, e, channel + 3) }
  }

  /// Register block of 4 output channels × 16 pixels.
  @inline(never)
  static func block2(
    _ base: UnsafePointer<Float>, _ n: Int, _ plane: Int, _ wp: Int, _ wb: UnsafePointer<Float>,
    _ o: UnsafeMutablePointer<Float>, _ outPlane: Int, _ valid: Int, last: Int, _ e: ConvEpilogue,
    _ channel: Int
  ) {
    var a00 = V()
    var a01 = V()
    var a10 = V()
    var a11 = V()
    var a20 = V()
    var a21 = V()
    var a30 = V()
    var a31 = V()
    var wc = wb
    var inp = base
    for _ in 0..<n {
      for ky in 0..<3 {
        let row = inp + ky * wp
        for kx in 0..<3 {
          let wk = wc + (ky * 3 + kx) * 4
          let i0 = ld(row + kx)
          let i1 = ld(row + kx + 8)
          // Inputs first, then one broadcast weight at a time: 12 accumulators + 3 inputs + 1
          // weight = the 16 AVX registers, nothing spills.
          let w0 = V(repeating: wk[0])
          a00 = a00.addingProduct(i0, w0)
          a01 = a01.addingProduct(i1, w0)
          let w1 = V(repeating: wk[1])
          a10 = a10.addingProduct(i0, w1)
          a11 = a11.addingProduct(i1, w1)
          let w2 = V(repeating: wk[2])
          a20 = a20.addingProduct(i0, w2)
          a21 = a21.addingProduct(i1, w2)
          let w3 = V(repeating: wk[3])
          a30 = a30.addingProduct(i0, w3)
          a31 = a31.addingProduct(i1, w3)
        }
      }
      wc += 36
      inp += plane
    }
    storeRow(o, a00, a01, V(), nv: 2, last: last, e, channel)
    if valid > 1 { storeRow(o + 1 * outPlane, a10, a11, V(), nv: 2, last: last, e, channel + 1) }
    if valid > 2 { storeRow(o + 2 * outPlane, a20, a21, V(), nv: 2, last: last, e, channel + 2) }
    if valid > 3 { storeRow(o + 3 * outPlane, a30, a31, V(), nv: 2, last: last, e, channel + 3) }
  }

  /// Register block of 4 output channels × 8 pixels.
  @inline(never)
  static func block1(
    _ base: UnsafePointer<Float>, _ n: Int, _ plane: Int, _ wp: Int, _ wb: UnsafePointer<Float>,
    _ o: UnsafeMutablePointer<Float>, _ outPlane: Int, _ valid: Int, last: Int, _ e: ConvEpilogue,
    _ channel: Int
  ) {
    var a00 = V()
    var a10 = V()
    var a20 = V()
    var a30 = V()
    var wc = wb
    var inp = base
    for _ in 0..<n {
      for ky in 0..<3 {
        let row = inp + ky * wp
        for kx in 0..<3 {
          let wk = wc + (ky * 3 + kx) * 4
          let i0 = ld(row + kx)
          // Inputs first, then one broadcast weight at a time: 12 accumulators + 3 inputs + 1
          // weight = the 16 AVX registers, nothing spills.
          let w0 = V(repeating: wk[0])
          a00 = a00.addingProduct(i0, w0)
          let w1 = V(repeating: wk[1])
          a10 = a10.addingProduct(i0, w1)
          let w2 = V(repeating: wk[2])
          a20 = a20.addingProduct(i0, w2)
          let w3 = V(repeating: wk[3])
          a30 = a30.addingProduct(i0, w3)
        }
      }
      wc += 36
      inp += plane
    }
    storeRow(o, a00, V(), V(), nv: 1, last: last, e, channel)
    if valid > 1 { storeRow(o + 1 * outPlane, a10, V(), V(), nv: 1, last: last, e, channel + 1) }
    if valid > 2 { storeRow(o + 2 * outPlane, a20, V(), V(), nv: 1, last: last, e, channel + 2) }
    if valid > 3 { storeRow(o + 3 * outPlane, a30, V(), V(), nv: 1, last: last, e, channel + 3) }
  }

  @inline(__always)
  static func storeRow(
    _ o: UnsafeMutablePointer<Float>, _ a: V, _ b: V, _ c: V, nv: Int, last: Int, _ e: ConvEpilogue,
    _ channel: Int
  ) {
    var a = a
    var b = b
    var c = c
    if e.isActive {
      let sv = V(repeating: e.scale?[channel] ?? 1)
      let tv = V(repeating: e.shift?[channel] ?? 0)
      a = tv.addingProduct(a, sv)
      b = tv.addingProduct(b, sv)
      c = tv.addingProduct(c, sv)
      if e.relu {
        a = relu8(a)
        b = relu8(b)
        c = relu8(c)
      }
    }
    st(o, a, nv == 1 ? last : 8)
    if nv >= 2 { st(o + 8, b, nv == 2 ? last : 8) }
    if nv >= 3 { st(o + 16, c, last) }
  }

  /// Copies rows `rows` of `c` gradient planes h×w into `band` [blocked c][rows.count][w8] with
  /// zeros right of the image and in the channels past c, so whole vectors can be read.
  static func padGradientBand(
    _ src: UnsafePointer<Float>, channels c: Int, h: Int, w: Int, rows: Range<Int>,
    into band: UnsafeMutablePointer<Float>, w8: Int
  ) {
    let r = rows.count
    for ch in 0..<blockedChannels(c) {
      let dst = band + ch * r * w8
      if ch >= c {
        dst.update(repeating: 0, count: r * w8)
        continue
      }
      for (j, y) in rows.enumerated() {
        let d = dst + j * w8
        d.update(from: src + ch * h * w + y * w, count: w)
        if w8 > w { (d + w).update(repeating: 0, count: w8 - w) }
      }
    }
  }

  /// Weight gradient over one band: dW[co][ci][ky][kx] += Σ dY[co][y][x]·X[ci][y+ky−1][x+kx−1]
  /// for the band's rows, from the padded input band (`n` channels) and the padded gradient
  /// band (`m` channels, blocked), into `dw` laid out (m, n, 3, 3).
  static func weightGradientBand(
    _ band: UnsafePointer<Float>, n: Int, wp: Int, _ dyBand: UnsafePointer<Float>, m: Int, rows: Int,
    w8: Int, _ dw: UnsafeMutablePointer<Float>
  ) {
    let plane = (rows + 2) * wp
    let dyPlane = rows * w8
    for cb in 0..<(blockedChannels(m) / 4) {
      let valid = min(4, m - cb * 4)
      let d0p = dyBand + (cb * 4) * dyPlane
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
          for j in 0..<rows {
            let xin = band + ci * plane + (j + ky) * wp
            let g0 = d0p + j * w8
            var x = 0
            while x < w8 {
              // Inputs first, then one gradient vector at a time (16 registers, no spills).
              let i0 = ld(xin + x)
              let i1 = ld(xin + x + 1)
              let i2 = ld(xin + x + 2)
              let d0 = ld(g0 + x)
              a00 = a00.addingProduct(d0, i0)
              a01 = a01.addingProduct(d0, i1)
              a02 = a02.addingProduct(d0, i2)
              let d1 = ld(g0 + dyPlane + x)
              a10 = a10.addingProduct(d1, i0)
              a11 = a11.addingProduct(d1, i1)
              a12 = a12.addingProduct(d1, i2)
              let d2 = ld(g0 + 2 * dyPlane + x)
              a20 = a20.addingProduct(d2, i0)
              a21 = a21.addingProduct(d2, i1)
              a22 = a22.addingProduct(d2, i2)
              let d3 = ld(g0 + 3 * dyPlane + x)
              a30 = a30.addingProduct(d3, i0)
              a31 = a31.addingProduct(d3, i1)
              a32 = a32.addingProduct(d3, i2)
              x += 8
            }
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
