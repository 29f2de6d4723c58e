import Foundation

/// An sRGB colour as the terminal draws it, 8 bits a channel.
public struct RGB: Hashable, Sendable, CustomStringConvertible {
  public var r: UInt8
  public var g: UInt8
  public var b: UInt8

  public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
    self.r = r
    self.g = g
    self.b = b
  }

  /// From 0…255 integers (clamped), as the palette tables store them.
  public init(_ t: (Int, Int, Int)) {
    self.init(
      UInt8(clamping: t.0), UInt8(clamping: t.1), UInt8(clamping: t.2))
  }

  public static let black = RGB(0, 0, 0)
  public static let white = RGB(255, 255, 255)

  public var description: String { String(format: "#%02x%02x%02x", r, g, b) }

  /// Squared distance in RGB, for "nearest palette colour".
  func distance(to o: RGB) -> Int {
    let dr = Int(r) - Int(o.r)
    let dg = Int(g) - Int(o.g)
    let db = Int(b) - Int(o.b)
    return dr * dr + dg * dg + db * db
  }
}

/// WCAG 2.x contrast (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio): what every colour
/// the UI draws is checked against, so text stays legible on white and on black terminals.
public enum Contrast {
  /// WCAG AA for normal text (success criterion 1.4.3).
  public static let text = 4.5
  /// WCAG AA for graphics and user-interface components (1.4.11): bars, borders, swatches and
  /// class colours (class is never told by colour alone: its letter is printed too).
  public static let graphics = 3.0

  /// A channel's linear value: sRGB's transfer function undone (WCAG's definition; its
  /// threshold 0.03928 and sRGB's 0.04045 agree for every 8-bit value).
  static func linear(_ v: UInt8) -> Double {
    let c = Double(v) / 255
    return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
  }

  /// Relative luminance: 0 for black, 1 for white.
  public static func relativeLuminance(_ c: RGB) -> Double {
    0.2126 * linear(c.r) + 0.7152 * linear(c.g) + 0.0722 * linear(c.b)
  }

  /// (L1 + 0.05) / (L2 + 0.05) with L1 the lighter: 1 (same) to 21 (black on white).
  public static func ratio(_ a: RGB, _ b: RGB) -> Double {
    let la = relativeLuminance(a)
    let lb = relativeLuminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
  }
}
