/// How images are drawn: sixel graphics, Unicode half blocks in colour, or not at all.
public enum GraphicsMode: String, Sendable, Codable, CaseIterable {
  case sixel, blocks, none

  /// The mode to use and why, from the probe and `BLASTVIEW_GRAPHICS` (DESIGN §6, §8):
  /// the override wins; otherwise sixel only when the terminal answered the device
  /// attributes query with 4 and we are not inside a tmux older than 3.4 (which answers
  /// for the terminal and drops sixel); otherwise half blocks.
  public static func choose(for caps: TerminalCapabilities, override: String?) -> (
    mode: GraphicsMode, reason: String
  ) {
    if let raw = override?.lowercased(), !raw.isEmpty {
      if let mode = GraphicsMode(rawValue: raw) { return (mode, "BLASTVIEW_GRAPHICS=\(raw)") }
    }
    if caps.inTmux, let version = caps.tmuxVersion, let number = tmuxVersionNumber(version),
      number < (3, 4)
    {
      return (.blocks, "tmux \(version) drops sixel images (needs 3.4 or later)")
    }
    switch caps.sixel {
    case true?: return (.sixel, "the terminal reports sixel support (device attribute 4)")
    case false?: return (.blocks, "the terminal does not report sixel support")
    case nil:
      return (
        .blocks, caps.isTTY ? "the terminal did not answer the device attributes query" : "not a terminal"
      )
    }
  }

  /// (major, minor) of a tmux version: "3.3a" → (3, 3), "next-3.4" → (3, 4),
  /// "3.10" → (3, 10), so that 3.10 compares above 3.4.
  static func tmuxVersionNumber(_ version: String) -> (Int, Int)? {
    let trimmed = version.hasPrefix("next-") ? String(version.dropFirst(5)) : version
    let parts = trimmed.split(separator: ".", maxSplits: 1)
    guard let major = Int(parts.first ?? "") else { return nil }
    let minorDigits = parts.count > 1 ? parts[1].prefix(while: \.isNumber) : ""
    return (major, Int(minorDigits) ?? 0)
  }
}
