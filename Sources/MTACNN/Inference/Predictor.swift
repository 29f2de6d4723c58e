import Imaging
import NeuralEngine

/// What the model says about one image.
public struct ImagePrediction: Sendable {
  /// Class probabilities in schema order (nil for a model without `cls`).
  public var probabilities: [Double]?
  /// Index of the most probable class.
  public var predictedClass: Int?
  /// P(malignant) = 1 − P(negative class) for a hierarchical schema; nil for a flat one.
  public var pMalignant: Double?
  /// Nucleus probability per pixel at the source image's size, row-major (nil without `seg`).
  public var nucleusProbability: [Float]?
  /// The nucleus mask at the source size (probability ≥ the detector's threshold), 0/255.
  public var nucleusMask: Mask?
  /// Nuclei after connected components and NMS, in source-image pixels.
  public var detections: [Detection]
  /// Mahalanobis distance of the image's colour statistics to the model's training colours, when
  /// the model carries a colour reference (issue 10).
  public var colourDistance: Double? = nil
  /// The distance is above the reference's threshold: "colour unlike the training data;
  /// prediction less reliable". A warning only: the prediction itself is unchanged.
  public var colourUnusual: Bool? = nil
}

/// Inference (issue 4's `predict`, the review TUI's predictions, evaluation): preprocesses images
/// exactly as the model's configuration says (corner blank, resize, stain normalisation), runs
/// them in batches in inference mode, and brings the nucleus map back to each image's own size
/// (bilinear, half-pixel centres) before thresholding and detecting nuclei.
public final class Predictor {
  public let model: MTACNNModel
  public var detector: NucleusDetector
  public var batchSize: Int
  /// The checkpoint's colour reference (`CheckpointMetadata.colourReference`); nil: no warning.
  public var colourReference: ColourOutlierDetector?
  /// Test-time augmentation (issue 17): class probabilities averaged over the 8 flips and
  /// quarter turns of the input (the dihedral group the training augmentation draws from).
  /// Eight forward passes instead of one; the nucleus map and detections stay those of the
  /// image as it is.
  public var testTimeAugmentation = false
  private let assembler: BatchAssembler

  /// Components under 20 pixels (at the source resolution) are not reported as nuclei: the
  /// truth objects of the detection study were the expert masks' components of at least 20
  /// pixels (docs/model-card-notes.md §5).
  public init(
    model: MTACNNModel,
    detector: NucleusDetector = NucleusDetector(threshold: 0.5, minimumArea: 20, nmsIoU: 0.5),
    batchSize: Int = 16, colourReference: ColourOutlierDetector? = nil
  ) {
    self.model = model
    self.colourReference = colourReference
    self.detector = detector
    self.batchSize = max(1, batchSize)
    assembler = BatchAssembler(
      size: model.size, augmentation: nil, stain: model.configuration.stainNormalisation)
  }

  /// Predictions for decoded images (any size), with an optional evaluation colour shift and an
  /// optional preprocessing override (e.g. the corner not blanked, for the scale-bar ablation).
  public func predict(
    _ images: [RGBImage], shift: ColourShift = .none, preprocessing: Preprocessing? = nil,
    progress: ((Int, Int) -> Void)? = nil
  ) -> [ImagePrediction] {
    let pre = preprocessing ?? model.configuration.preprocessing
    var out: [ImagePrediction] = []
    out.reserveCapacity(images.count)
    var i = 0
    while i < images.count {
      let chunk = Array(images[i..<min(images.count, i + batchSize)])
      var resized = [RGBImage?](repeating: nil, count: chunk.count)
      resized.withUnsafeMutableBufferPointer { slots in
        let base = slots.baseAddress!
        parallelFor(chunk.count) { j in base[j] = pre.resized(chunk[j], shift: shift) }
      }
      let examples = zip(chunk, resized).map { im, r in
        Example(
          image: r!, classIndex: nil, mask: nil, part: .test, name: "", sourceWidth: im.width,
          sourceHeight: im.height,
          colour: colourReference == nil ? nil : ColourStatistics(r!, excluding: pre.cornerBlank))
      }
      out += predict(examples: examples)
      i += batchSize
      progress?(min(i, images.count), images.count)
    }
    return out
  }

  /// Predictions for already preprocessed examples (their `image` is S × S).
  public func predict(examples: [Example]) -> [ImagePrediction] {
    model.prepareForInference()
    var out: [ImagePrediction] = []
    var i = 0
    while i < examples.count {
      let chunk = Array(examples[i..<min(examples.count, i + batchSize)])
      i += batchSize
      // The seven turned copies first: the last forward pass must be the image as it is, whose
      // nucleus map is read below (the network reuses its output buffers).
      var turnedSum: [[Double]]? = nil
      if testTimeAugmentation && model.tasks.contains(.cls) {
        for t in 1..<8 {
          let turned = chunk.map { ex -> Example in
            var e = ex
            e.image = Self.dihedral(ex.image, t)
            return e
          }
          let (xt, _) = assembler.assemble(turned)
          guard let pt = model.forward(xt).classification?.probabilities else { break }
          if let sum = turnedSum {
            turnedSum = zip(sum, pt).map { a, b in zip(a, b).map { $0 + $1 } }
          } else {
            turnedSum = pt
          }
        }
      }
      let (x, _) = assembler.assemble(chunk)
      let o = model.forward(x)
      var probs = o.classification?.probabilities
      if let turnedSum, let plain = probs {
        probs = zip(plain, turnedSum).map { a, b in zip(a, b).map { ($0 + $1) / 8 } }
      }
      var preds = [ImagePrediction?](repeating: nil, count: chunk.count)
      let s = model.size
      let hierarchical = model.schema.hierarchical
      let logits = o.maskLogits
      let detector = self.detector
      preds.withUnsafeMutableBufferPointer { slots in
        let base = slots.baseAddress!
        parallelFor(chunk.count) { j in
          var p = ImagePrediction(detections: [])
          if let ref = self.colourReference, let stats = chunk[j].colour {
            let d = ref.distance(stats)
            p.colourDistance = d
            p.colourUnusual = d > ref.threshold
          }
          if let probs {
            let pj = probs[j]
            p.probabilities = pj
            p.predictedClass = pj.indices.max { pj[$0] < pj[$1] }
            if hierarchical { p.pMalignant = 1 - pj[0] }
          }
          if let logits {
            let w = chunk[j].sourceWidth
            let h = chunk[j].sourceHeight
            var small = [Float](repeating: 0, count: s * s)
            let src = logits.data + j * s * s
            for k in 0..<(s * s) { small[k] = sigmoid(src[k]) }
            let map = resizeBilinear(small, width: s, height: s, toWidth: w, toHeight: h)
            var m = Mask(width: w, height: h)
            let t = Float(detector.threshold)
            for k in 0..<map.count where map[k] >= t { m.values[k] = 255 }
            p.nucleusProbability = map
            p.nucleusMask = m
            p.detections = detector.detect(probabilities: map, width: w, height: h)
          }
          base[j] = p
        }
      }
      out += preds.map { $0! }
    }
    return out
  }
}

extension Predictor {
  /// Element `t` (0...7) of the dihedral group on an image: `t % 4` quarter turns counter-
  /// clockwise, after a horizontal flip when `t >= 4`. Exact (pixels are moved, not resampled).
  public static func dihedral(_ image: RGBImage, _ t: Int) -> RGBImage {
    guard t % 8 != 0 else { return image }
    var p = PlanarImage(image)
    if t % 8 >= 4 { p = Geometry.flippedHorizontally(p) }
    p = Geometry.rotated90(p, times: t % 4)
    return p.rgbImage()
  }
}

/// Bilinear resize of a float map with half-pixel centres (edge-clamped), as Imaging's
/// enlarging resize; a shrinking axis also samples bilinearly (the map is smooth).
func resizeBilinear(_ v: [Float], width w: Int, height h: Int, toWidth ow: Int, toHeight oh: Int) -> [Float] {
  if w == ow && h == oh { return v }
  var out = [Float](repeating: 0, count: ow * oh)
  let sx = Float(w) / Float(ow)
  let sy = Float(h) / Float(oh)
  for y in 0..<oh {
    let fy = max(0, (Float(y) + 0.5) * sy - 0.5)
    let y0 = min(Int(fy), h - 1)
    let y1 = min(y0 + 1, h - 1)
    let ty = fy - Float(y0)
    for x in 0..<ow {
      let fx = max(0, (Float(x) + 0.5) * sx - 0.5)
      let x0 = min(Int(fx), w - 1)
      let x1 = min(x0 + 1, w - 1)
      let tx = fx - Float(x0)
      let a = v[y0 * w + x0] * (1 - tx) + v[y0 * w + x1] * tx
      let b = v[y1 * w + x0] * (1 - tx) + v[y1 * w + x1] * tx
      out[y * ow + x] = a * (1 - ty) + b * ty
    }
  }
  return out
}
