import Imaging

/// Which explanation to make.
public enum ExplanationMethod: String, Sendable, CaseIterable, Codable {
  /// One forward and one backward pass: immediate.
  case gradcam
  /// Hundreds of forward passes: slower, model-agnostic, region-level.
  case lime
}

/// How LIME cuts the image into regions.
public enum SuperpixelMethod: String, Sendable, CaseIterable, Codable {
  case slic
  case grid
}

/// Everything an explanation of one image needs besides the model.
public struct ExplanationRequest: Sendable {
  public var method: ExplanationMethod
  /// The class to explain; nil explains the predicted class.
  public var classIndex: Int?
  /// Blank the scale-bar corner before the model sees the image; nil follows the model's
  /// configuration (what its predictions do).
  public var blankCorner: Bool?
  public var lime: LIMEOptions
  public var superpixels: SuperpixelMethod
  /// About how many regions LIME uses.
  public var regions: Int

  public init(
    method: ExplanationMethod, classIndex: Int? = nil, blankCorner: Bool? = nil,
    lime: LIMEOptions = LIMEOptions(),
    superpixels: SuperpixelMethod = .slic, regions: Int = 50
  ) {
    self.method = method
    self.classIndex = classIndex
    self.blankCorner = blankCorner
    self.lime = lime
    self.superpixels = superpixels
    self.regions = regions
  }
}

/// An explanation of one image, ready to draw or print: the method's heatmap at the network's
/// input size, LIME's regions and weights, and the scale-bar corner's share of the attribution.
public struct ImageExplanation: Sendable {
  public var method: ExplanationMethod
  public var classIndex: Int
  public var className: String
  public var probabilities: [Float]
  /// At the network's S × S.
  public var heatmap: AttributionMap
  /// LIME: the regions, each one's weight, the strongest positive ones and the surrogate's R².
  public var superpixels: Superpixels?
  public var regionWeights: [Double]?
  public var topRegions: [Int]
  public var fitScore: Double?
  /// Grad-CAM: the map at the explained stage's resolution.
  public var cam: AttributionMap?
  /// The corner check, with where the rectangle came from ("model" or "aria").
  public var corner: CornerAttribution
  public var cornerSource: String
  /// Whether the model saw the corner blanked.
  public var cornerBlanked: Bool

  /// The overlay at `image`'s own size: heatmap tint, then the top regions' outlines (LIME).
  public func overlay(on image: RGBImage, style: ExplanationOverlayStyle = .standard) -> RGBImage {
    var outline: Mask? = nil
    if let sp = superpixels, !topRegions.isEmpty {
      outline = sp.resized(width: image.width, height: image.height).outline(of: topRegions)
    }
    return ExplanationOverlay.render(
      image, heatmap: heatmap, interpolation: method == .lime ? .nearest : .bilinear, outline: outline,
      style: style)
  }
}

/// Makes explanations of whole images for a model: preprocessing as the model does it (or with
/// the corner forced on or off), then Grad-CAM or LIME, then the corner check.
public struct Explainer {
  public let model: ExplainableModel

  public init(model: ExplainableModel) { self.model = model }

  /// The corner rectangle the model blanks, else Aria's (the corner check still means something for
  /// a model trained without blanking), and which it is.
  public var corner: (CornerBlank, source: String) {
    if let c = model.preprocessing.cornerBlank { return (c, "model") }
    return (.aria, "aria")
  }

  /// Explains `image` (a decoded source image). `progress(done, total)` reports LIME's samples;
  /// an error it throws cancels.
  public func explain(
    _ image: RGBImage, _ request: ExplanationRequest, progress: ((Int, Int) throws -> Void)? = nil
  ) throws -> ImageExplanation {
    let classes = model.classNames
    if let k = request.classIndex, k < 0 || k >= classes.count {
      throw ExplanationError.classOutOfRange(k, classes: classes.count)
    }
    let (corner, source) = self.corner
    var pre = model.preprocessing
    if let b = request.blankCorner { pre.cornerBlank = b ? corner : nil }
    let input = pre.input(image)
    switch request.method {
    case .gradcam:
      let g = try model.gradCAM([input], classIndices: [request.classIndex])[0]
      return ImageExplanation(
        method: .gradcam, classIndex: g.classIndex, className: classes[g.classIndex],
        probabilities: g.probabilities,
        heatmap: g.heatmap, superpixels: nil, regionWeights: nil, topRegions: [], fitScore: nil, cam: g.cam,
        corner: g.heatmap.cornerAttribution(corner), cornerSource: source,
        cornerBlanked: pre.cornerBlank != nil)
    case .lime:
      guard request.regions >= 1 else {
        throw ExplanationError.invalidOption("regions", "\(request.regions)", "at least 1")
      }
      // Regions follow the colours the model sees, before any stain normalisation.
      let shown = PlanarImage(pre.resized(image))
      let sp =
        request.superpixels == .slic
        ? Superpixels.slic(shown, regions: request.regions)
        : Superpixels.grid(width: shown.width, height: shown.height, regions: request.regions)
      let e = try LIME(options: request.lime).explain(
        input, superpixels: sp, classIndex: request.classIndex,
        classifier: { try model.probabilities($0) }, progress: progress)
      return ImageExplanation(
        method: .lime, classIndex: e.classIndex, className: classes[e.classIndex],
        probabilities: e.probabilities,
        heatmap: e.heatmap, superpixels: sp, regionWeights: e.weights, topRegions: e.topRegions,
        fitScore: e.fit.score, cam: nil, corner: e.heatmap.cornerAttribution(corner), cornerSource: source,
        cornerBlanked: pre.cornerBlank != nil)
    }
  }
}
