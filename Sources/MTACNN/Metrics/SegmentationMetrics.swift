import Imaging

/// Overlap counts of a predicted and a true binary mask (a pixel is foreground when its value is
/// at least `threshold`, 128 by default: masks are 0/255).
public struct Overlap: Equatable, Sendable {
  public var intersection = 0
  public var predicted = 0
  public var truth = 0

  public init() {}

  public init(predicted p: Mask, truth t: Mask, threshold: UInt8 = 128) {
    precondition(p.width == t.width && p.height == t.height, "mask sizes differ")
    for i in 0..<p.values.count {
      let a = p.values[i] >= threshold
      let b = t.values[i] >= threshold
      if a { predicted += 1 }
      if b { truth += 1 }
      if a && b { intersection += 1 }
    }
  }

  public var union: Int { predicted + truth - intersection }
  /// 2|A∩B| / (|A| + |B|); 1 when both are empty (nothing to find, nothing found).
  public var dice: Double {
    predicted + truth == 0 ? 1 : 2 * Double(intersection) / Double(predicted + truth)
  }
  /// |A∩B| / |A∪B|; 1 when both are empty.
  public var iou: Double { union == 0 ? 1 : Double(intersection) / Double(union) }

  public static func + (a: Overlap, b: Overlap) -> Overlap {
    var o = Overlap()
    o.intersection = a.intersection + b.intersection
    o.predicted = a.predicted + b.predicted
    o.truth = a.truth + b.truth
    return o
  }
}

/// Dice and IoU over a set of images: the mean of the per-image values, and pooled (all pixels of
/// all images counted as one), plus detection F1 when detections were scored.
public struct SegmentationReport: Equatable, Sendable, Codable {
  public var images: Int
  public var dice: Double
  public var iou: Double
  public var dicePooled: Double
  public var iouPooled: Double
  public var detectionF1: Double?

  enum CodingKeys: String, CodingKey {
    case images, dice, iou
    case dicePooled = "dice_pooled"
    case iouPooled = "iou_pooled"
    case detectionF1 = "detection_f1"
  }

  public init(overlaps: [Overlap], detection: DetectionScore? = nil) {
    images = overlaps.count
    let n = Double(max(overlaps.count, 1))
    dice = overlaps.isEmpty ? 0 : overlaps.reduce(0) { $0 + $1.dice } / n
    iou = overlaps.isEmpty ? 0 : overlaps.reduce(0) { $0 + $1.iou } / n
    let pooled = overlaps.reduce(Overlap(), +)
    dicePooled = pooled.dice
    iouPooled = pooled.iou
    detectionF1 = detection?.f1
  }
}
