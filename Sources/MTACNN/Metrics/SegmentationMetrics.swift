import Agreement
import Imaging

extension PixelOverlap {
  /// The overlap of a true and a predicted binary mask (a pixel is foreground when its value is
  /// at least `threshold`, 128 by default: masks are 0/255). A is the truth, B the prediction.
  public init(truth t: Mask, predicted p: Mask, threshold: UInt8 = 128) {
    precondition(p.width == t.width && p.height == t.height, "mask sizes differ")
    var a = 0
    var b = 0
    var both = 0
    for i in 0..<p.values.count {
      let x = t.values[i] >= threshold
      let y = p.values[i] >= threshold
      if x { a += 1 }
      if y { b += 1 }
      if x && y { both += 1 }
    }
    self.init(areaA: a, areaB: b, intersection: both)
  }

  /// Dice as `eval` scores an image: an image where neither mask has a nucleus scores 1 (nothing
  /// to find, nothing found), so such images do not drop out of the mean.
  public var scoredDice: Double { dice ?? 1 }

  /// IoU as `eval` scores an image (1 when both masks are empty, as `scoredDice`).
  public var scoredIoU: Double { iou ?? 1 }
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

  public init(overlaps: [PixelOverlap], detection: DetectionScore? = nil) {
    images = overlaps.count
    let n = Double(max(overlaps.count, 1))
    dice = overlaps.isEmpty ? 0 : overlaps.reduce(0) { $0 + $1.scoredDice } / n
    iou = overlaps.isEmpty ? 0 : overlaps.reduce(0) { $0 + $1.scoredIoU } / n
    let pooled = overlaps.reduce(PixelOverlap(), +)
    dicePooled = pooled.scoredDice
    iouPooled = pooled.scoredIoU
    detectionF1 = detection?.f1
  }
}
