import Testing

@testable import NeuralEngine

/// Direct convolution from the definition, in Double: the independent reference for forward.
func naiveConv(
  _ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: Int, padding: Int
) -> [Double] {
  let n = x.n
  let ci = x.c
  let h = x.h
  let wd = x.w
  let co = w.shape[0]
  let k = w.shape[2]
  let ho = (h + 2 * padding - k) / stride + 1
  let wo = (wd + 2 * padding - k) / stride + 1
  var out = [Double](repeating: 0, count: n * co * ho * wo)
  for i in 0..<n {
    for o in 0..<co {
      for oy in 0..<ho {
        for ox in 0..<wo {
          var s = b.map { Double($0[o]) } ?? 0
          for c in 0..<ci {
            for ky in 0..<k {
              for kx in 0..<k {
                let iy = oy * stride - padding + ky
                let ix = ox * stride - padding + kx
                if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
                s +=
                  Double(x[((i * ci + c) * h + iy) * wd + ix]) * Double(w[((o * ci + c) * k + ky) * k + kx])
              }
            }
          }
          out[((i * co + o) * ho + oy) * wo + ox] = s
        }
      }
    }
  }
  return out
}

struct ConvCase: CustomTestStringConvertible, Sendable {
  let cin, cout, k, stride, size, batch: Int
  let bias: Bool
  var testDescription: String { "\(cin)→\(cout) k\(k) s\(stride) \(size)px b\(batch) bias:\(bias)" }
}

let convCases: [ConvCase] = [
  ConvCase(cin: 3, cout: 4, k: 3, stride: 1, size: 7, batch: 3, bias: true),
  ConvCase(cin: 5, cout: 6, k: 3, stride: 1, size: 29, batch: 2, bias: false),
  ConvCase(cin: 2, cout: 5, k: 3, stride: 2, size: 8, batch: 2, bias: false),
  ConvCase(cin: 3, cout: 2, k: 3, stride: 2, size: 7, batch: 1, bias: true),
  ConvCase(cin: 4, cout: 3, k: 1, stride: 1, size: 5, batch: 3, bias: true),
]

@Test("Conv2D forward equals the direct definition", arguments: convCases)
func convForwardMatchesDefinition(_ c: ConvCase) {
  let store = ParameterStore(seed: 1)
  let conv = Conv2D(
    store, name: "c", group: "g", inChannels: c.cin, outChannels: c.cout, kernel: c.k, stride: c.stride,
    bias: c.bias)
  store.finalize()
  let x = randomTensor([c.batch, c.cin, c.size, c.size], seed: 2)
  let y = conv.forward(x)
  let ref = naiveConv(x, conv.weight.value, conv.bias?.value, stride: c.stride, padding: c.k / 2)
  #expect(y.count == ref.count)
  let err = zip(y.array, ref).map { abs(Double($0) - $1) }.max()!
  #expect(err < 1e-5)
}

@Test("Conv2D backward matches finite differences", arguments: convCases)
func convGradients(_ c: ConvCase) {
  // Winograd and direct kernels (3×3 stride 1) and the im2col path with whole images per tile,
  // and with one output row per tile.
  let runs: [(ConvAlgorithm, Bool)] = [
    (.winograd, false), (.direct, false), (.im2col, false), (.im2col, true),
  ]
  for (algorithm, tiny) in runs {
    let store = ParameterStore(seed: 3)
    let conv = Conv2D(
      store, name: "c", group: "g", inChannels: c.cin, outChannels: c.cout, kernel: c.k, stride: c.stride,
      bias: c.bias)
    store.finalize()
    conv.algorithm = algorithm
    if tiny {
      conv.tileFloats = 1
      conv.minimumTileColumns = 1
    }
    let x = randomTensor([c.batch, c.cin, c.size, c.size], seed: 4)
    checkLayerGradients(conv, input: x, parameters: store.parameters, store: store)
    let ref = naiveConv(x, conv.weight.value, conv.bias?.value, stride: c.stride, padding: c.k / 2)
    let err = zip(conv.forward(x).array, ref).map { abs(Double($0) - $1) }.max()!
    #expect(err < 1e-5)
  }
}

@Test("Conv2D gives the same result with 1 and 2 threads, and batch below thread count")
func convThreadsAgree() {
  let store = ParameterStore(seed: 5)
  let conv = Conv2D(store, name: "c", group: "g", inChannels: 3, outChannels: 4, bias: true)
  store.finalize()
  for batch in [1, 3] {
    let x = randomTensor([batch, 3, 9, 9], seed: 6)
    let dy = randomTensor([batch, 4, 9, 9], seed: 7)
    var results: [[Float]] = []
    for t in [1, 2] {
      Threads.$scoped.withValue(t) {
        store.zeroGradients()
        let y = conv.forward(x).array
        let dx = conv.backward(dy).array
        results.append(y + dx + conv.weight.grad.array + conv.bias!.grad.array)
      }
    }
    #expect(maxRelativeDifference(results[0], results[1]) < 1e-5)
  }
}

@Test("Conv2D with a frozen group computes no weight gradient")
func convFrozenWritesNoGradient() {
  let store = ParameterStore(seed: 8)
  let conv = Conv2D(store, name: "c", group: "frozen", inChannels: 2, outChannels: 2, bias: true)
  store.finalize()
  store.freeze("frozen")
  conv.weight.grad.fill(42)
  let x = randomTensor([2, 2, 5, 5], seed: 9)
  _ = conv.forward(x)
  let dx = conv.backward(randomTensor([2, 2, 5, 5], seed: 10))
  #expect(conv.weight.grad.array.allSatisfy { $0 == 42 })
  #expect(dx.array.contains { $0 != 0 })
}

@Test("Dense forward equals x·Wᵀ + b and backward matches finite differences")
func denseForwardAndGradients() {
  let store = ParameterStore(seed: 11)
  let d = Dense(store, name: "d", group: "g", inFeatures: 5, outFeatures: 3)
  store.finalize()
  let x = randomTensor([2, 4, 5], seed: 12)
  let y = d.forward(x)
  #expect(y.shape == [2, 4, 3])
  for r in 0..<8 {
    for o in 0..<3 {
      var s = Double(d.bias!.value[o])
      for i in 0..<5 { s += Double(x[r * 5 + i]) * Double(d.weight.value[o * 5 + i]) }
      #expect(abs(Double(y[r * 3 + o]) - s) < 1e-5)
    }
  }
  checkLayerGradients(d, input: x, parameters: store.parameters, store: store)
}

@Test(
  "3×3 kernels on non-square images with channel and width tails",
  arguments: [
    (ConvAlgorithm.direct, 13, 35), (.winograd, 13, 35), (.winograd, 7, 17), (.winograd, 24, 56),
    (.winograd, 12, 12),
    (.winograd, 5, 29), (.im2col, 9, 14),
  ])
func directConvNonSquare(_ algorithm: ConvAlgorithm, _ h: Int, _ w: Int) {
  let store = ParameterStore(seed: 30)
  let conv = Conv2D(store, name: "c", group: "g", inChannels: 5, outChannels: 7, bias: true)
  store.finalize()
  conv.algorithm = algorithm
  #expect(conv.isDirect == (algorithm != .im2col))
  let x = randomTensor([2, 5, h, w], seed: 31)
  let ref = naiveConv(x, conv.weight.value, conv.bias!.value, stride: 1, padding: 1)
  let err = zip(conv.forward(x).array, ref).map { abs(Double($0) - $1) }.max()!
  #expect(err < 1e-5)
  // Backward against the definition in Double: dX[i][c][y][x] = Σ dY·W over the taps that
  // reach (y, x); dW[o][c][ky][kx] = Σ dY[i][o][y][x]·X[i][c][y+ky−1][x+kx−1].
  let dy = randomTensor([2, 7, h, w], seed: 32)
  store.zeroGradients()
  let dx = conv.backward(dy).array
  var refDx = [Double](repeating: 0, count: x.count)
  var refDw = [Double](repeating: 0, count: 7 * 5 * 9)
  let wv = conv.weight.value
  for i in 0..<2 {
    for o in 0..<7 {
      for y in 0..<h {
        for xx in 0..<w {
          let g = Double(dy[((i * 7 + o) * h + y) * w + xx])
          for c in 0..<5 {
            for ky in 0..<3 {
              for kx in 0..<3 {
                let iy = y + ky - 1
                let ix = xx + kx - 1
                if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                let xi = ((i * 5 + c) * h + iy) * w + ix
                let wi = ((o * 5 + c) * 3 + ky) * 3 + kx
                refDx[xi] += g * Double(wv[wi])
                refDw[wi] += g * Double(x[xi])
              }
            }
          }
        }
      }
    }
  }
  expectClose(dx, refDx.map { Float($0) }, 1e-5, "input gradient")
  expectClose(conv.weight.grad.array, refDw.map { Float($0) }, 1e-5, "weight gradient")
  let refDb = (0..<7).map { o in
    (0..<2).reduce(0.0) { acc, i in
      acc + (0..<(h * w)).reduce(0.0) { $0 + Double(dy[(i * 7 + o) * h * w + $1]) }
    }
  }
  expectClose(conv.bias!.grad.array, refDb.map { Float($0) }, 1e-5, "bias gradient")
}

@Test("cached kernels follow weight changes made through the store")
func cachedKernelsFollowVersions() {
  for algorithm in [ConvAlgorithm.winograd, .direct] {
    let store = ParameterStore(seed: 50)
    let conv = Conv2D(store, name: "c", group: "g", inChannels: 8, outChannels: 4)
    store.finalize()
    conv.algorithm = algorithm
    conv.cachesKernels = true
    let x = randomTensor([1, 8, 6, 6], seed: 51)
    let y0 = conv.forward(x).array
    // A direct write without touch() is not seen (documented); after touch() it is.
    for i in 0..<conv.weight.count { conv.weight.value[i] *= 2 }
    #expect(conv.forward(x).array == y0)
    store.touch()
    let y1 = conv.forward(x).array
    #expect(maxRelativeDifference(y1, y0.map { $0 * 2 }, floor: 1e-3) < 1e-5)
    // An optimiser step moves the version too.
    let adam = Adam(store, learningRate: 0.1)
    conv.weight.grad.fill(1)
    adam.step()
    let ref = naiveConv(x, conv.weight.value, nil, stride: 1, padding: 1)
    let err = zip(conv.forward(x).array, ref).map { abs(Double($0) - $1) }.max()!
    #expect(err < 1e-4)
  }
}
