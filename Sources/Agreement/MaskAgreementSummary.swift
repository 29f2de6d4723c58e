/// Mask agreement over many images (e.g. every case of a session both raters drew), two
/// ways, because the literature uses both:
/// - pooled: counts summed over images first (pixel Dice = Σ 2|A∩B| / Σ (|A| + |B|),
///   detection from Σ TP, FP, FN, PQ = Σ matched IoU / Σ (TP + FP/2 + FN/2) as Kirillov et
///   al. compute it over a dataset, AJI = Σ C / Σ U);
/// - mean: the per-image values averaged over the images where they are defined (as the
///   MoNuSeg and HoVer-Net papers average AJI), with the count of images left out.
public struct MaskAgreementSummary: Sendable, Equatable {
  public struct Mean: Sendable, Equatable {
    /// Mean over the images where the statistic is defined.
    public let value: Result<Double, Undefined>
    /// Images it was defined on.
    public let images: Int
  }

  public let images: Int
  public let areaA: Int
  public let areaB: Int
  public let intersection: Int
  public let nucleiA: Int
  public let nucleiB: Int
  public let truePositives: Int
  public var falsePositives: Int { nucleiB - truePositives }
  public var falseNegatives: Int { nucleiA - truePositives }

  public let pooledDice: Result<Double, Undefined>
  public let pooledIoU: Result<Double, Undefined>
  public let pooledPrecision: Result<Double, Undefined>
  public let pooledRecall: Result<Double, Undefined>
  public let pooledF1: Result<Double, Undefined>
  public let pooledSQ: Result<Double, Undefined>
  public let pooledPQ: Result<Double, Undefined>
  public let pooledAJI: Result<Double, Undefined>
  public let pooledAJIPlus: Result<Double, Undefined>

  public let meanDice: Mean
  public let meanIoU: Mean
  public let meanF1: Mean
  public let meanPQ: Mean
  public let meanAJI: Mean
  public let meanAJIPlus: Mean

  public init(_ items: [MaskAgreement]) {
    images = items.count
    areaA = items.reduce(0) { $0 + $1.areaA }
    areaB = items.reduce(0) { $0 + $1.areaB }
    intersection = items.reduce(0) { $0 + $1.intersection }
    nucleiA = items.reduce(0) { $0 + $1.nucleiA }
    nucleiB = items.reduce(0) { $0 + $1.nucleiB }
    truePositives = items.reduce(0) { $0 + $1.truePositives }
    let iouSum = items.reduce(0.0) { s, m in m.matches.reduce(s) { $0 + $1.iou } }

    func ratio(_ key: String, _ num: Double, _ den: Double, _ why: String) -> Result<Double, Undefined> {
      den > 0 ? .success(num / den) : .failure(Undefined(key, why))
    }
    let none = images == 0 ? "there are no images" : "every mask is empty"
    let pixels = PixelOverlap(areaA: areaA, areaB: areaB, intersection: intersection)
    pooledDice = pixels.dice.map { .success($0) } ?? .failure(Undefined("pooled.dice", none))
    pooledIoU = pixels.iou.map { .success($0) } ?? .failure(Undefined("pooled.iou", none))
    pooledPrecision = ratio(
      "pooled.precision", Double(truePositives), Double(nucleiB), "the second rater's masks have no nuclei")
    pooledRecall = ratio(
      "pooled.recall", Double(truePositives), Double(nucleiA), "the first rater's masks have no nuclei")
    pooledF1 = ratio("pooled.f1", 2 * Double(truePositives), Double(nucleiA + nucleiB), "no mask has nuclei")
    pooledSQ = ratio("pooled.sq", iouSum, Double(truePositives), "no nuclei matched at IoU > 0.5")
    pooledPQ = ratio("pooled.pq", iouSum, Double(nucleiA + nucleiB) / 2, "no mask has nuclei")
    pooledAJI = ratio(
      "pooled.aji", Double(items.reduce(0) { $0 + $1.ajiIntersection }),
      Double(items.reduce(0) { $0 + $1.ajiUnion }), none)
    pooledAJIPlus = ratio(
      "pooled.aji_plus", Double(items.reduce(0) { $0 + $1.ajiPlusIntersection }),
      Double(items.reduce(0) { $0 + $1.ajiPlusUnion }), none)

    func mean(_ key: String, _ pick: (MaskAgreement) -> Result<Double, Undefined>) -> Mean {
      let values = items.compactMap { pick($0).value }
      guard !values.isEmpty else {
        return Mean(value: .failure(Undefined(key, "undefined on every image")), images: 0)
      }
      return Mean(value: .success(values.reduce(0, +) / Double(values.count)), images: values.count)
    }
    meanDice = mean("mean.dice", \.dice)
    meanIoU = mean("mean.iou", \.iou)
    meanF1 = mean("mean.f1", \.f1)
    meanPQ = mean("mean.pq", \.pq)
    meanAJI = mean("mean.aji", \.aji)
    meanAJIPlus = mean("mean.aji_plus", \.ajiPlus)
  }

  /// Every statistic without a value, with the reason.
  public var undefined: [Undefined] {
    [
      pooledDice, pooledIoU, pooledPrecision, pooledRecall, pooledF1, pooledSQ, pooledPQ, pooledAJI,
      pooledAJIPlus,
    ]
    .compactMap(\.undefined)
      + [meanDice, meanIoU, meanF1, meanPQ, meanAJI, meanAJIPlus].compactMap(\.value.undefined)
  }
}
