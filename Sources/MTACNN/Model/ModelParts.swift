import NeuralEngine

/// What the classification head computes: the hierarchical head's malignant logit m [B, 1] and
/// subtype logits s [B, K−1], or a flat head's logits [B, K]. Gradients of the loss with respect to
/// these have the same form.
public enum ClassificationOutput {
  case hierarchical(malignant: Tensor, subtypes: Tensor)
  case flat(logits: Tensor)

  public var batch: Int {
    switch self {
    case .hierarchical(let m, _): return m.shape[0]
    case .flat(let z): return z.shape[0]
    }
  }

  /// Log-probabilities of the schema's classes, row-major [B × K]:
  /// hierarchical `[logsigmoid(−m), logsigmoid(m) + log_softmax(s)]`, flat `log_softmax(z)`.
  public var logProbabilities: [Float] {
    switch self {
    case .hierarchical(let m, let s): return HierarchicalLoss.logProbabilities(malignant: m, subtypes: s)
    case .flat(let z):
      let rows = z.shape[0]
      let k = z.count / max(rows, 1)
      var out = [Float](repeating: 0, count: rows * k)
      for r in 0..<rows {
        let row = z.data + r * k
        var mx = -Float.infinity
        for j in 0..<k { mx = max(mx, row[j]) }
        var s: Float = 0
        for j in 0..<k { s += expf(row[j] - mx) }
        let lse = mx + logf(s)
        for j in 0..<k { out[r * k + j] = row[j] - lse }
      }
      return out
    }
  }

  /// The gradient of Σ_i log P(classes[i] | image i) with respect to these outputs: what
  /// Grad-CAM and saliency back-propagate for "why this class" (new tensors).
  public func logProbabilityGradient(classes: [Int]) -> ClassificationOutput {
    precondition(classes.count == batch, "\(classes.count) classes for a batch of \(batch)")
    switch self {
    case .hierarchical(let m, let s):
      let k = s.count / max(batch, 1)
      let dm = Tensor(shape: m.shape)
      let ds = Tensor(shape: s.shape)
      for r in 0..<batch {
        let c = classes[r]
        precondition(c >= 0 && c <= k, "class \(c) outside 0...\(k)")
        if c == 0 {
          dm[r] = -sigmoid(m[r])
          continue
        }
        dm[r] = sigmoid(-m[r])
        let z = s.data + r * k
        var mx = -Float.infinity
        for j in 0..<k { mx = max(mx, z[j]) }
        var sum: Float = 0
        for j in 0..<k { sum += expf(z[j] - mx) }
        for j in 0..<k { ds[r * k + j] = (j == c - 1 ? 1 : 0) - expf(z[j] - mx) / sum }
      }
      return .hierarchical(malignant: dm, subtypes: ds)
    case .flat(let z):
      let k = z.count / max(batch, 1)
      let dz = Tensor(shape: z.shape)
      for r in 0..<batch {
        let c = classes[r]
        precondition(c >= 0 && c < k, "class \(c) outside 0..<\(k)")
        let row = z.data + r * k
        var mx = -Float.infinity
        for j in 0..<k { mx = max(mx, row[j]) }
        var sum: Float = 0
        for j in 0..<k { sum += expf(row[j] - mx) }
        for j in 0..<k { dz[r * k + j] = (j == c ? 1 : 0) - expf(row[j] - mx) / sum }
      }
      return .flat(logits: dz)
    }
  }

  /// Class probabilities per image, in schema order (Double, for metrics and storage).
  public var probabilities: [[Double]] {
    let lp = logProbabilities
    let rows = batch
    let k = lp.count / max(rows, 1)
    return (0..<rows).map { r in (0..<k).map { Double(expf(lp[r * k + $0])) } }
  }
}

/// Global average pooling, dropout, then the hierarchical pair of dense layers (`cls.head.malignant`,
/// `cls.head.subtype`) or the flat one (`cls.head.logits`).
final class ClassificationHead: ModeSwitching {
  let gap = GlobalAvgPool()
  let dropout: Dropout
  let malignant: Dense?
  let subtype: Dense?
  let logits: Dense?
  private var pooledGrad = ReusableBuffer()

  init(
    _ store: ParameterStore, features: Int, classes: Int, hierarchical: Bool, dropout p: Float, seed: UInt64
  ) {
    let g = ModelTask.cls.headGroup
    dropout = Dropout(p, seed: seed ^ SeededGenerator.hash("cls.head.dropout"))
    if hierarchical {
      malignant = Dense(store, name: "cls.head.malignant", group: g, inFeatures: features, outFeatures: 1)
      subtype = Dense(
        store, name: "cls.head.subtype", group: g, inFeatures: features, outFeatures: classes - 1)
      logits = nil
    } else {
      malignant = nil
      subtype = nil
      logits = Dense(store, name: "cls.head.logits", group: g, inFeatures: features, outFeatures: classes)
    }
  }

  var isTraining: Bool {
    get { dropout.isTraining }
    set { dropout.isTraining = newValue }
  }

  func forward(_ x: Tensor) -> ClassificationOutput {
    let g = dropout.forward(gap.forward(x))
    if let malignant, let subtype {
      return .hierarchical(malignant: malignant.forward(g), subtypes: subtype.forward(g))
    }
    return .flat(logits: logits!.forward(g))
  }

  /// Gradient with respect to the head's input map, or only parameter gradients (nil).
  func backward(_ d: ClassificationOutput, wantInput: Bool) -> Tensor? {
    switch d {
    case .hierarchical(let dm, let ds):
      guard let malignant, let subtype else { preconditionFailure("flat head given hierarchical gradients") }
      if !wantInput && !malignant.weight.requiresGrad { return nil }
      let gm = malignant.backward(dm)
      let dg = pooledGrad.tensor(gm.shape)
      dg.copy(from: gm)
      accumulate(subtype.backward(ds), into: dg)
      guard wantInput else { return nil }
      return gap.backward(dropout.backward(dg))
    case .flat(let dz):
      guard let logits else { preconditionFailure("hierarchical head given flat gradients") }
      guard wantInput else {
        logits.backwardParameters(dz)
        return nil
      }
      return gap.backward(dropout.backward(logits.backward(dz)))
    }
  }
}

/// TransUNet's decoder side of the segmentation task: the bottleneck, four decoder blocks with
/// skips from seg stage 4, seg stage 3, shared stage 2 and shared stage 1 (pre-pool features), and
/// the 1×1 output convolution to one nucleus logit per pixel. With `seg_stem` (issue 17), block 4's
/// skip is shared stage 1 followed by the segmentation column's own full-resolution stem.
final class SegmentationDecoder: ModeSwitching {
  let bottleneck: SegmentationBottleneck
  let blocks: [DecoderBlock]
  let out: Conv2D
  let stem: SegmentationStem?

  init(_ store: ParameterStore, configuration c: ModelConfiguration, seed: UInt64) {
    let g = ModelTask.seg.headGroup
    let ch = c.channels
    let d = c.decoderChannels
    bottleneck = SegmentationBottleneck(
      store, name: "seg.bottleneck", group: g, channels: ch[3], width: c.transformerWidth, side: c.size / 16,
      depth: c.transformerDepth, heads: c.transformerHeads, mlp: c.transformerMLP,
      dropout: Float(c.transformerDropout), seed: seed)
    let ins = [ch[3], d[0], d[1], d[2]]
    let skips = [ch[3], ch[2], ch[1], ch[0] + (c.segStem ?? 0)]
    blocks = (0..<4).map {
      DecoderBlock(
        store, name: "seg.decoder.block\($0 + 1)", group: g, inChannels: ins[$0], skipChannels: skips[$0],
        outChannels: d[$0])
    }
    out = Conv2D(store, name: "seg.out", group: g, inChannels: d[3], outChannels: 1, kernel: 1, bias: true)
    stem = c.segStem.map { SegmentationStem(store, channels: $0) }
  }

  var isTraining: Bool {
    get { blocks[0].isTraining }
    set {
      bottleneck.isTraining = newValue
      for b in blocks { b.isTraining = newValue }
      stem?.isTraining = newValue
    }
  }

  /// `skips` = [seg stage 4, seg stage 3, shared stage 2, shared stage 1] pre-pool features;
  /// `image` is the model's input (read only by the stem).
  func forward(_ x: Tensor, skips: [Tensor], image: Tensor) -> Tensor {
    var y = bottleneck.forward(x)
    for (i, (b, s)) in zip(blocks, skips).enumerated() {
      let skip = i == 3 ? (stem?.skip(stage1: s, image: image) ?? s) : s
      y = b.forward(y, skip: skip)
    }
    return out.forward(y)
  }

  /// Gradients of the bottleneck input (when `wantInput`), of the four skips, and of the image
  /// through the stem (when there is one and `wantImage`). `stemLearns`: add the stem's parameter
  /// gradients.
  func backward(_ dy: Tensor, wantInput: Bool, stemLearns: Bool = true, wantImage: Bool = false) -> (
    input: Tensor?, skips: [Tensor], image: Tensor?
  ) {
    var g = out.backward(dy)
    var skips: [Tensor] = []
    var image: Tensor? = nil
    for (i, b) in blocks.enumerated().reversed() {
      let (gi, gs) = b.backward(g)
      g = gi
      if i == 3, let stem {
        let (dF1, dImage) = stem.backward(gs, learns: stemLearns, wantImage: wantImage)
        skips.append(dF1)
        image = dImage
      } else {
        skips.append(gs)
      }
    }
    return (bottleneck.backward(g, wantInput: wantInput), skips.reversed(), image)
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
