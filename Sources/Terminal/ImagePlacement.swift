import Imaging

/// Where an image's pixels come from. The renderer asks for them only when its cache of
/// encoded bytes misses, at exactly the pixel size it will draw, so a provider can load from
/// disk, scale and composite overlays lazily, and a cached page of thumbnails costs nothing.
public struct ImageSource: Sendable {
  /// The natural size, used only for the aspect ratio when fitting into a cell rectangle.
  public let width: Int
  public let height: Int
  /// Returns the image at exactly `width` × `height` pixels, or nil if it cannot be had
  /// (the renderer then leaves the rectangle empty).
  public let render: @Sendable (_ width: Int, _ height: Int) -> RGBImage?
  /// For a source drawn in two steps (the picture, then lines over it): the picture alone,
  /// and the drawing over it given the part of the picture shown (in its own pixels). `render`
  /// is both over the whole picture; a zoomed view (the review app's `Zoom`) magnifies the
  /// part in view of `base` and then calls `decorate`, so a mask outline or a cursor stays one
  /// screen pixel wide at every zoom (issue 18, item 6). Nil for a one-step source.
  public let base: (@Sendable (_ width: Int, _ height: Int) -> RGBImage?)?
  public let decorate: (@Sendable (_ image: inout RGBImage, _ shown: PixelRect) -> Void)?

  public init(
    width: Int, height: Int, render: @escaping @Sendable (_ width: Int, _ height: Int) -> RGBImage?
  ) {
    self.width = width
    self.height = height
    self.render = render
    base = nil
    decorate = nil
  }

  /// A two-step source: `base` gives the picture at a size, `decorate` draws over it.
  public init(
    width: Int, height: Int, base: @escaping @Sendable (_ width: Int, _ height: Int) -> RGBImage?,
    decorate: @escaping @Sendable (_ image: inout RGBImage, _ shown: PixelRect) -> Void
  ) {
    self.width = width
    self.height = height
    self.base = base
    self.decorate = decorate
    let whole = PixelRect(x: 0, y: 0, width: width, height: height)
    render = { w, h in
      guard var image = base(w, h) else { return nil }
      decorate(&image, whole)
      return image
    }
  }

  /// An image already in memory, scaled on demand.
  public init(_ image: RGBImage) {
    self.init(width: image.width, height: image.height) { w, h in
      image.width == w && image.height == h ? image : image.resized(width: w, height: h)
    }
  }
}

/// A region of an image that changed since the placement keyed `since` was drawn: the
/// renderer then re-encodes and redraws only the cells over this region (the mask editor's
/// brush strokes). Fractions of the image's width and height, so they survive any scaling.
public struct ImageDamage: Hashable, Sendable {
  public var since: String
  public var x: Double
  public var y: Double
  public var width: Double
  public var height: Double

  public init(since: String, x: Double, y: Double, width: Double, height: Double) {
    self.since = since
    self.x = x
    self.y = y
    self.width = width
    self.height = height
  }

  /// A damage record in the image's own pixel coordinates.
  public init(since: String, pixels rect: PixelRect, imageWidth: Int, imageHeight: Int) {
    let w = Double(max(1, imageWidth))
    let h = Double(max(1, imageHeight))
    self.init(
      since: since, x: Double(rect.x) / w, y: Double(rect.y) / h,
      width: Double(rect.width) / w, height: Double(rect.height) / h)
  }
}

/// An image in a `Frame`: which image (its `key`), where (a cell rectangle, fitted inside it
/// with its aspect ratio kept, anchored top-left), and how to get its pixels.
///
/// `key` names the exact content drawn, overlays included (for example
/// `"case:42|mask:v7|boxes"`): the renderer redraws a placement only when its key or rectangle
/// changes, and caches encoded bytes by (key, pixel size, backend). A key must therefore
/// change whenever the pixels do. Equality ignores `source` (a closure).
public struct ImagePlacement: Equatable, Sendable {
  public var key: String
  public var rect: CellRect
  public var source: ImageSource
  /// What changed, relative to one or more earlier keys: the painter uses the one whose key
  /// is on screen (several events may pass between two frames).
  public var damages: [ImageDamage]

  /// The first damage record, for the common single-step case.
  public var damage: ImageDamage? { damages.first }

  public init(key: String, rect: CellRect, source: ImageSource, damage: ImageDamage? = nil) {
    self.init(key: key, rect: rect, source: source, damages: damage.map { [$0] } ?? [])
  }

  public init(key: String, rect: CellRect, source: ImageSource, damages: [ImageDamage]) {
    self.key = key
    self.rect = rect
    self.source = source
    self.damages = damages
  }

  public static func == (a: ImagePlacement, b: ImagePlacement) -> Bool {
    a.key == b.key && a.rect == b.rect && a.damages == b.damages
  }
}
