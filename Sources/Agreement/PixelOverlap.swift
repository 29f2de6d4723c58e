/// The pixel counts of two binary masks that Dice and IoU are made of: the foreground of each
/// and of both. Every Dice and IoU in the package is computed here, so a model scored by `eval`
/// and two raters compared by `agree` are measured by one formula.
public struct PixelOverlap: Sendable, Equatable, Hashable {
  /// Foreground pixels of the first mask (the reference: a rater, or the truth).
  public var areaA: Int
  /// Foreground pixels of the second mask (the other rater, or the prediction).
  public var areaB: Int
  /// Pixels in the foreground of both.
  public var intersection: Int

  public init(areaA: Int = 0, areaB: Int = 0, intersection: Int = 0) {
    precondition(
      intersection >= 0 && intersection <= min(areaA, areaB), "an intersection is at most either area")
    self.areaA = areaA
    self.areaB = areaB
    self.intersection = intersection
  }

  public var union: Int { areaA + areaB - intersection }

  /// 2|A∩B| / (|A| + |B|); nil when both masks are empty (0/0: whether that is a perfect score
  /// or no score is the caller's policy, so it is not decided here).
  public var dice: Double? {
    areaA + areaB == 0 ? nil : 2 * Double(intersection) / Double(areaA + areaB)
  }

  /// |A∩B| / |A∪B|; nil when both masks are empty.
  public var iou: Double? { union == 0 ? nil : Double(intersection) / Double(union) }

  /// Counts summed: pooled Dice and IoU over many images.
  public static func + (x: PixelOverlap, y: PixelOverlap) -> PixelOverlap {
    PixelOverlap(
      areaA: x.areaA + y.areaA, areaB: x.areaB + y.areaB, intersection: x.intersection + y.intersection)
  }
}
