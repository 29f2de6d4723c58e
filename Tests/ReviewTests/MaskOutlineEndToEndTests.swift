import Foundation
import TestSupport
import Testing

@testable import Terminal

/// Issue 18, item 6, in tmux with half blocks: the mask overlays hid the chromatin (fill only)
/// and the mask editor's white cursor vanished over the filled mask on the pale background.
/// The picture is read back from the pane with its colours (`capture-pane -e`): each `▀` cell is
/// two pixels, the foreground above the background. Uses `MaskEditorEndToEndTests`' workspace:
/// case 2's model mask is a 30 × 30 square in a 120 × 120 crop.
@Suite(.serialized, .enabled(if: EndToEnd.has("tmux")))
struct MaskOutlineEndToEndTests {
  let editor = MaskEditorEndToEndTests()

  /// One half-block cell: its two pixels as the terminal shows them.
  struct Cell: Equatable {
    var top: RGB
    var bottom: RGB
  }

  /// An xterm 256-colour index as RGB (the 16 system colours as xterm draws them).
  static func xterm(_ n: Int) -> RGB {
    let system: [(Int, Int, Int)] = [
      (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
      (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255),
      (0, 255, 255), (255, 255, 255),
    ]
    if n < 16 { return RGB(system[n]) }
    if n >= 232 { return RGB((8 + 10 * (n - 232), 8 + 10 * (n - 232), 8 + 10 * (n - 232))) }
    let levels = [0, 95, 135, 175, 215, 255]
    let i = n - 16
    return RGB((levels[i / 36], levels[i / 6 % 6], levels[i % 6]))
  }

  /// The pane's `▀` cells by (row, column), with the colours their SGR sequences set.
  static func picture(_ t: TmuxSession) -> [[Int]: Cell] {
    var out: [[Int]: Cell] = [:]
    for (row, line) in t.capture(escapes: true).components(separatedBy: "\n").enumerated() {
      var fg = RGB.white
      var bg = RGB.black
      var column = 0
      var chars = Array(line)[...]
      while let c = chars.first {
        chars = chars.dropFirst()
        if c == "\u{1B}", chars.first == "[" {
          let body = chars.dropFirst().prefix { !$0.isLetter }
          chars = chars.dropFirst(body.count + 2)
          var p = body.split(separator: ";", omittingEmptySubsequences: false).map { Int(String($0)) ?? 0 }[
            ...]
          if p.isEmpty { p = [0] }
          while let code = p.first {
            p = p.dropFirst()
            switch code {
            case 0:
              fg = .white
              bg = .black
            case 38, 48:
              var colour: RGB?
              if p.first == 5, p.count >= 2 {
                colour = xterm(p[p.startIndex + 1])
                p = p.dropFirst(2)
              } else if p.first == 2, p.count >= 4 {
                let v = Array(p.prefix(4))
                colour = RGB((v[1], v[2], v[3]))
                p = p.dropFirst(4)
              }
              if let colour { if code == 38 { fg = colour } else { bg = colour } }
            case 30...37: fg = xterm(code - 30)
            case 40...47: bg = xterm(code - 40)
            case 90...97: fg = xterm(code - 90 + 8)
            case 100...107: bg = xterm(code - 100 + 8)
            default: break
            }
          }
          continue
        }
        if c == "▀" { out[[row, column]] = Cell(top: fg, bottom: bg) }
        column += 1
      }
    }
    return out
  }

  /// The cells where two pictures differ.
  static func difference(_ a: [[Int]: Cell], _ b: [[Int]: Cell]) -> Set<[Int]> {
    Set(a.keys.filter { a[$0] != b[$0] })
  }

  /// Waits until the picture stops changing (the renderer has drawn the last key), and returns it.
  static func settledPicture(_ t: TmuxSession) -> [[Int]: Cell] {
    var last = picture(t)
    for _ in 0..<20 {
      usleep(250_000)
      let now = picture(t)
      if now == last && !now.isEmpty { return now }
      last = now
    }
    return last
  }

  @Test func oDrawsMaskOverlaysAsOutlinesThatKeepTheChromatinVisible() throws {
    let (dir, ws) = try editor.workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    var t = try editor.review(ws)
    #expect(t.waitFor("52 matching"))
    t.send("l")
    t.send("Enter")
    #expect(t.waitFor("Case #2"))
    let none = Self.settledPicture(t)
    #expect(none.count > 1000, "the picture is drawn in half blocks")
    t.send("M")
    #expect(t.waitFor("Model mask overlay on"))
    let filled = Self.settledPicture(t)
    t.send("O")
    #expect(t.waitFor("Masks drawn as outlines"), "O switches to outlines: \(t.capture())")
    let outlined = Self.settledPicture(t)
    // The key line offers the way back, and the legend says how the mask is drawn.
    t.send("z")
    #expect(t.waitFor("O fill"))
    #expect(t.waitFor("model mask v1 (outline)"))
    let tinted = Self.difference(filled, none)
    let lined = Self.difference(outlined, none)
    // The 30 × 30 square is about 18 × 9 cells: filled, all of them change; outlined, only the
    // cells its one-pixel edge crosses, and inside it the chromatin is as without an overlay.
    #expect(tinted.count > 100, "\(tinted.count) cells tinted")
    #expect(!lined.isEmpty && lined.count * 2 < tinted.count, "outline \(lined.count), fill \(tinted.count)")
    #expect(lined.isSubset(of: tinted))
    let rows = tinted.map { $0[0] }
    let columns = tinted.map { $0[1] }
    let centre = [(rows.min()! + rows.max()!) / 2, (columns.min()! + columns.max()!) / 2]
    #expect(filled[centre] != none[centre], "filled, the centre of the nucleus is tinted")
    #expect(outlined[centre] == none[centre], "outlined, the centre shows the image itself")
    // `?` lists the key.
    t.send("?")
    #expect(t.waitFor("Keys: case view"))
    var help = ""
    for _ in 0..<4 {
      let screen = t.capture()
      guard screen.contains("Keys: case view") else { break }
      help += screen
      t.send("Space")
      usleep(300_000)
    }
    #expect(help.contains("masks as outlines or filled"))
    // Escape then q at once would reach the app as Alt-q: wait for the help to close first.
    if t.capture().contains("Keys: case view") { t.send("Escape") }
    #expect(EndToEnd.waitUntil(seconds: 10) { !t.capture().contains("Keys: case view") })
    t.send("q")
    #expect(t.waitFor("EXIT=0"))

    // The workspace keeps the choice: the next review draws the outline again.
    t = try editor.review(ws)
    #expect(t.waitFor("52 matching"))
    t.send("l")
    t.send("Enter")
    #expect(t.waitFor("Case #2"))
    t.send("M")
    #expect(t.waitFor("Model mask overlay on"))
    #expect(Self.settledPicture(t) == outlined)
    t.send("q")
    #expect(t.waitFor("EXIT=0"))
  }

  @Test func theEditorCursorStaysVisibleOverTheMaskOnThePaleBackground() throws {
    let (dir, ws) = try editor.workspace()
    defer { try? FileManager.default.removeItem(at: dir) }
    let t = try editor.review(ws)
    #expect(t.waitFor("52 matching"))
    editor.openEditor(t, case: 2)
    // Up and left onto the pale background near the crop's corner, a bigger brush, and a dab
    // there: the cursor now sits over the filled mask on the palest part of the picture.
    for _ in 0..<6 {
      t.send("H")
      t.send("K")
    }
    for _ in 0..<4 { t.send("]") }
    t.send("Space")
    t.send("Space")
    #expect(editor.waitForPanel(t, "Cursor:", "Cursor: 12, 12 of 120 × 120"))
    #expect(editor.waitForPanel(t, "Radius:", "Radius: 8 px   [ smaller  ] larger"))
    let here = Self.settledPicture(t)
    // The same picture with the cursor elsewhere, twice: the cells that differ from both are
    // the cursor's, and the others show what is beneath it.
    for _ in 0..<5 { t.send("L") }
    #expect(editor.waitForPanel(t, "Cursor:", "Cursor: 52, 12 of 120 × 120"))
    let right = Self.settledPicture(t)
    for _ in 0..<5 { t.send("J") }
    #expect(editor.waitForPanel(t, "Cursor:", "Cursor: 52, 52 of 120 × 120"))
    let below = Self.settledPicture(t)
    let cursor = Self.difference(here, right).intersection(Self.difference(here, below))
    #expect(cursor.count >= 6, "the cursor covers \(cursor.count) cells")
    var pixels = 0
    for cell in cursor {
      let (a, b) = (here[cell]!, right[cell]!)
      for (marker, under) in [(a.top, b.top), (a.bottom, b.bottom)] where marker != under {
        pixels += 1
        let ratio = Contrast.ratio(marker, under)
        #expect(ratio >= Contrast.graphics, "cursor \(marker) over \(under) at \(cell): \(ratio):1")
      }
    }
    #expect(pixels >= 8)
    t.send("Escape")
    #expect(t.waitFor("Saved: mask of case #2"))
    t.send("q")
    #expect(t.waitFor("EXIT=0"))
  }
}
