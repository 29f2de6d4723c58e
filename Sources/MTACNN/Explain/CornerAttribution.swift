import Imaging

/// How much of an explanation falls in the scale-bar corner (the rectangle the model
/// configuration's `blank_corner` names; `../shared/data/README.md`): a model that reads the
/// label instead of the cells puts far more of its positive attribution there than the corner's
/// share of the image area.
public struct CornerAttribution: Equatable, Sendable {
  /// The corner in the attribution map's pixels.
  public var rect: PixelRect
  /// Share of the positive attribution inside `rect`; nil when the map has none.
  public var share: Double?
  /// The corner's share of the image area: what `share` would be if attribution ignored position.
  public var areaShare: Double

  /// `share / areaShare`: about 1 for a map that treats the corner like any other pixels, far
  /// above 1 for one that looks at the label.
  public var enrichment: Double? { share.map { areaShare > 0 ? $0 / areaShare : .nan } }
}

extension AttributionMap {
  /// The corner check for a corner given at its source resolution (scaled to this map).
  public func cornerAttribution(_ corner: CornerBlank) -> CornerAttribution {
    let r = corner.rect(forWidth: width, height: height)
    return CornerAttribution(
      rect: r, share: positiveShare(in: r), areaShare: Double(r.area) / Double(width * height))
  }
}
