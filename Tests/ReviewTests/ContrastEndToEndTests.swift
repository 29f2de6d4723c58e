import Foundation
import TestSupport
import Testing

/// Issue 18, item 1, for real: `blastview review` in tmux on an 8-colour terminal (TERM=screen)
/// whose background is white (or black), told by `$COLORFGBG` as rxvt-like terminals do. Every
/// character on the browser, the case view and the help screen is read back with its colours
/// (`capture-pane -e`) and must have at least 3:1 contrast (WCAG's floor for class colours and
/// graphics; the role-exact 4.5:1 for text is ThemeContrastTests). Before the fix the default
/// theme drew white titles and yellow badges on the white background (1.1–1.4:1), and
/// `--theme light` yellow on light grey.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux")))
struct ContrastEndToEndTests {
  /// xterm's values of the 16 basic colours (what TERM=screen's 8 colours are drawn as).
  static let basic: [(Int, Int, Int)] = [
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
    (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255),
    (255, 0, 255), (0, 255, 255), (255, 255, 255),
  ]

  static func rgb256(_ i: Int) -> (Int, Int, Int) {
    if i < 16 { return basic[i] }
    if i >= 232 { return (8 + 10 * (i - 232), 8 + 10 * (i - 232), 8 + 10 * (i - 232)) }
    let levels = [0, 95, 135, 175, 215, 255]
    let n = i - 16
    return (levels[n / 36], levels[(n / 6) % 6], levels[n % 6])
  }

  /// WCAG 2.x contrast, written out here independently of the Terminal module's.
  static func contrast(_ a: (Int, Int, Int), _ b: (Int, Int, Int)) -> Double {
    func lum(_ c: (Int, Int, Int)) -> Double {
      func ch(_ v: Int) -> Double {
        let x = Double(v) / 255
        return x <= 0.03928 ? x / 12.92 : pow((x + 0.055) / 1.055, 2.4)
      }
      return 0.2126 * ch(c.0) + 0.7152 * ch(c.1) + 0.0722 * ch(c.2)
    }
    let (x, y) = (lum(a), lum(b))
    return (max(x, y) + 0.05) / (min(x, y) + 0.05)
  }

  /// The lowest-contrast visible character of a `capture-pane -e` screen, with default
  /// colours taken as the terminal's.
  static func worst(_ screen: String, defaultForeground: (Int, Int, Int), defaultBackground: (Int, Int, Int))
    -> (ratio: Double, what: String)
  {
    var fg: (Int, Int, Int)? = nil
    var bg: (Int, Int, Int)? = nil
    var reverse = false
    // Bold text in basic colours 0-7 is drawn by xterm in the bright 8-15 (`boldColors`, on by
    // default): the light theme's bold blue header on cyan showed bright blue, 2.4:1.
    var bold = false
    var basicForeground: Int? = nil
    var worst = (ratio: 21.0, what: "")
    let scalars = Array(screen.unicodeScalars)
    var i = 0
    var line = 0
    while i < scalars.count {
      let s = scalars[i]
      if s == "\u{1B}", i + 1 < scalars.count, scalars[i + 1] == "[" {
        var j = i + 2
        var params = ""
        while j < scalars.count, !(0x40...0x7E).contains(scalars[j].value) {
          params.unicodeScalars.append(scalars[j])
          j += 1
        }
        if j < scalars.count, scalars[j] == "m" {
          let p = params.split(separator: ";", omittingEmptySubsequences: false).map { Int($0) ?? 0 }
          var k = 0
          while k < p.count {
            switch p[k] {
            case 0:
              fg = nil
              bg = nil
              reverse = false
              bold = false
              basicForeground = nil
            case 1: bold = true
            case 22: bold = false
            case 7: reverse = true
            case 27: reverse = false
            case 30...37:
              fg = basic[p[k] - 30]
              basicForeground = p[k] - 30
            case 90...97:
              fg = basic[p[k] - 90 + 8]
              basicForeground = nil
            case 40...47: bg = basic[p[k] - 40]
            case 100...107: bg = basic[p[k] - 100 + 8]
            case 39:
              fg = nil
              basicForeground = nil
            case 49: bg = nil
            case 38, 48:
              let isForeground = p[k] == 38
              var c: (Int, Int, Int)? = nil
              if k + 2 < p.count, p[k + 1] == 5 {
                c = rgb256(p[k + 2])
                k += 2
              } else if k + 4 < p.count, p[k + 1] == 2 {
                c = (p[k + 2], p[k + 3], p[k + 4])
                k += 4
              }
              if isForeground {
                fg = c
                basicForeground = nil
              } else {
                bg = c
              }
            default: break
            }
            k += 1
          }
        }
        i = j + 1
        continue
      }
      if s == "\n" { line += 1 }
      if s != " " && s != "\n" {
        var f = fg ?? defaultForeground
        if bold, let i = basicForeground { f = basic[i + 8] }
        var b = bg ?? defaultBackground
        if reverse { swap(&f, &b) }
        let r = contrast(f, b)
        if r < worst.ratio { worst = (r, "'\(Character(s))' on line \(line + 1): \(f) on \(b)") }
      }
      i += 1
    }
    return worst
  }

  /// A workspace of SampleData's 20 BCCD smears predicted by the shipped all4 model.
  func workspace(_ dir: URL) -> String {
    let ws = dir.appendingPathComponent("ws").path
    let bin = EndToEnd.binary!
    #expect(EndToEnd.run([bin, "init", "--workspace", ws]).status == 0)
    let images = EndToEnd.repositoryRoot.appendingPathComponent("SampleData/bccd/JPEGImages").path
    #expect(EndToEnd.run([bin, "import", "--workspace", ws, images]).status == 0)
    // The shipped model (registered by init) predicts first: the case view then has its model
    // line and probability bars, two of the complaint's invisible items.
    #expect(EndToEnd.run([bin, "predict", "--all-cases", "--workspace", ws]).status == 0)
    return ws
  }

  /// The worst contrast on the browser, the case view and the help screen.
  func screens(ws: String, theme: String?, colorFgBg: String) throws -> [(
    screen: String, ratio: Double, what: String
  )] {
    let bin = EndToEnd.binary!
    let command =
      "env TERM=screen COLORFGBG=\(EndToEnd.shellQuote(colorFgBg)) \(EndToEnd.shellQuote(bin)) review --workspace \(EndToEnd.shellQuote(ws)) --rater alice --graphics none"
      + (theme.map { " --theme \($0)" } ?? "")
    let tmux = try #require(
      TmuxSession(columns: 120, rows: 36, command: "sh -c \(EndToEnd.shellQuote(command + "; sleep 60"))"))
    let white = colorFgBg.hasSuffix(";15")
    let (dfg, dbg) = white ? ((0, 0, 0), (255, 255, 255)) : ((255, 255, 255), (0, 0, 0))
    var out: [(String, Double, String)] = []
    func look(_ name: String) {
      let screen = EndToEnd.run(["tmux", "-L", tmux.socket, "capture-pane", "-e", "-p", "-t", tmux.name])
        .output
      let w = Self.worst(screen, defaultForeground: dfg, defaultBackground: dbg)
      out.append((name, w.ratio, w.what))
    }
    #expect(tmux.waitFor("20 matching"))
    look("browser")
    tmux.send("Enter")
    #expect(tmux.waitFor("Case #1"))
    #expect(tmux.waitFor("Model v1"))
    look("case view")
    tmux.send("?")
    usleep(500_000)
    look("help")
    tmux.send("q")
    return out
  }

  /// Default theme and `--theme light` on white (the complaint), default on black, and the
  /// colour-blind theme on white.
  @Test func everyCharacterIsLegibleInEightColours() throws {
    let dir = EndToEnd.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let ws = workspace(dir)
    for (theme, colorFgBg) in [
      (nil as String?, "0;15"), ("light", "0;15"), (nil, "15;0"), ("colorblind", "0;15"),
    ] {
      for (screen, ratio, what) in try screens(ws: ws, theme: theme, colorFgBg: colorFgBg) {
        #expect(
          ratio >= 3.0,
          "--theme \(theme ?? "auto") with COLORFGBG=\(colorFgBg), \(screen): \(String(format: "%.2f", ratio)):1 for \(what)"
        )
      }
    }
  }
}
