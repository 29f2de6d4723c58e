import Imaging

/// Draws images with text: each cell is an upper half block `▀` whose foreground is the top
/// pixel and background the bottom one, so a cell shows two vertically stacked pixels. Works
/// in every terminal with colour (tmux included); 24-bit SGR colours where the terminal says
/// it has them (`COLORTERM=truecolor|24bit`), else the nearest of xterm's 256 colours.
public enum HalfBlockEncoder {
  /// One byte string per cell row: SGR colours and `▀` characters, ending with SGR reset.
  /// Each row is positioned by the caller (absolute cursor moves are added at draw time, so
  /// the cached bytes do not depend on where the image goes). An odd last pixel row leaves
  /// the lower halves of the last cell row in the terminal's default background.
  public static func encode(_ image: RGBImage, trueColor: Bool) -> [[UInt8]] {
    let cellRows = (image.height + 1) / 2
    var rows: [[UInt8]] = []
    rows.reserveCapacity(cellRows)
    let block: [UInt8] = Array("▀".utf8)
    for cy in 0..<cellRows {
      var out: [UInt8] = []
      out.reserveCapacity(image.width * 24)
      var lastTop: (UInt8, UInt8, UInt8)? = nil
      var lastBottom: (UInt8, UInt8, UInt8)?? = nil
      for x in 0..<image.width {
        let top = image[x, 2 * cy]
        let bottom: (UInt8, UInt8, UInt8)? = 2 * cy + 1 < image.height ? image[x, 2 * cy + 1] : nil
        var sgr: [String] = []
        if lastTop.map({ $0 != top }) ?? true {
          sgr.append(colourParameter(38, top, trueColor: trueColor))
          lastTop = top
        }
        let bottomChanged: Bool
        switch (lastBottom, bottom) {
        case (.none, _): bottomChanged = true
        case (.some(.none), .none): bottomChanged = false
        case (.some(.some(let a)), .some(let b)): bottomChanged = a != b
        default: bottomChanged = true
        }
        if bottomChanged {
          sgr.append(bottom.map { colourParameter(48, $0, trueColor: trueColor) } ?? "49")
          lastBottom = .some(bottom)
        }
        if !sgr.isEmpty { out += Array("\u{1B}[\(sgr.joined(separator: ";"))m".utf8) }
        out += block
      }
      out += Array("\u{1B}[0m".utf8)
      rows.append(out)
    }
    return rows
  }

  /// `38;2;r;g;b` (or `48;…`) in 24-bit colour, else `38;5;n` with the nearest 256-colour index.
  static func colourParameter(_ selector: Int, _ c: (UInt8, UInt8, UInt8), trueColor: Bool) -> String {
    trueColor
      ? "\(selector);2;\(c.0);\(c.1);\(c.2)"
      : "\(selector);5;\(Color.nearest256(c.0, c.1, c.2))"
  }
}
