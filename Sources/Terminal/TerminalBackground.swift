import Foundation

/// Whether a terminal (or a theme) is dark text on light, or light text on dark.
public enum Polarity: String, Sendable, Equatable {
  case dark
  case light

  /// Light when the colour is nearer white than black by WCAG contrast.
  public init(background: RGB) {
    self = Contrast.ratio(background, .black) > Contrast.ratio(background, .white) ? .light : .dark
  }

  /// What the terminal's default foreground is taken to be on such a background.
  public var defaultForeground: RGB { self == .dark ? .white : .black }
  /// A stand-in background of this polarity when only the polarity is known.
  public var typicalBackground: RGB { self == .dark ? .black : .white }
}

/// The terminal's default background colour, as far as we can tell: the terminal's answer to
/// the OSC 11 query (sent with the capability probe, so it costs no extra wait), else
/// `$COLORFGBG` (set by rxvt, Konsole and others), else unknown. Themes are picked by it and
/// colours are checked against it (`ColourMapping`).
public struct TerminalBackground: Sendable, Equatable {
  public var rgb: RGB
  /// "OSC 11" or "COLORFGBG".
  public var source: String

  public init(rgb: RGB, source: String) {
    self.rgb = rgb
    self.source = source
  }

  public var polarity: Polarity { Polarity(background: rgb) }

  /// The background from an OSC 11 answer, else from `COLORFGBG`; nil when neither says.
  public static func resolve(osc11: RGB?, environment: [String: String]) -> TerminalBackground? {
    if let osc11 { return TerminalBackground(rgb: osc11, source: "OSC 11") }
    if let value = environment["COLORFGBG"], let rgb = parseColorFgBg(value) {
      return TerminalBackground(rgb: rgb, source: "COLORFGBG")
    }
    return nil
  }

  /// Parses an OSC 11 answer, `ESC ] 11 ; rgb:RRRR/GGGG/BBBB` ended by BEL or `ESC \`, found
  /// anywhere in `bytes` (other replies around it are ignored). Each channel has 1 to 4 hex
  /// digits (X11's colour syntax) and is scaled to 8 bits; `rgba:` answers are accepted.
  public static func parseOSC11(_ bytes: [UInt8]) -> RGB? {
    let prefix: [UInt8] = Array("\u{1B}]11;".utf8)
    guard bytes.count > prefix.count else { return nil }
    var i = 0
    while i + prefix.count <= bytes.count {
      if Array(bytes[i..<i + prefix.count]) == prefix {
        var j = i + prefix.count
        var body: [UInt8] = []
        var terminated = false
        while j < bytes.count, body.count < 64 {
          if bytes[j] == 0x07 || bytes[j] == 0x1B || bytes[j] == 0x9C {
            terminated = true
            break
          }
          body.append(bytes[j])
          j += 1
        }
        if terminated, let rgb = parseX11Colour(String(decoding: body, as: UTF8.self)) { return rgb }
        i = j
      } else {
        i += 1
      }
    }
    return nil
  }

  /// `rgb:R/G/B` or `rgba:R/G/B/A` with 1–4 hex digits a channel.
  static func parseX11Colour(_ text: String) -> RGB? {
    let lower = text.lowercased()
    let spec: Substring
    if lower.hasPrefix("rgb:") {
      spec = lower.dropFirst(4)
    } else if lower.hasPrefix("rgba:") {
      spec = lower.dropFirst(5)
    } else {
      return nil
    }
    let parts = spec.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 3 || parts.count == 4 else { return nil }
    var channels: [UInt8] = []
    for part in parts.prefix(3) {
      guard (1...4).contains(part.count), let v = UInt32(part, radix: 16) else { return nil }
      let maximum = Double((1 << (4 * part.count)) - 1)
      channels.append(UInt8((Double(v) / maximum * 255).rounded()))
    }
    return RGB(channels[0], channels[1], channels[2])
  }

  /// `COLORFGBG` is "fg;bg" (or "fg;default;bg"): the last field is the background as one of
  /// the 16 basic colours. Returns that colour's xterm value; nil when it is not a number
  /// 0–15 (e.g. "default").
  public static func parseColorFgBg(_ value: String) -> RGB? {
    guard let last = value.split(separator: ";").last, let n = Int(last), (0..<16).contains(n) else {
      return nil
    }
    return RGB(Color.basicPalette[n])
  }
}
