import Imaging

/// Deterministic smear-like pictures for tests, benchmarks and `show-image --patterns`: a
/// pale background gradient and a violet "nucleus" disc with chromatin-like texture, hue and
/// position varying with `index`, so every pattern is distinct and has dozens of colours.
public enum TestPattern {
  public static func image(index: Int, width: Int, height: Int) -> RGBImage {
    var img = RGBImage(width: width, height: height)
    let cx = Double(width) * (0.35 + 0.3 * Double((index * 7) % 5) / 4)
    let cy = Double(height) * (0.35 + 0.3 * Double((index * 3) % 4) / 3)
    let radius = Double(min(width, height)) * (0.22 + 0.03 * Double(index % 4))
    let hue = Double((index * 37) % 60)
    for y in 0..<height {
      for x in 0..<width {
        let dx = Double(x) - cx
        let dy = Double(y) - cy
        let d = (dx * dx + dy * dy).squareRoot()
        let t = Double(x + 2 * y) / Double(width + 2 * height)
        if d < radius {
          let texture = Double((x * 13 + y * 7 + index) % 11) * 4 + 20 * (d / radius)
          img[x, y] = (
            UInt8(min(255, 90 + hue + texture)), UInt8(min(255, 40 + texture / 2)),
            UInt8(min(255, 130 + texture))
          )
        } else {
          img[x, y] = (UInt8(235 - 40 * t), UInt8(205 - 50 * t - hue / 3), UInt8(215 - 25 * t))
        }
      }
    }
    return img
  }
}
