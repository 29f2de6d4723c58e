/// What a convolution applies to each output as it stores it: y = max(0?, scale[c]·y + shift[c]).
/// Inference folds batch norm and ReLU into the convolution this way. The pointers must stay
/// valid during the call.
public struct ConvEpilogue: @unchecked Sendable {
  public var scale: UnsafePointer<Float>?
  public var shift: UnsafePointer<Float>?
  public var relu: Bool

  public init(scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, relu: Bool) {
    self.scale = scale
    self.shift = shift
    self.relu = relu
  }

  public static let none = ConvEpilogue(scale: nil, shift: nil, relu: false)
  var isActive: Bool { scale != nil || shift != nil || relu }
}

/// Convolution algorithms (see `Conv2D.algorithm`).
public enum ConvAlgorithm: String, Sendable, CaseIterable {
  case automatic
  case direct
  case winograd
  case im2col
}

/// 2-D convolution, NCHW, square kernel (3×3 or 1×1 in the network), stride 1 or 2, zero
/// padding ("same" by default: kernel/2), optional bias. Weights are (out, in, k, k) as in
/// PyTorch, so checkpoints map one to one.
///
/// Algorithm: 3×3 stride-1 "same" convolutions (all of the network's) use the direct kernels of
/// `DirectConv3x3` for forward, input gradient and weight gradient. Other shapes use im2col +
/// sgemm, tiled: each image is cut into tiles of output rows whose column matrix
/// (C·k·k × rows·W) fits in the core's L2 cache; a tile is unfolded and multiplied at once, so
/// the column matrix never makes a round trip through main memory (at 224×224 a whole image's
/// would be 29-58 MB). The (image, tile) pairs are split evenly across threads, so a batch of
/// one is as parallel as a batch of 32.
/// - forward: Y_tile = W · col(X)_tile
/// - weight gradient: dW += dY_tile · col(X)_tileᵀ, one partial per thread, summed in order
/// - input gradient: for stride 1 with "same" padding, the transposed convolution is itself a
///   convolution of dY with the flipped, transposed kernel, computed the same tiled way (no
///   col2im); otherwise Wᵀ·dY per image, then col2im.
public final class Conv2D: Layer {
  public let name: String
  public let inChannels: Int
  public let outChannels: Int
  public let kernel: Int
  public let stride: Int
  public let padding: Int
  public let weight: Parameter
  public let bias: Parameter?

  /// Floats of column matrix per tile (192 KB: a quarter of a 1 MB L2, leaving room for
  /// OpenBLAS's packed panels).
  public var tileFloats = 48 * 1024
  /// Fewest output pixels per tile: narrower GEMMs lose more to packing than the cache gains.
  public var minimumTileColumns = 256

  private var out = ReusableBuffer()
  private var inGrad = ReusableBuffer()
  private var flipped = ReusableBuffer()
  /// Scratch shared by all layers of the network (they run one at a time), so the per-thread
  /// bands and partials cost the largest layer's size, not the sum over layers.
  private var scratch: SharedScratch { weight.arena.scratch }
  private var packed = ReusableBuffer()
  private var forwardKernel = ReusableBuffer()
  private var input: Tensor?

  /// The input of the last forward pass.
  var lastInput: Tensor? { input }

  /// How the convolution is computed. `.automatic` takes Winograd F(2×2, 3×3) for 3×3 stride-1
  /// layers reducing over at least `winogradMinimumChannels` channels, the direct kernels for
  /// other 3×3 stride-1 layers (the 3-channel first layer), im2col + sgemm for everything else.
  public var algorithm = ConvAlgorithm.automatic
  /// Keep the packed or Winograd-transformed forward kernel between calls, recomputing it only
  /// when the store's `version` moves (for inference, where it is otherwise redone per call:
  /// ~30% of a batch-1 pass at 96 px). Off by default: tests and loaders write weights directly.
  public var cachesKernels = false
  private var cachedKernel: (version: UInt64, winograd: Bool)?

  /// Whether weight gradients may use Winograd: with `.automatic`, only when both channel
  /// counts are at least `winogradWeightGradientMinimumChannels` (with 16 channels its
  /// transforms cost more than they save: 79-84 against 84-88 GFLOP per CPU-second measured;
  /// from 32 up it gains 5-25%). `.winograd` forces it. Off: always the direct kernels.
  public var winogradWeightGradients = true
  public static let winogradWeightGradientMinimumChannels = 32

  /// Floats of one ξ's V and W slices in a weight-gradient band (see `winogradWeightGradient`).
  static let winogradGradientTileFloats = 64 * 1024

  /// Below this many input channels the transforms cost more than Winograd saves.
  public static let winogradMinimumChannels = 8

  /// True when the 3×3 stride-1 kernels (direct or Winograd) apply.
  public var isDirect: Bool { kernel == 3 && stride == 1 && padding == 1 && algorithm != .im2col }

  var useWinogradWeightGradient: Bool {
    guard isDirect && winogradWeightGradients else { return false }
    return algorithm == .winograd
      || (algorithm == .automatic
        && min(inChannels, outChannels) >= Conv2D.winogradWeightGradientMinimumChannels)
  }

  /// Whether a 3×3 pass reducing over `channels` inputs uses Winograd.
  func winograd(reducing channels: Int) -> Bool {
    isDirect
      && (algorithm == .winograd || (algorithm == .automatic && channels >= Conv2D.winogradMinimumChannels))
  }

  public init(
    _ store: ParameterStore, name: String, group: String, inChannels: Int, outChannels: Int,
    kernel: Int = 3, stride: Int = 1, padding: Int? = nil, bias: Bool = false
  ) {
    precondition(inChannels > 0 && outChannels > 0 && kernel > 0 && stride > 0)
    self.name = name
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.kernel = kernel
    self.stride = stride
    self.padding = padding ?? kernel / 2
    let fanIn = inChannels * kernel * kernel
    let bound = 1 / Float(fanIn).squareRoot()
    weight = store.add(
      name + ".weight", shape: [outChannels, inChannels, kernel, kernel], group: group,
      initializer: .uniform(bound: bound))
    self.bias =
      bias
      ? store.add(name + ".bias", shape: [outChannels], group: group, initializer: .uniform(bound: bound))
      : nil
  }

  func geometry(_ s: [Int]) -> ConvGeometry {
    precondition(s.count == 4 && s[1] == inChannels, "\(name): expected N×\(inChannels)×H×W input, got \(s)")
    return ConvGeometry(
      channels: inChannels, height: s[2], width: s[3], kernel: kernel, stride: stride, padding: padding)
  }

  public func outputShape(for s: [Int]) -> [Int] {
    let g = geometry(s)
    return [s[0], outChannels, g.outHeight, g.outWidth]
  }

  public func forwardFLOPs(for s: [Int]) -> Int {
    let g = geometry(s)
    return 2 * s[0] * outChannels * g.colRows * g.colCols
  }

  /// Output-row ranges of the tiles of one image for a column matrix of `rows` rows.
  func tiles(_ g: ConvGeometry, colRows: Int) -> [Range<Int>] {
    let byCache = tileFloats / max(1, colRows * g.outWidth)
    let byWidth = (minimumTileColumns + g.outWidth - 1) / g.outWidth
    let per = max(1, min(g.outHeight, max(byCache, byWidth)))
    return Swift.stride(from: 0, to: g.outHeight, by: per).map { $0..<min(g.outHeight, $0 + per) }
  }

  /// Y = A · col(X) for a batch: A is (m × g.colRows) row-major, X is n images of geometry g,
  /// Y is n images of m × (Ho·Wo). Adds `bias` per output row when given.
  private func convolve(
    _ x: UnsafePointer<Float>, images n: Int, _ g: ConvGeometry, _ a: UnsafePointer<Float>, m: Int,
    _ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, epilogue: ConvEpilogue = .none
  ) {
    let kk = g.colRows
    let pp = g.colCols
    let wo = g.outWidth
    let inSize = g.channels * g.height * g.width
    let tiles = tiles(g, colRows: kk)
    let t = Threads.chunks
    let items = n * tiles.count
    let colT = g.isIdentity ? [] : scratch.cols.tensors(min(t, items), [kk * tiles[0].count * wo])
    parallelChunksIndexed(items, parts: t) { ti, range in
      for item in range {
        let i = item / tiles.count
        let rows = tiles[item % tiles.count]
        let ncols = rows.count * wo
        let xn = x + i * inSize
        let yt = y + i * m * pp + rows.lowerBound * wo
        if g.isIdentity {
          sgemm(
            transA: false, transB: false, m: m, n: ncols, k: kk, a: a, lda: kk, b: xn + rows.lowerBound * wo,
            ldb: pp, c: yt, ldc: pp)
        } else {
          let col = colT[ti].data
          im2col(xn, g, col, ld: ncols, rows: rows)
          sgemm(
            transA: false, transB: false, m: m, n: ncols, k: kk, a: a, lda: kk, b: col, ldb: ncols, c: yt,
            ldc: pp)
        }
        if bias != nil || epilogue.isActive {
          for co in 0..<m {
            applyBiasAndEpilogue(yt + co * pp, ncols, bias: bias?[co] ?? 0, epilogue, channel: co)
          }
        }
      }
    }
  }

  public func forward(_ x: Tensor) -> Tensor {
    forward(x, epilogue: .none)
  }

  /// Forward with an epilogue applied to each output as it is stored (after the bias).
  public func forward(_ x: Tensor, epilogue: ConvEpilogue) -> Tensor {
    let g = geometry(x.shape)
    let y = out.tensor(outputShape(for: x.shape))
    input = x
    // The forward kernel: packed for the direct path or transformed for Winograd, kept between
    // calls when caching (the input-gradient kernel uses its own buffer).
    let useWinograd = winograd(reducing: inChannels)
    let fresh =
      !(cachesKernels && cachedKernel?.version == weight.version && cachedKernel?.winograd == useWinograd)
    cachedKernel = cachesKernels ? (weight.version, useWinograd) : nil
    if useWinograd {
      let u = forwardKernel.tensor([16 * DirectConv3x3.blockedChannels(outChannels) * inChannels])
      if fresh {
        Winograd3x3.transformWeights(weight.value.data, cout: outChannels, cin: inChannels, into: u.data)
      }
      winogradConvolve(
        x.data, images: x.n, channels: inChannels, h: g.height, w: g.width, u.data, m: outChannels, y.data,
        bias: bias.map { UnsafePointer($0.value.data) }, epilogue: epilogue)
      return y
    }
    if isDirect {
      let pw = forwardKernel.tensor([DirectConv3x3.blockedChannels(outChannels) * inChannels * 9])
      if fresh {
        DirectConv3x3.packWeights(
          weight.value.data, cout: outChannels, cin: inChannels, transposeFlip: false, into: pw.data)
      }
      directConvolve(
        x.data, images: x.n, channels: inChannels, h: g.height, w: g.width, pw.data, m: outChannels, y.data,
        bias: bias.map { UnsafePointer($0.value.data) }, epilogue: epilogue)
      return y
    }
    convolve(
      x.data, images: x.n, g, weight.value.data, m: outChannels, y.data,
      bias: bias.map { UnsafePointer($0.value.data) }, epilogue: epilogue)
    return y
  }

  public func backward(_ dy: Tensor) -> Tensor {
    run(dy, wantInput: true)!
  }

  public func backwardParameters(_ dy: Tensor) {
    _ = run(dy, wantInput: false)
  }

  private func run(_ dy: Tensor, wantInput: Bool) -> Tensor? {
    guard let x = input else { preconditionFailure("\(name): backward before forward") }
    let g = geometry(x.shape)
    precondition(dy.shape == outputShape(for: x.shape), "\(name): gradient shape \(dy.shape)")
    let wantW = weight.requiresGrad
    let wantB = bias?.requiresGrad ?? false
    if wantW || wantB {
      if wantW && useWinogradWeightGradient {
        winogradWeightGradient(x, dy, g, wantB: wantB)
      } else if isDirect {
        directWeightGradient(x, dy, g, wantW: wantW, wantB: wantB)
      } else {
        weightGradient(x, dy, g, wantW: wantW, wantB: wantB)
      }
    }
    guard wantInput else { return nil }
    let dx = inGrad.tensor(x.shape)
    if winograd(reducing: outChannels) {
      // dX = dY ⋆ (W transposed and flipped), by Winograd.
      let wt = flipped.tensor([inChannels * outChannels * 9])
      let w = weight.value.data
      for ci in 0..<inChannels {
        for co in 0..<outChannels {
          for t in 0..<9 {
            wt.data[(ci * outChannels + co) * 9 + t] = w[(co * inChannels + ci) * 9 + (8 - t)]
          }
        }
      }
      let u = packed.tensor([16 * DirectConv3x3.blockedChannels(inChannels) * outChannels])
      Winograd3x3.transformWeights(wt.data, cout: inChannels, cin: outChannels, into: u.data)
      winogradConvolve(
        dy.data, images: x.n, channels: outChannels, h: g.height, w: g.width, u.data, m: inChannels, dx.data,
        bias: nil)
    } else if isDirect {
      let pw = packed.tensor([DirectConv3x3.blockedChannels(inChannels) * outChannels * 9])
      DirectConv3x3.packWeights(
        weight.value.data, cout: outChannels, cin: inChannels, transposeFlip: true, into: pw.data)
      directConvolve(
        dy.data, images: x.n, channels: outChannels, h: g.height, w: g.width, pw.data, m: inChannels, dx.data,
        bias: nil)
    } else if stride == 1 && g.outHeight == g.height && g.outWidth == g.width {
      // dX = dY ⋆ W flipped and transposed: (in) × (out·k·k) with
      // Wt[ci][(co·k + ky)·k + kx] = W[co][ci][k−1−ky][k−1−kx].
      let k = kernel
      let kk2 = k * k
      let wt = flipped.tensor([inChannels, outChannels * kk2])
      let w = weight.value.data
      for ci in 0..<inChannels {
        for co in 0..<outChannels {
          for j in 0..<kk2 {
            wt.data[ci * outChannels * kk2 + co * kk2 + j] = w[(co * inChannels + ci) * kk2 + (kk2 - 1 - j)]
          }
        }
      }
      let gt = ConvGeometry(
        channels: outChannels, height: g.outHeight, width: g.outWidth, kernel: k, stride: 1,
        padding: k - 1 - padding)
      convolve(dy.data, images: x.n, gt, wt.data, m: inChannels, dx.data, bias: nil)
    } else {
      inputGradientByCol2im(dy, g, dx)
    }
    return dx
  }

  /// Y = packed ⋆ X with the direct kernels, over (image, band) items split across threads.
  private func directConvolve(
    _ x: UnsafePointer<Float>, images n: Int, channels c: Int, h: Int, w: Int, _ pw: UnsafePointer<Float>,
    m: Int, _ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, epilogue: ConvEpilogue = .none
  ) {
    let mb = DirectConv3x3.blockedChannels(m)
    let s = w + 2
    let r = DirectConv3x3.bandRows(
      height: h, bytesPerRow: 4 * (c + mb) * s, fixedBytes: 4 * (c * (2 * s + DirectConv3x3.slack) + mb * 24))
    let rowRanges = Swift.stride(from: 0, to: h, by: r).map { $0..<min(h, $0 + r) }
    let items = n * rowRanges.count
    let t = Threads.chunks
    let full = DirectConv3x3.Band(w: w, rows: r)
    let inScratch = scratch.bands.tensors(min(t, items), [c * full.inPlane])
    let outScratch = scratch.gradBands.tensors(min(t, items), [mb * full.outPlane])
    parallelChunksIndexed(items, parts: t) { ti, range in
      let band = inScratch[ti].data
      let outBand = outScratch[ti].data
      for item in range {
        let i = item / rowRanges.count
        let rows = rowRanges[item % rowRanges.count]
        let b = DirectConv3x3.Band(w: w, rows: rows.count)
        DirectConv3x3.padBand(x + i * c * h * w, channels: c, h: h, w: w, rows: rows, into: band)
        DirectConv3x3.forwardBand(band, n: c, b, pw, m: m, outBand)
        DirectConv3x3.copyOut(
          outBand, m: m, b, rows: rows, h: h, y + i * m * h * w, bias: bias, epilogue: epilogue)
      }
    }
  }

  /// Y = conv(X) by Winograd F(2×2, 3×3) with transformed weights `u`, over (image, band) items.
  private func winogradConvolve(
    _ x: UnsafePointer<Float>, images n: Int, channels c: Int, h: Int, w: Int, _ u: UnsafePointer<Float>,
    m: Int, _ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, epilogue: ConvEpilogue = .none
  ) {
    let mb = DirectConv3x3.blockedChannels(m)
    let s = Winograd3x3.Band(w: w, rows: 2).s
    // Even band heights (whole tile rows), sized so the input and output bands share ~384 KB.
    let fit = DirectConv3x3.bandRows(height: h, bytesPerRow: 4 * (c + m) * s, fixedBytes: 4 * 2 * c * s)
    let r = min(h, max(2, fit / 2 * 2))
    let rowRanges = Swift.stride(from: 0, to: h, by: r).map { $0..<min(h, $0 + r) }
    let items = n * rowRanges.count
    let t = Threads.chunks
    let parts = min(t, items)
    let full = Winograd3x3.Band(w: w, rows: r)
    let inScratch = scratch.bands.tensors(parts, [c * full.inPlane])
    let outScratch = scratch.gradBands.tensors(parts, [m * full.outPlane])
    let vScratch = scratch.winogradV.tensors(parts, [16 * c * 24])
    let mScratch = scratch.winogradM.tensors(parts, [16 * mb * 24])
    parallelChunksIndexed(items, parts: t) { ti, range in
      let band = inScratch[ti].data
      let outBand = outScratch[ti].data
      for item in range {
        let i = item / rowRanges.count
        let rows = rowRanges[item % rowRanges.count]
        let b = Winograd3x3.Band(w: w, rows: rows.count)
        Winograd3x3.padBand(x + i * c * h * w, channels: c, h: h, w: w, rows: rows, into: band)
        Winograd3x3.forwardBand(
          band, cin: c, b, u, cout: m, outBand, v: vScratch[ti].data, m: mScratch[ti].data)
        Winograd3x3.copyOut(
          outBand, m: m, b, rows: rows, h: h, y + i * m * h * w, bias: bias, epilogue: epilogue)
      }
    }
  }

  /// dW (and db) by Winograd: per band, transformed input and gradient tiles and 16 GEMMs over
  /// the tiles into one dU partial per chunk; the partials are summed in chunk order and turned
  /// into dW once.
  private func winogradWeightGradient(_ x: Tensor, _ dy: Tensor, _ g: ConvGeometry, wantB: Bool) {
    let h = g.height
    let w = g.width
    let cin = inChannels
    let cout = outChannels
    let cin3 = (cin + 2) / 3 * 3
    let cout4 = DirectConv3x3.blockedChannels(cout)
    let probe = Winograd3x3.Band(w: w, rows: 2)
    let s = probe.s
    let tpr = probe.paddedTilesPerRow
    // As many tiles per band as keep one ξ's slices of V and W (the operands of one of the 16
    // GEMMs) within 256 KB of L2: long bands make the 12 horizontal sums that end each GEMM
    // block rare (28-px layers: 115-119 GFLOP per CPU-second against 80-87 with 1 MB bands
    // overall), while at 224 px larger bands spill out of L2 (64K floats: 82, 128K: 70-76).
    let tileBudget = Conv2D.winogradGradientTileFloats / (cin3 + cout4)
    let tileRows = max(1, min((h + 1) / 2, tileBudget / tpr))
    _ = s
    let r = 2 * tileRows
    let rowRanges = Swift.stride(from: 0, to: h, by: r).map { $0..<min(h, $0 + r) }
    let items = x.n * rowRanges.count
    let parts = min(Threads.chunks, items)
    let full = Winograd3x3.Band(w: w, rows: r)
    let tiles = full.vectors * 8
    let inBands = scratch.bands.tensors(parts, [cin * full.inPlane])
    let gBands = scratch.gradBands.tensors(parts, [cout * full.outPlane])
    let vs = scratch.winogradV.tensors(parts, [16 * cin3 * tiles])
    let ws = scratch.winogradM.tensors(parts, [16 * cout4 * tiles])
    let dus = scratch.weightParts.tensors(parts, [16 * cout * cin])
    let bParts = wantB ? scratch.biasParts.tensors(parts, [cout]) : []
    let xd = x.data
    let dyd = dy.data
    parallelChunksIndexed(items, parts: parts) { ti, range in
      dus[ti].fill(0)
      if wantB { bParts[ti].fill(0) }
      for item in range {
        let i = item / rowRanges.count
        let rows = rowRanges[item % rowRanges.count]
        let b = Winograd3x3.Band(w: w, rows: rows.count)
        let dyi = dyd + i * cout * h * w
        Winograd3x3.padBand(
          xd + i * cin * h * w, channels: cin, h: h, w: w, rows: rows, into: inBands[ti].data)
        Winograd3x3.padGradientBand(dyi, channels: cout, h: h, w: w, rows: rows, into: gBands[ti].data)
        Winograd3x3.weightGradientBand(
          inBands[ti].data, cin: cin, b, gBands[ti].data, cout: cout, v: vs[ti].data, wt: ws[ti].data,
          du: dus[ti].data)
        if wantB {
          let bp = bParts[ti].data
          for co in 0..<cout {
            bp[co] += Float(sumDouble(dyi + co * h * w + rows.lowerBound * w, rows.count * w))
          }
        }
      }
    }
    let total = dus[0].data
    for part in dus.dropFirst() { addInPlace(total, part.data, 16 * cout * cin) }
    Winograd3x3.finishWeightGradient(total, cout: cout, cin: cin, into: weight.grad.data)
    if wantB, let bias {
      let gb = bias.grad.data
      for part in bParts { addInPlace(gb, part.data, cout) }
    }
  }

  /// dW and db with the direct kernels; one partial per thread, summed in thread order.
  private func directWeightGradient(_ x: Tensor, _ dy: Tensor, _ g: ConvGeometry, wantW: Bool, wantB: Bool) {
    let h = g.height
    let w = g.width
    let cin = inChannels
    let cout = outChannels
    let s = w + 2
    let cb = DirectConv3x3.blockedChannels(cout)
    // Bands as large as 768 KB: each pass over a band ends in 12 horizontal sums, and fewer,
    // longer passes measured faster (80-85 against 57-75 GFLOP/s per core at 224 px) even
    // though the band then lives in L2 rather than L1.
    let r = DirectConv3x3.bandRows(
      height: h, bytesPerRow: 4 * (cin + cb) * s,
      fixedBytes: 4 * (cin * (2 * s + DirectConv3x3.slack) + cb * 8),
      budget: 768 * 1024)
    let rowRanges = Swift.stride(from: 0, to: h, by: r).map { $0..<min(h, $0 + r) }
    let items = x.n * rowRanges.count
    let t = Threads.chunks
    let parts = min(t, items)
    let full = DirectConv3x3.Band(w: w, rows: r)
    let inBands = scratch.bands.tensors(parts, [cin * full.inPlane])
    let gscratch = scratch.gradBands.tensors(parts, [cb * full.gradPlane])
    let wParts = wantW ? scratch.weightParts.tensors(parts, [cout * cin * 9]) : []
    let bParts = wantB ? scratch.biasParts.tensors(parts, [cout]) : []
    let xd = x.data
    let dyd = dy.data
    parallelChunksIndexed(items, parts: t) { ti, range in
      if wantW { wParts[ti].fill(0) }
      if wantB { bParts[ti].fill(0) }
      for item in range {
        let i = item / rowRanges.count
        let rows = rowRanges[item % rowRanges.count]
        let dyi = dyd + i * cout * h * w
        if wantW {
          let b = DirectConv3x3.Band(w: w, rows: rows.count)
          let band = inBands[ti].data
          let gband = gscratch[ti].data
          DirectConv3x3.padBand(xd + i * cin * h * w, channels: cin, h: h, w: w, rows: rows, into: band)
          DirectConv3x3.padGradientBand(dyi, channels: cout, h: h, w: w, rows: rows, into: gband)
          DirectConv3x3.weightGradientBand(band, n: cin, b, gband, m: cout, wParts[ti].data)
        }
        if wantB {
          let bp = bParts[ti].data
          for co in 0..<cout {
            bp[co] += Float(sumDouble(dyi + co * h * w + rows.lowerBound * w, rows.count * w))
          }
        }
      }
    }
    if wantW {
      let gw = weight.grad.data
      for part in wParts { addInPlace(gw, part.data, cout * cin * 9) }
    }
    if wantB, let bias {
      let gb = bias.grad.data
      for part in bParts { addInPlace(gb, part.data, cout) }
    }
  }

  /// dW += Σ dY·col(X)ᵀ and db += Σ dY over all images and tiles; one partial per thread.
  private func weightGradient(_ x: Tensor, _ dy: Tensor, _ g: ConvGeometry, wantW: Bool, wantB: Bool) {
    let kk = g.colRows
    let pp = g.colCols
    let wo = g.outWidth
    let cout = outChannels
    let inSize = inChannels * g.height * g.width
    let tiles = tiles(g, colRows: kk)
    let t = Threads.chunks
    let items = x.n * tiles.count
    let parts = min(t, items)
    let colT = g.isIdentity ? [] : scratch.cols.tensors(parts, [kk * tiles[0].count * wo])
    let wParts = wantW ? scratch.weightParts.tensors(parts, [cout * kk]) : []
    let bParts = wantB ? scratch.biasParts.tensors(parts, [cout]) : []
    let xd = x.data
    let dyd = dy.data
    parallelChunksIndexed(items, parts: t) { ti, range in
      if wantW { wParts[ti].fill(0) }
      if wantB { bParts[ti].fill(0) }
      for item in range {
        let i = item / tiles.count
        let rows = tiles[item % tiles.count]
        let ncols = rows.count * wo
        let xn = xd + i * inSize
        let dyt = dyd + i * cout * pp + rows.lowerBound * wo
        if wantW {
          if g.isIdentity {
            sgemm(
              transA: false, transB: true, m: cout, n: kk, k: ncols, a: dyt, lda: pp,
              b: xn + rows.lowerBound * wo, ldb: pp, beta: 1, c: wParts[ti].data, ldc: kk)
          } else {
            let col = colT[ti].data
            im2col(xn, g, col, ld: ncols, rows: rows)
            sgemm(
              transA: false, transB: true, m: cout, n: kk, k: ncols, a: dyt, lda: pp, b: col, ldb: ncols,
              beta: 1, c: wParts[ti].data, ldc: kk)
          }
        }
        if wantB {
          let bp = bParts[ti].data
          for co in 0..<cout { bp[co] += Float(sumDouble(dyt + co * pp, ncols)) }
        }
      }
    }
    if wantW {
      let gw = weight.grad.data
      for part in wParts { addInPlace(gw, part.data, cout * kk) }
    }
    if wantB, let bias {
      let gb = bias.grad.data
      for part in bParts { addInPlace(gb, part.data, cout) }
    }
  }

  /// General input gradient (strided convolutions): Wᵀ·dY per image, then col2im.
  private func inputGradientByCol2im(_ dy: Tensor, _ g: ConvGeometry, _ dx: Tensor) {
    let kk = g.colRows
    let pp = g.colCols
    let inSize = inChannels * g.height * g.width
    let cout = outChannels
    let w = weight.value.data
    let n = dx.n
    let t = Threads.chunks
    let colT = scratch.cols.tensors(min(t, n), [kk * pp])
    parallelChunksIndexed(n, parts: t) { ti, range in
      for i in range {
        let col = colT[ti].data
        sgemm(
          transA: true, transB: false, m: kk, n: pp, k: cout, a: w, lda: kk, b: dy.data + i * cout * pp,
          ldb: pp, c: col, ldc: pp)
        col2im(col, g, dx.data + i * inSize, accumulate: false)
      }
    }
  }
}

/// row[i] = max(0?, scale·(row[i] + bias) + shift) for one output channel's run of pixels.
@inline(__always)
func applyBiasAndEpilogue(
  _ row: UnsafeMutablePointer<Float>, _ count: Int, bias: Float, _ e: ConvEpilogue, channel: Int
) {
  let scale = e.scale?[channel] ?? 1
  let shift = (e.shift?[channel] ?? 0) + scale * bias
  affine(row, row, count, scale, shift, e.relu)
}
