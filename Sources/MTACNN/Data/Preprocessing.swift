import Imaging

/// The scale-bar corner to blank, measured at a source resolution. Aria's label (see
/// docs/model-card-notes.md) spans x 193...223, y 194...221 of its 224 x 224 images; the default
/// rectangle adds a margin for JPEG ringing and chroma bleeding.
public struct CornerBlank: Codable, Equatable, Sendable {
  public var x: Int
  public var y: Int
  public var width: Int
  public var height: Int
  /// The image size the rectangle was measured on; other sizes get it scaled.
  public var sourceWidth: Int
  public var sourceHeight: Int
  /// "mean": the rounded mean colour of the other pixels (the only fill so far).
  public var fill: String

  public init(
    x: Int, y: Int, width: Int, height: Int, sourceWidth: Int, sourceHeight: Int, fill: String = "mean"
  ) {
    self.x = x
    self.y = y
    self.width = width
    self.height = height
    self.sourceWidth = sourceWidth
    self.sourceHeight = sourceHeight
    self.fill = fill
  }

  public static let aria = CornerBlank(
    x: 188, y: 188, width: 36, height: 36, sourceWidth: 224, sourceHeight: 224)

  /// The rectangle for a `w` x `h` image: scaled from the source size, floor at the top-left and
  /// ceiling at the bottom-right so it never shrinks below the measured box; clipped to the image.
  public func rect(forWidth w: Int, height h: Int) -> PixelRect {
    let x0 = x * w / sourceWidth
    let y0 = y * h / sourceHeight
    let x1 = ((x + width) * w + sourceWidth - 1) / sourceWidth
    let y1 = ((y + height) * h + sourceHeight - 1) / sourceHeight
    return PixelRect(x: x0, y: y0, width: min(x1, w) - x0, height: min(y1, h) - y0)
  }

  /// The image with the rectangle filled by the mean colour of the remaining pixels (each channel
  /// rounded half up from the exact integer sum).
  public func apply(to image: RGBImage) -> RGBImage {
    let r = rect(forWidth: image.width, height: image.height)
    guard !r.isEmpty else { return image }
    var sum = (0, 0, 0)
    var n = 0
    for y in 0..<image.height {
      for x in 0..<image.width where !(x >= r.x && x < r.maxX && y >= r.y && y < r.maxY) {
        let p = image[x, y]
        sum.0 += Int(p.r)
        sum.1 += Int(p.g)
        sum.2 += Int(p.b)
        n += 1
      }
    }
    guard n > 0 else { return image.blanking(r, with: (0, 0, 0)) }
    func mean(_ s: Int) -> UInt8 { UInt8((2 * s + n) / (2 * n)) }
    return image.blanking(r, with: (mean(sum.0), mean(sum.1), mean(sum.2)))
  }

  enum CodingKeys: String, CodingKey {
    case x, y, width, height, fill
    case sourceWidth = "source_width"
    case sourceHeight = "source_height"
  }
}

/// What turns a decoded image into network input, recorded in the model configuration so
/// prediction repeats training exactly: colour shift (evaluation only), corner blank at the source
/// resolution, area resize to S x S, scale to [0, 1], stain normalisation.
public struct Preprocessing: Equatable, Sendable {
  public var size: Int
  public var cornerBlank: CornerBlank?
  public var stainNormalisation: StainNormalisation?

  public init(size: Int, cornerBlank: CornerBlank? = nil, stainNormalisation: StainNormalisation? = nil) {
    self.size = size
    self.cornerBlank = cornerBlank
    self.stainNormalisation = stainNormalisation
  }

  /// The 8-bit S x S image before scaling (what thumbnails of "what the model saw" show).
  public func resized(_ image: RGBImage, shift: ColourShift = .none) -> RGBImage {
    var im = shift.apply(to: image)
    if let c = cornerBlank { im = c.apply(to: im) }
    return im.resized(width: size, height: size)
  }

  public func input(_ image: RGBImage, shift: ColourShift = .none) -> PlanarImage {
    var p = PlanarImage(resized(image, shift: shift))
    stainNormalisation?.apply(to: &p)
    return p
  }

  /// A mask brought to S x S (nearest neighbour, so it stays 0/255).
  public func mask(_ mask: Mask) -> Mask { mask.resized(width: size, height: size) }
}

/// How a mask file becomes a nucleus mask (0 / 255).
public enum MaskRule: Equatable, Sendable {
  /// Aria's `Segmented/` colour-threshold images: nucleus where R + G + B > `sumAbove`; then
  /// 8-connected components under `minimumArea` pixels are dropped (JPEG speckle); a mask with less
  /// than `minimumFraction` of its pixels left is unusable (nil).
  case weak(sumAbove: Int, minimumArea: Int, minimumFraction: Double)
  /// Expert masks (wbc-seg: nucleus 255, cytoplasm 128, background 0): nucleus where value >= 192.
  case expert

  /// The rule chosen in docs/model-card-notes.md (weak-mask study). Aria's Pro masks miss most
  /// nuclei whatever the threshold; training leaves them out (`FolderDataset`'s
  /// `masksExcludedFor`).
  public static let ariaDefault = MaskRule.weak(sumAbove: 120, minimumArea: 30, minimumFraction: 0.01)

  /// The nucleus mask of a decoded mask image, or nil when a weak mask is too empty to use.
  public func nucleusMask(fromImage image: RGBImage) -> Mask? {
    var m = Mask(width: image.width, height: image.height)
    switch self {
    case .weak(let t, _, _):
      for i in 0..<(image.width * image.height) {
        let s = Int(image.pixels[3 * i]) + Int(image.pixels[3 * i + 1]) + Int(image.pixels[3 * i + 2])
        if s > t { m.values[i] = 255 }
      }
    case .expert:
      // an expert mask saved as RGB: all channels carry the same gray value
      for i in 0..<(image.width * image.height) where image.pixels[3 * i] >= 192 { m.values[i] = 255 }
    }
    return cleaned(m)
  }

  /// The same from a single-channel mask (a gray value v stands for R = G = B = v).
  public func nucleusMask(fromMask mask: Mask) -> Mask? {
    switch self {
    case .expert:
      return Mask(width: mask.width, height: mask.height, values: mask.values.map { $0 >= 192 ? 255 : 0 })
    case .weak(let t, _, _):
      return cleaned(
        Mask(width: mask.width, height: mask.height, values: mask.values.map { 3 * Int($0) > t ? 255 : 0 }))
    }
  }

  func cleaned(_ m: Mask) -> Mask? {
    guard case .weak(_, let minArea, let minFraction) = self else { return m }
    var out = m
    if minArea > 1 {
      let cc = m.connectedComponents(connectivity: .eight, threshold: 128)
      let small = Set(cc.components.filter { $0.area < minArea }.map(\.label))
      if !small.isEmpty {
        for i in 0..<out.values.count where small.contains(cc.labels[i]) { out.values[i] = 0 }
      }
    }
    let kept = out.values.reduce(0) { $0 + ($1 > 0 ? 1 : 0) }
    return Double(kept) >= minFraction * Double(max(out.values.count, 1)) ? out : nil
  }
}
