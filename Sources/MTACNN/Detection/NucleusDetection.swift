import Imaging

/// One detected nucleus: its bounding box (pixels of the probability map) and score.
public struct Detection: Equatable, Sendable, Codable {
  public var box: PixelRect
  /// Mean nucleus probability over the component's pixels.
  public var score: Double
  /// Pixels in the component.
  public var area: Int

  public init(box: PixelRect, score: Double, area: Int) {
    self.box = box
    self.score = score
    self.area = area
  }
}

/// Nucleus detection, DESIGN §4: threshold the probability map, take 8-connected components,
/// one box per component scored by its mean probability, then non-maximum suppression.
public struct NucleusDetector: Sendable, Equatable {
  /// A pixel is nucleus when its probability is at least this.
  public var threshold: Double = 0.5
  /// Components smaller than this many pixels are noise, not nuclei.
  public var minimumArea: Int = 1
  /// NMS removes a box whose IoU with a higher-scoring kept box is greater than this.
  public var nmsIoU: Double = 0.5

  public init(threshold: Double = 0.5, minimumArea: Int = 1, nmsIoU: Double = 0.5) {
    self.threshold = threshold
    self.minimumArea = minimumArea
    self.nmsIoU = nmsIoU
  }

  /// `probabilities` is row-major, `width * height`, values in [0, 1].
  public func detect(probabilities: [Float], width: Int, height: Int) -> [Detection] {
    precondition(probabilities.count == width * height, "probability map size mismatch")
    var mask = Mask(width: width, height: height)
    for i in 0..<probabilities.count where Double(probabilities[i]) >= threshold { mask.values[i] = 255 }
    let cc = mask.connectedComponents(connectivity: .eight, threshold: 128)
    var sum = [Double](repeating: 0, count: cc.count + 1)
    for i in 0..<cc.labels.count where cc.labels[i] > 0 {
      sum[Int(cc.labels[i])] += Double(probabilities[i])
    }
    let candidates = cc.components.filter { $0.area >= minimumArea }.map {
      Detection(box: $0.bbox, score: sum[Int($0.label)] / Double($0.area), area: $0.area)
    }
    return nonMaximumSuppression(candidates, iouAbove: nmsIoU)
  }

  /// Detection from a binary mask (value >= 128 is nucleus), each component scored 1: the truth
  /// objects of an expert mask.
  public static func objects(in mask: Mask, minimumArea: Int = 1) -> [Detection] {
    mask.connectedComponents(connectivity: .eight, threshold: 128).components
      .filter { $0.area >= minimumArea }
      .map { Detection(box: $0.bbox, score: 1, area: $0.area) }
  }
}

/// Intersection over union of two boxes (0 when either is empty).
public func boxIoU(_ a: PixelRect, _ b: PixelRect) -> Double {
  let inter = a.intersection(b).area
  let union = a.area + b.area - inter
  return union > 0 ? Double(inter) / Double(union) : 0
}

/// Greedy NMS: sort by score (descending; ties by area, then position, so the result does not
/// depend on the input order), keep a box unless its IoU with an already kept box exceeds
/// `iouAbove`.
public func nonMaximumSuppression(_ detections: [Detection], iouAbove: Double = 0.5) -> [Detection] {
  let sorted = detections.sorted { a, b in
    if a.score != b.score { return a.score > b.score }
    if a.area != b.area { return a.area > b.area }
    if a.box.y != b.box.y { return a.box.y < b.box.y }
    return a.box.x < b.box.x
  }
  var kept: [Detection] = []
  for d in sorted where !kept.contains(where: { boxIoU($0.box, d.box) > iouAbove }) {
    kept.append(d)
  }
  return kept
}

/// True positives, false positives and false negatives of detections against truth objects:
/// detections in descending score order each claim the unclaimed truth box of highest IoU, a
/// match when that IoU is greater than `iouAbove` (0.5).
public struct DetectionScore: Equatable, Sendable, Codable {
  public var truePositives = 0
  public var falsePositives = 0
  public var falseNegatives = 0

  public init() {}

  public init(detections: [Detection], truth: [Detection], iouAbove: Double = 0.5) {
    var claimed = [Bool](repeating: false, count: truth.count)
    for d in detections.sorted(by: { $0.score > $1.score }) {
      var best = -1
      var bestIoU = iouAbove
      for (j, t) in truth.enumerated() where !claimed[j] {
        let v = boxIoU(d.box, t.box)
        if v > bestIoU {
          bestIoU = v
          best = j
        }
      }
      if best >= 0 {
        claimed[best] = true
        truePositives += 1
      } else {
        falsePositives += 1
      }
    }
    falseNegatives = claimed.filter { !$0 }.count
  }

  public var precision: Double { ratio(truePositives, truePositives + falsePositives) }
  public var recall: Double { ratio(truePositives, truePositives + falseNegatives) }
  /// 2TP / (2TP + FP + FN); 1 when there was nothing to find and nothing was found.
  public var f1: Double {
    let d = 2 * truePositives + falsePositives + falseNegatives
    return d == 0 ? 1 : Double(2 * truePositives) / Double(d)
  }

  public static func + (a: DetectionScore, b: DetectionScore) -> DetectionScore {
    var s = DetectionScore()
    s.truePositives = a.truePositives + b.truePositives
    s.falsePositives = a.falsePositives + b.falsePositives
    s.falseNegatives = a.falseNegatives + b.falseNegatives
    return s
  }
}

/// a / b, or 0 when b is 0 (no boxes: precision and recall 0, as the classification metrics).
private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
