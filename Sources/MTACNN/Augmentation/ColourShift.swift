import Foundation
import Imaging

/// The colour shifts of issue 10's robustness evaluation: `eval --colour-shift` and `audit` both call
/// `apply(to:)`, so the two can never disagree about what "hue:+10" means.
///
/// A shift makes an in-memory copy of the decoded 8-bit image, before corner blanking and resizing:
/// the float operation of `ColourOperations` on `x / 255`, then `floor(255 * y + 0.5)`.
public enum ColourShift: Hashable, Sendable, CustomStringConvertible {
  case none
  case hue(degrees: Double)
  case saturation(factor: Double)
  case gray

  /// The standard set, in report order.
  public static let all: [ColourShift] = [
    .none, .hue(degrees: 10), .hue(degrees: -10), .saturation(factor: 0.85), .saturation(factor: 1.15), .gray,
  ]

  /// Quotes the text as given; whoever prints it passes it through the terminal `Sanitizer`.
  public struct ParseError: Error, CustomStringConvertible, Equatable {
    public let text: String
    public var description: String {
      "unknown colour shift '\(text)': expected "
        + "none, gray, hue:<degrees> (e.g. hue:+10) or sat:<factor> (e.g. sat:0.85)"
    }
  }

  /// Parses `none`, `gray`, `hue:+10`, `hue:-10`, `sat:0.85`, `sat:1.15` (any finite value; a
  /// saturation factor must not be negative).
  public init(parsing text: String) throws(ParseError) {
    let t = text.trimmingCharacters(in: .whitespaces).lowercased()
    if t == "none" {
      self = .none
      return
    }
    if t == "gray" || t == "grey" {
      self = .gray
      return
    }
    let parts = t.split(separator: ":", maxSplits: 1).map(String.init)
    guard parts.count == 2, let v = Double(parts[1]), v.isFinite else { throw ParseError(text: text) }
    switch parts[0] {
    case "hue": self = .hue(degrees: v)
    case "sat" where v >= 0: self = .saturation(factor: v)
    default: throw ParseError(text: text)
    }
  }

  public var description: String {
    switch self {
    case .none: return "none"
    case .gray: return "gray"
    case .hue(let d): return "hue:" + (d >= 0 ? "+" : "") + formatNumber(d)
    case .saturation(let f): return "sat:" + formatNumber(f)
    }
  }

  /// The shifted copy (`.none` returns the image unchanged).
  public func apply(to image: RGBImage) -> RGBImage {
    if case .none = self { return image }
    var p = PlanarImage(image)
    apply(to: &p)
    return p.rgbImage()
  }

  /// The float operation alone, on an image already in [0, 1].
  public func apply(to image: inout PlanarImage) {
    switch self {
    case .none: break
    case .gray: ColourOperations.grayscale(&image)
    case .hue(let d): ColourOperations.rotateHue(&image, degrees: d)
    case .saturation(let f): ColourOperations.saturate(&image, factor: f)
    }
  }
}

private func formatNumber(_ v: Double) -> String {
  v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : String(v)
}
