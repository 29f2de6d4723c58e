/// Winograd F(2×2, 3×3) convolution (Lavin & Gray 2016) for 3×3, stride-1, pad-1 layers with
/// enough channels: each 2×2 output tile costs 16 multiply-adds per channel pair instead of the
/// direct method's 36, paid for with input and output transforms (additions) per channel.
///
///     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,   d a 4×4 input tile, g the 3×3 kernel
///
/// A band of output rows is copied (with its halo) into a zero-bordered scratch. Its tiles are
/// taken 8 at a time along a tile row (one vector per tile position), 3 vectors to a block: the
/// input transform writes V[ξ][ci][24] (ξ the 16 tile positions), 16 small GEMMs M[ξ] = U[ξ]·V[ξ]
/// run in the direct kernel's 4 × 24 register block, and the output transform writes the 2×2
/// outputs into an output band that is then copied into the image. Tile rows are padded to a
/// multiple of 8 tiles (the extra tiles are computed and dropped: 12% more work at 28 and 56 px,
/// none at 112 and 224).
enum Winograd3x3 {
  /// Sizes of one band of `rows` output rows of width `w`.
  struct Band {
    let w: Int
    let rows: Int
    /// Real tiles per tile row, and rounded up to whole vectors.
    var tilesPerRow: Int { (w + 1) / 2 }
    var paddedTilesPerRow: Int { (tilesPerRow + 7) / 8 * 8 }
    /// Row stride of the input and output bands: wide enough for the padded tiles.
    var s: Int { (max(w + 2, 2 * paddedTilesPerRow + 2) + 1) / 2 * 2 }
    var tileRows: Int { (rows + 1) / 2 }
    /// Tile vectors of the band, and blocks of three.
    var vectors: Int { tileRows * paddedTilesPerRow / 8 }
    var blocks: Int { (vectors + 2) / 3 }
    /// Input rows (2 per tile row + 2 of overlap) and floats per channel, with read slack.
    var inRows: Int { 2 * tileRows + 2 }
    var inPlane: Int { inRows * s + 32 }
    /// Floats per output channel: 2 rows per tile row.
    var outPlane: Int { 2 * tileRows * s + 16 }
  }

  /// U[ξ][co/4][ci][4] = (G g Gᵀ)[ξ] for the kernels g = w[co][ci] (cout, cin, 3, 3), zero past
  /// cout; G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
  static func transformWeights(
    _ w: UnsafePointer<Float>, cout: Int, cin: Int, into u: UnsafeMutablePointer<Float>
  ) {
    let cb = DirectConv3x3.blockedChannels(cout)
    u.update(repeating: 0, count: 16 * cb * cin)
    for co in 0..<cout {
      for ci in 0..<cin {
        let g = w + (co * cin + ci) * 9
        // Gg (4×3), then (Gg)Gᵀ (4×4), row by row.
        for i in 0..<4 {
          let a: Float
          let b: Float
          let c: Float
          func gRow(_ j: Int) -> Float {
            switch i {
            case 0: return g[j]
            case 1: return 0.5 * (g[j] + g[3 + j] + g[6 + j])
            case 2: return 0.5 * (g[j] - g[3 + j] + g[6 + j])
            default: return g[6 + j]
            }
          }
          (a, b, c) = (gRow(0), gRow(1), gRow(2))
          let row = (a, 0.5 * (a + b + c), 0.5 * (a - b + c), c)
          let base = ((i * 4 * (cb / 4) + co / 4) * cin + ci) * 4 + co % 4
          let step = (cb / 4) * cin * 4  // from ξ to ξ + 1
          u[base] = row.0
          u[base + step] = row.1
          u[base + 2 * step] = row.2
          u[base + 3 * step] = row.3
        }
      }
    }
  }

  /// Copies image rows `rows` with their halo into `band` [c][inPlane] (row stride s, image
  /// column x at x + 1), zero elsewhere.
  static func padBand(
    _ src: UnsafePointer<Float>, channels c: Int, h: Int, w: Int, rows: Range<Int>,
    into band: UnsafeMutablePointer<Float>
  ) {
    let b = Band(w: w, rows: rows.count)
    let s = b.s
    for ch in 0..<c {
      let plane = src + ch * h * w
      let dst = band + ch * b.inPlane
      for j in 0..<b.inRows {
        let y = rows.lowerBound - 1 + j
        let d = dst + j * s
        if y < 0 || y >= h {
          d.update(repeating: 0, count: s)
        } else {
          d[0] = 0
          (d + 1).update(from: plane + y * w, count: w)
          (d + 1 + w).update(repeating: 0, count: s - 1 - w)
        }
      }
      (dst + b.inRows * s).update(repeating: 0, count: b.inPlane - b.inRows * s)
    }
  }

  /// One band: outBand[co][y·s + x] = the convolution at output row y (from the band's first)
  /// and column x. `v` and `m` are scratch of 16·cin·24 and 16·blocked(cout)·24 floats.
  static func forwardBand(
    _ band: UnsafePointer<Float>, cin: Int, _ b: Band, _ u: UnsafePointer<Float>, cout: Int,
    _ outBand: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>
  ) {
    let s = b.s
    let cb = DirectConv3x3.blockedChannels(cout)
    let perRow = b.paddedTilesPerRow / 8
    for block in 0..<b.blocks {
      // Input transform: V[ξ][ci][24] = (Bᵀ d B)[ξ] for the block's (up to) 3 tile vectors.
      for k in 0..<3 {
        let vi = block * 3 + k
        if vi >= b.vectors {
          for xi in 0..<16 {
            for ci in 0..<cin { (v + (xi * cin + ci) * 24 + 8 * k).update(repeating: 0, count: 8) }
          }
          continue
        }
        let offset = 2 * (vi / perRow) * s + 2 * 8 * (vi % perRow)
        for ci in 0..<cin {
          inputTransform(band + ci * b.inPlane + offset, s, v + ci * 24 + 8 * k, cin * 24)
        }
      }
      // 16 GEMMs, 4 output channels at a time.
      for xi in 0..<16 {
        let vx = v + xi * cin * 24
        for c4 in 0..<(cb / 4) {
          gemmBlock(vx, cin, u + (xi * (cb / 4) + c4) * cin * 4, m + (xi * cb + c4 * 4) * 24)
        }
      }
      // Output transform into the output band.
      for k in 0..<3 {
        let vi = block * 3 + k
        if vi >= b.vectors { break }
        let offset = 2 * (vi / perRow) * s + 2 * 8 * (vi % perRow)
        for co in 0..<cout {
          outputTransform(m + co * 24 + 8 * k, cb * 24, outBand + co * b.outPlane + offset, s)
        }
      }
    }
  }

  /// Copies the output band's valid positions into `m` planes h×w at rows `rows`, applying
  /// bias and epilogue.
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

  /// Bᵀ d B for 8 tiles starting at `base` (tile i at base + 2i), written to dst + ξ·stride.
  /// Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]].
  @inline(__always)
  static func inputTransform(
    _ base: UnsafePointer<Float>, _ s: Int, _ dst: UnsafeMutablePointer<Float>, _ stride: Int
  ) {
    // Row r of the 8 tiles: columns 0..3 as vectors (even/odd lanes of two 16-wide loads).
    @inline(__always) func row(_ r: Int) -> (F8, F8, F8, F8) {
      let p = base + r * s
      let a = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
      let b = UnsafeRawPointer(p + 2).loadUnaligned(as: SIMD16<Float>.self)
      return (a.evenHalf, a.oddHalf, b.evenHalf, b.oddHalf)
    }
    let (d00, d01, d02, d03) = row(0)
    let (d10, d11, d12, d13) = row(1)
    let (d20, d21, d22, d23) = row(2)
    let (d30, d31, d32, d33) = row(3)
    // Bᵀ d: rows.
    let t00 = d00 - d20
    let t01 = d01 - d21
    let t02 = d02 - d22
    let t03 = d03 - d23
    let t10 = d10 + d20
    let t11 = d11 + d21
    let t12 = d12 + d22
    let t13 = d13 + d23
    let t20 = d20 - d10
    let t21 = d21 - d11
    let t22 = d22 - d12
    let t23 = d23 - d13
    let t30 = d10 - d30
    let t31 = d11 - d31
    let t32 = d12 - d32
    let t33 = d13 - d33
    // (Bᵀ d) B: columns.
    @inline(__always) func cols(_ i: Int, _ a: F8, _ b: F8, _ c: F8, _ d: F8) {
      let o = dst + 4 * i * stride
      store8(o, a - c)
      store8(o + stride, b + c)
      store8(o + 2 * stride, c - b)
      store8(o + 3 * stride, b - d)
    }
    cols(0, t00, t01, t02, t03)
    cols(1, t10, t11, t12, t13)
    cols(2, t20, t21, t22, t23)
    cols(3, t30, t31, t32, t33)
  }

  /// Aᵀ M A for 8 tiles (M[ξ] at src + ξ·stride), written as 2×2 outputs: tile i at
  /// out + 2i (row 0) and out + s + 2i (row 1). Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]].
  @inline(__always)
  static func outputTransform(
    _ src: UnsafePointer<Float>, _ stride: Int, _ out: UnsafeMutablePointer<Float>, _ s: Int
  ) {
    @inline(__always) func m(_ xi: Int) -> F8 { load8(src + xi * stride) }
    // Aᵀ M: two rows of four.
    let a0 = m(0) + m(4) + m(8)
    let a1 = m(1) + m(5) + m(9)
    let a2 = m(2) + m(6) + m(10)
    let a3 = m(3) + m(7) + m(11)
    let b0 = m(4) - m(8) - m(12)
    let b1 = m(5) - m(9) - m(13)
    let b2 = m(6) - m(10) - m(14)
    let b3 = m(7) - m(11) - m(15)
    // (Aᵀ M) A.
    var r0 = SIMD16<Float>()
    var r1 = SIMD16<Float>()
    r0.evenHalf = a0 + a1 + a2
    r0.oddHalf = a1 - a2 - a3
    r1.evenHalf = b0 + b1 + b2
    r1.oddHalf = b1 - b2 - b3
    UnsafeMutableRawPointer(out).storeBytes(of: r0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(out + s).storeBytes(of: r1, as: SIMD16<Float>.self)
  }

  /// M[co-block of 4][24 tiles] = Σ_ci U[co][ci]·V[ci][24 tiles] for one ξ: the same 4×24 register
  /// block as the direct kernel, with K = input channels.
  @inline(never)
  static func gemmBlock(
    _ v: UnsafePointer<Float>, _ n: Int, _ u: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>
  ) {
    var a00 = F8()
    var a01 = F8()
    var a02 = F8()
    var a10 = F8()
    var a11 = F8()
    var a12 = F8()
    var a20 = F8()
    var a21 = F8()
    var a22 = F8()
    var a30 = F8()
    var a31 = F8()
    var a32 = F8()
    var vp = v
    var up = u
    for _ in 0..<n {
      let i0 = load8(vp)
      let i1 = load8(vp + 8)
      let i2 = load8(vp + 16)
      let w0 = F8(repeating: up[0])
      a00 = a00.addingProduct(i0, w0)
      a01 = a01.addingProduct(i1, w0)
      a02 = a02.addingProduct(i2, w0)
      let w1 = F8(repeating: up[1])
      a10 = a10.addingProduct(i0, w1)
      a11 = a11.addingProduct(i1, w1)
      a12 = a12.addingProduct(i2, w1)
      let w2 = F8(repeating: up[2])
      a20 = a20.addingProduct(i0, w2)
      a21 = a21.addingProduct(i1, w2)
      a22 = a22.addingProduct(i2, w2)
      let w3 = F8(repeating: up[3])
      a30 = a30.addingProduct(i0, w3)
      a31 = a31.addingProduct(i1, w3)
      a32 = a32.addingProduct(i2, w3)
      vp += 24
      up += 4
    }
    store8(m, a00)
    store8(m + 8, a01)
    store8(m + 16, a02)
    store8(m + 24, a10)
    store8(m + 24 + 8, a11)
    store8(m + 24 + 16, a12)
    store8(m + 48, a20)
    store8(m + 48 + 8, a21)
    store8(m + 48 + 16, a22)
    store8(m + 72, a30)
    store8(m + 72 + 8, a31)
    store8(m + 72 + 16, a32)
  }

  // MARK: Weight gradient

  /// The weight gradient by Winograd: with u = G g Gᵀ and Y_t = Aᵀ (u ⊙ V_t) A per tile,
  ///     dL/du = Σ_t (A dY_t Aᵀ) ⊙ V_t,   dL/dg = Gᵀ (dL/du) G,
  /// so per band: transform the input tiles (V, as forward) and the 2×2 output-gradient tiles
  /// (W = A dY Aᵀ), then dU[ξ][co][ci] += Σ_t W[ξ][co][t]·V[ξ][ci][t], 16 GEMMs over the band's
  /// tiles. `finishWeightGradient` applies Gᵀ · G once at the end.
  ///
  /// Scratch: `v` [16][cin rounded up to 3][tiles], `wt` [16][cout rounded up to 4][tiles] with
  /// `tiles = b.vectors · 8`; `du` [16][cout][cin] accumulates.
  static func weightGradientBand(
    _ band: UnsafePointer<Float>, cin: Int, _ b: Band, _ dyBand: UnsafePointer<Float>, cout: Int,
    v: UnsafeMutablePointer<Float>, wt: UnsafeMutablePointer<Float>, du: UnsafeMutablePointer<Float>
  ) {
    let s = b.s
    let tiles = b.vectors * 8
    let perRow = b.paddedTilesPerRow / 8
    let cin3 = (cin + 2) / 3 * 3
    let cout4 = DirectConv3x3.blockedChannels(cout)
    // Input transform: V[ξ][ci][t]; zero rows for the channels past cin.
    for vi in 0..<b.vectors {
      let offset = 2 * (vi / perRow) * s + 2 * 8 * (vi % perRow)
      for ci in 0..<cin {
        inputTransform(band + ci * b.inPlane + offset, s, v + ci * tiles + 8 * vi, cin3 * tiles)
      }
    }
    for xi in 0..<16 {
      for ci in cin..<cin3 { (v + (xi * cin3 + ci) * tiles).update(repeating: 0, count: tiles) }
    }
    // Output-gradient transform: W[ξ][co][t] = (A dY Aᵀ)[ξ]; zero rows past cout.
    for vi in 0..<b.vectors {
      let offset = 2 * (vi / perRow) * s + 2 * 8 * (vi % perRow)
      for co in 0..<cout {
        gradientTransform(dyBand + co * b.outPlane + offset, s, wt + co * tiles + 8 * vi, cout4 * tiles)
      }
    }
    for xi in 0..<16 {
      for co in cout..<cout4 { (wt + (xi * cout4 + co) * tiles).update(repeating: 0, count: tiles) }
    }
    // dU[ξ] += W[ξ] · V[ξ]ᵀ over the tiles.
    for xi in 0..<16 {
      let wx = wt + xi * cout4 * tiles
      let vx = v + xi * cin3 * tiles
      let dux = du + xi * cout * cin
      for c4 in 0..<(cout4 / 4) {
        for k3 in 0..<(cin3 / 3) {
          outerBlock(
            wx + c4 * 4 * tiles, vx + k3 * 3 * tiles, tiles, dux, cout: cout, cin: cin, co: c4 * 4, ci: k3 * 3
          )
        }
      }
    }
  }

  /// Copies output-gradient rows `rows` of `c` planes h×w into `band` [c][outPlane] with the
  /// band's row stride, zero past the image (so tiles that overhang it contribute nothing).
  static func padGradientBand(
    _ src: UnsafePointer<Float>, channels c: Int, h: Int, w: Int, rows: Range<Int>,
    into band: UnsafeMutablePointer<Float>
  ) {
    let b = Band(w: w, rows: rows.count)
    let s = b.s
    for ch in 0..<c {
      let dst = band + ch * b.outPlane
      for j in 0..<(2 * b.tileRows) {
        let y = rows.lowerBound + j
        let d = dst + j * s
        if j >= rows.count || y >= h {
          d.update(repeating: 0, count: s)
        } else {
          d.update(from: src + ch * h * w + y * w, count: w)
          (d + w).update(repeating: 0, count: s - w)
        }
      }
      (dst + 2 * b.tileRows * s).update(repeating: 0, count: b.outPlane - 2 * b.tileRows * s)
    }
  }

  /// A dY Aᵀ for 8 tiles of 2×2 gradients (tile i at base + 2i, rows s apart), written to
  /// dst + ξ·stride. A = [[1, 0], [1, 1], [1, −1], [0, −1]].
  @inline(__always)
  static func gradientTransform(
    _ base: UnsafePointer<Float>, _ s: Int, _ dst: UnsafeMutablePointer<Float>, _ stride: Int
  ) {
    let r0 = UnsafeRawPointer(base).loadUnaligned(as: SIMD16<Float>.self)
    let r1 = UnsafeRawPointer(base + s).loadUnaligned(as: SIMD16<Float>.self)
    let g00 = r0.evenHalf
    let g01 = r0.oddHalf
    let g10 = r1.evenHalf
    let g11 = r1.oddHalf
    // A g: 4 rows of 2, then each row times Aᵀ.
    @inline(__always) func cols(_ i: Int, _ a: F8, _ b: F8) {
      let o = dst + 4 * i * stride
      store8(o, a)
      store8(o + stride, a + b)
      store8(o + 2 * stride, a - b)
      store8(o + 3 * stride, -b)
    }
    cols(0, g00, g01)
    cols(1, g00 + g10, g01 + g11)
    cols(2, g00 - g10, g01 - g11)
    cols(3, -g10, -g11)
  }

  /// du[co + c][ci + k] += Σ_t w[c][t]·v[k][t] for 4 output channels × 3 input channels
  /// (12 accumulators over the tiles, one horizontal sum each at the end).
  @inline(never)
  static func outerBlock(
    _ w: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ tiles: Int, _ du: UnsafeMutablePointer<Float>,
    cout: Int, cin: Int, co: Int, ci: Int
  ) {
    var a00 = F8()
    var a01 = F8()
    var a02 = F8()
    var a10 = F8()
    var a11 = F8()
    var a12 = F8()
    var a20 = F8()
    var a21 = F8()
    var a22 = F8()
    var a30 = F8()
    var a31 = F8()
    var a32 = F8()
    var t = 0
    while t < tiles {
      let v0 = load8(v + t)
      let v1 = load8(v + tiles + t)
      let v2 = load8(v + 2 * tiles + t)
      let w0 = load8(w + t)
      a00 = a00.addingProduct(w0, v0)
      a01 = a01.addingProduct(w0, v1)
      a02 = a02.addingProduct(w0, v2)
      let w1 = load8(w + tiles + t)
      a10 = a10.addingProduct(w1, v0)
      a11 = a11.addingProduct(w1, v1)
      a12 = a12.addingProduct(w1, v2)
      let w2 = load8(w + 2 * tiles + t)
      a20 = a20.addingProduct(w2, v0)
      a21 = a21.addingProduct(w2, v1)
      a22 = a22.addingProduct(w2, v2)
      let w3 = load8(w + 3 * tiles + t)
      a30 = a30.addingProduct(w3, v0)
      a31 = a31.addingProduct(w3, v1)
      a32 = a32.addingProduct(w3, v2)
      t += 8
    }
    @inline(__always) func put(_ c: Int, _ k: Int, _ a: F8) {
      if co + c < cout && ci + k < cin { du[(co + c) * cin + ci + k] += a.sum() }
    }
    put(0, 0, a00)
    put(0, 1, a01)
    put(0, 2, a02)
    put(1, 0, a10)
    put(1, 1, a11)
    put(1, 2, a12)
    put(2, 0, a20)
    put(2, 1, a21)
    put(2, 2, a22)
    put(3, 0, a30)
    put(3, 1, a31)
    put(3, 2, a32)
  }

  /// dW[co][ci] += Gᵀ dU[·][co][ci] G (3×3 from the 16 ξ), into `grad` laid out (cout, cin, 3, 3).
  static func finishWeightGradient(
    _ du: UnsafePointer<Float>, cout: Int, cin: Int, into grad: UnsafeMutablePointer<Float>
  ) {
    let plane = cout * cin
    for co in 0..<cout {
      for ci in 0..<cin {
        let o = co * cin + ci
        @inline(__always) func d(_ i: Int, _ j: Int) -> Float { du[(i * 4 + j) * plane + o] }
        // T = Gᵀ dU (3×4), Gᵀ = [[1, ½, ½, 0], [0, ½, −½, 0], [0, ½, ½, 1]]; then dW = T G.
        let g = grad + o * 9
        @inline(__always) func row(_ i: Int, _ t0: Float, _ t1: Float, _ t2: Float, _ t3: Float) {
          g[i * 3] += t0 + 0.5 * (t1 + t2)
          g[i * 3 + 1] += 0.5 * (t1 - t2)
          g[i * 3 + 2] += 0.5 * (t1 + t2) + t3
        }
        row(
          0, d(0, 0) + 0.5 * (d(1, 0) + d(2, 0)), d(0, 1) + 0.5 * (d(1, 1) + d(2, 1)),
          d(0, 2) + 0.5 * (d(1, 2) + d(2, 2)), d(0, 3) + 0.5 * (d(1, 3) + d(2, 3)))
        row(
          1, 0.5 * (d(1, 0) - d(2, 0)), 0.5 * (d(1, 1) - d(2, 1)), 0.5 * (d(1, 2) - d(2, 2)),
          0.5 * (d(1, 3) - d(2, 3)))
        row(
          2, 0.5 * (d(1, 0) + d(2, 0)) + d(3, 0), 0.5 * (d(1, 1) + d(2, 1)) + d(3, 1),
          0.5 * (d(1, 2) + d(2, 2)) + d(3, 2), 0.5 * (d(1, 3) + d(2, 3)) + d(3, 3))
      }
    }
  }
}
