import Foundation
import Imaging

/// Training augmentation: which operations run and their ranges. Recorded in the model's training
/// metadata; the JSON keys are those of `tools/torch/augment.py`'s `AugmentConfig`.
public struct AugmentationConfig: Codable, Equatable, Sendable {
  /// Horizontal and vertical flips, each with probability 0.5.
  public var flip = true
  /// Rotation by k * 90 degrees counter-clockwise, k uniform in 0...3.
  public var rot90 = true
  /// Hue rotation uniform in [-hueDegrees, +hueDegrees].
  public var hueDegrees = 0.0
  /// Saturation factor uniform in [1 - s, 1 + s].
  public var saturation = 0.0
  /// Brightness factor uniform in [1 - b, 1 + b].
  public var brightness = 0.0
  /// Contrast factor uniform in [1 - c, 1 + c].
  public var contrast = 0.0
  /// Probability of converting to grayscale.
  public var grayProbability = 0.0
  /// Per stain channel, alpha uniform in [1 - s, 1 + s].
  public var hedScale = 0.0
  /// Per stain channel, beta uniform in [-t, t] (optical-density units).
  public var hedShift = 0.0
  /// Zoom about the centre by z, log-uniform in [1 / (1 + s), 1 + s] (0: off). z > 1 magnifies
  /// (the centre fills the frame), z < 1 shrinks the image into a mirrored surround, so a model
  /// sees cells at the sizes of 120-pixel and 300-pixel crops alike. Not in the PyTorch reference:
  /// its key is written only when set, and with 0 no random number is drawn for it.
  public var scale = 0.0

  public init(
    flip: Bool = true, rot90: Bool = true, hueDegrees: Double = 0, saturation: Double = 0,
    brightness: Double = 0, contrast: Double = 0, grayProbability: Double = 0, hedScale: Double = 0,
    hedShift: Double = 0, scale: Double = 0
  ) {
    self.flip = flip
    self.rot90 = rot90
    self.hueDegrees = hueDegrees
    self.saturation = saturation
    self.brightness = brightness
    self.contrast = contrast
    self.grayProbability = grayProbability
    self.hedScale = hedScale
    self.hedShift = hedShift
    self.scale = scale
  }

  /// Geometry only: the control of issue 10.
  public static let geometric = AugmentationConfig()

  /// Geometry plus issue 10's colour and stain jitter (docs/model-card-notes.md §3, "full"):
  /// what all4 models train and retrain with unless told otherwise.
  public static let colour = AugmentationConfig(
    hueDegrees: 15, saturation: 0.3, brightness: 0.15, contrast: 0.15, grayProbability: 0.2, hedScale: 0.05,
    hedShift: 0.05)

  /// The default for a model of the schema named `schema`: `colour` for all4 (its images vary in
  /// stain and scanner), `geometric` for the others.
  public static func standard(forSchema schema: String) -> AugmentationConfig {
    schema == "all4" ? colour : geometric
  }

  /// Geometry, colour and stain jitter plus zoom in [1/1.6, 1.6]: the demo model's recipe, whose
  /// crops come at many magnifications (120-pixel crops of one lab, 300-pixel crops of another).
  public static let colourAndScale: AugmentationConfig = {
    var a = colour
    a.scale = 0.6
    return a
  }()

  enum CodingKeys: String, CodingKey {
    case flip, rot90, saturation, brightness, contrast, scale
    case hueDegrees = "hue_deg"
    case grayProbability = "gray_p"
    case hedScale = "hed_scale"
    case hedShift = "hed_shift"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    flip = try c.decode(Bool.self, forKey: .flip)
    rot90 = try c.decode(Bool.self, forKey: .rot90)
    hueDegrees = try c.decode(Double.self, forKey: .hueDegrees)
    saturation = try c.decode(Double.self, forKey: .saturation)
    brightness = try c.decode(Double.self, forKey: .brightness)
    contrast = try c.decode(Double.self, forKey: .contrast)
    grayProbability = try c.decode(Double.self, forKey: .grayProbability)
    hedScale = try c.decode(Double.self, forKey: .hedScale)
    hedShift = try c.decode(Double.self, forKey: .hedShift)
    // Records written before the zoom existed have no key: no zoom.
    scale = try c.decodeIfPresent(Double.self, forKey: .scale) ?? 0
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(flip, forKey: .flip)
    try c.encode(rot90, forKey: .rot90)
    try c.encode(hueDegrees, forKey: .hueDegrees)
    try c.encode(saturation, forKey: .saturation)
    try c.encode(brightness, forKey: .brightness)
    try c.encode(contrast, forKey: .contrast)
    try c.encode(grayProbability, forKey: .grayProbability)
    try c.encode(hedScale, forKey: .hedScale)
    try c.encode(hedShift, forKey: .hedShift)
    if scale > 0 { try c.encode(scale, forKey: .scale) }
  }
}

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and the same sequence on every platform, so
/// augmentation is reproducible from a seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  private var state: UInt64
  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1) from the top 53 bits.
  public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
  /// Uniform in [-r, r].
  public mutating func symmetric(_ r: Double) -> Double { (2 * unit() - 1) * r }
}

/// Applies an `AugmentationConfig` to one training sample. Geometry applies to the image and its
/// mask alike; colour to the image only, in the order: stain jitter, hue, saturation, brightness,
/// contrast, grayscale (the order of the PyTorch reference). Deterministic for the generator state.
public struct Augmenter: Sendable {
  public var config: AugmentationConfig

  public init(_ config: AugmentationConfig) { self.config = config }

  public func apply(
    _ image: inout PlanarImage, mask: inout Mask?, using rng: inout SplitMix64
  ) {
    let c = config
    if c.flip || c.rot90 {
      let fh = rng.unit() < 0.5
      let fv = rng.unit() < 0.5
      let k = Int(rng.next() % 4)
      if c.flip && fh {
        image = Geometry.flippedHorizontally(image)
        mask = mask.map(Geometry.flippedHorizontally)
      }
      if c.flip && fv {
        image = Geometry.flippedVertically(image)
        mask = mask.map(Geometry.flippedVertically)
      }
      if c.rot90 && k != 0 {
        image = Geometry.rotated90(image, times: k)
        mask = mask.map { Geometry.rotated90($0, times: k) }
      }
    }
    if c.scale > 0 {
      let r = log(1 + c.scale)
      let z = exp(rng.symmetric(r))
      image = Geometry.zoomed(image, by: z)
      mask = mask.map { Geometry.zoomed($0, by: z) }
    }
    if c.hedScale > 0 || c.hedShift > 0 {
      let a = (1 + rng.symmetric(c.hedScale), 1 + rng.symmetric(c.hedScale), 1 + rng.symmetric(c.hedScale))
      let b = (rng.symmetric(c.hedShift), rng.symmetric(c.hedShift), rng.symmetric(c.hedShift))
      ColourOperations.jitterStains(&image, alpha: a, beta: b)
    }
    if c.hueDegrees > 0 { ColourOperations.rotateHue(&image, degrees: rng.symmetric(c.hueDegrees)) }
    if c.saturation > 0 { ColourOperations.saturate(&image, factor: 1 + rng.symmetric(c.saturation)) }
    if c.brightness > 0 { ColourOperations.brighten(&image, factor: 1 + rng.symmetric(c.brightness)) }
    if c.contrast > 0 { ColourOperations.contrast(&image, factor: 1 + rng.symmetric(c.contrast)) }
    if c.grayProbability > 0 && rng.unit() < c.grayProbability { ColourOperations.grayscale(&image) }
  }
}

/// Flips and quarter turns of planar images and masks.
public enum Geometry {
  public static func flippedHorizontally(_ im: PlanarImage) -> PlanarImage {
    remap(im, width: im.width, height: im.height) { x, y in (im.width - 1 - x, y) }
  }

  public static func flippedVertically(_ im: PlanarImage) -> PlanarImage {
    remap(im, width: im.width, height: im.height) { x, y in (x, im.height - 1 - y) }
  }

  /// Counter-clockwise by `times` * 90 degrees (as `torch.rot90(x, k, (H, W))`).
  public static func rotated90(_ im: PlanarImage, times: Int) -> PlanarImage {
    var out = im
    for _ in 0..<(((times % 4) + 4) % 4) {
      let src = out
      // one CCW turn: out(x, y) = src(W - 1 - y, x), new size H x W
      out = remap(src, width: src.height, height: src.width) { x, y in (src.width - 1 - y, x) }
    }
    return out
  }

  public static func flippedHorizontally(_ m: Mask) -> Mask {
    remap(m, width: m.width, height: m.height) { x, y in (m.width - 1 - x, y) }
  }

  public static func flippedVertically(_ m: Mask) -> Mask {
    remap(m, width: m.width, height: m.height) { x, y in (x, m.height - 1 - y) }
  }

  public static func rotated90(_ m: Mask, times: Int) -> Mask {
    var out = m
    for _ in 0..<(((times % 4) + 4) % 4) {
      let src = out
      out = remap(src, width: src.height, height: src.width) { x, y in (src.width - 1 - y, x) }
    }
    return out
  }

  /// Zoom about the centre by `z`, same size out: bilinear, mirrored beyond the edges (a shrunk
  /// crop is surrounded by its own reflection rather than a flat colour the model could key on).
  public static func zoomed(_ im: PlanarImage, by z: Double) -> PlanarImage {
    let w = im.width
    let h = im.height
    guard w > 0, h > 0, z > 0, z != 1 else { return im }
    var out = PlanarImage(width: w, height: h)
    let n = w * h
    let cx = Double(w) / 2
    let cy = Double(h) / 2
    for y in 0..<h {
      let sy = (Double(y) + 0.5 - cy) / z + cy - 0.5
      let y0 = Int(sy.rounded(.down))
      let fy = Float(sy - Double(y0))
      let ya = mirror(y0, h) * w
      let yb = mirror(y0 + 1, h) * w
      for x in 0..<w {
        let sx = (Double(x) + 0.5 - cx) / z + cx - 0.5
        let x0 = Int(sx.rounded(.down))
        let fx = Float(sx - Double(x0))
        let xa = mirror(x0, w)
        let xb = mirror(x0 + 1, w)
        for c in 0..<3 {
          let p = c * n
          let top = im.data[p + ya + xa] * (1 - fx) + im.data[p + ya + xb] * fx
          let bottom = im.data[p + yb + xa] * (1 - fx) + im.data[p + yb + xb] * fx
          out.data[p + y * w + x] = top * (1 - fy) + bottom * fy
        }
      }
    }
    return out
  }

  /// The mask zoomed as `zoomed(_:by:)` moves the image: nearest neighbour, mirrored, so its
  /// values stay labels.
  public static func zoomed(_ m: Mask, by z: Double) -> Mask {
    let w = m.width
    let h = m.height
    guard w > 0, h > 0, z > 0, z != 1 else { return m }
    let cx = Double(w) / 2
    let cy = Double(h) / 2
    return remap(m, width: w, height: h) { x, y in
      let sx = Int(((Double(x) + 0.5 - cx) / z + cx).rounded(.down))
      let sy = Int(((Double(y) + 0.5 - cy) / z + cy).rounded(.down))
      return (mirror(sx, w), mirror(sy, h))
    }
  }

  /// Index `i` reflected into 0..<n (edge pixel repeated: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ...).
  static func mirror(_ i: Int, _ n: Int) -> Int {
    let period = 2 * n
    var j = i % period
    if j < 0 { j += period }
    return j < n ? j : period - 1 - j
  }

  static func remap(
    _ im: PlanarImage, width: Int, height: Int, _ source: (Int, Int) -> (Int, Int)
  ) -> PlanarImage {
    var out = PlanarImage(width: width, height: height)
    let n = width * height
    let sn = im.width * im.height
    for y in 0..<height {
      for x in 0..<width {
        let (sx, sy) = source(x, y)
        let s = sy * im.width + sx
        let d = y * width + x
        out.data[d] = im.data[s]
        out.data[n + d] = im.data[sn + s]
        out.data[2 * n + d] = im.data[2 * sn + s]
      }
    }
    return out
  }

  static func remap(_ m: Mask, width: Int, height: Int, _ source: (Int, Int) -> (Int, Int)) -> Mask {
    var out = Mask(width: width, height: height)
    for y in 0..<height {
      for x in 0..<width {
        let (sx, sy) = source(x, y)
        out.values[y * width + x] = m.values[sy * m.width + sx]
      }
    }
    return out
  }
}
