import Foundation
import Testing

@testable import Terminal

/// WCAG 2.x relative luminance and contrast ratio against published values: the W3C's
/// definition (black/white 21:1) and WebAIM's contrast checker (https://webaim.org/resources/contrastchecker/),
/// whose figures are rounded to two decimals.
@Suite struct ContrastTests {
  func hex(_ s: String) -> RGB {
    guard case .rgb(let r, let g, let b) = Color(parsing: s)! else { fatalError(s) }
    return RGB(r, g, b)
  }

  @Test func luminanceEnds() {
    #expect(Contrast.relativeLuminance(.black) == 0)
    #expect(abs(Contrast.relativeLuminance(.white) - 1) < 1e-12)
  }

  @Test(arguments: [
    ("#000000", "#ffffff", 21.0),
    ("#777777", "#ffffff", 4.48),
    ("#767676", "#ffffff", 4.54),
    ("#0000ff", "#ffffff", 8.59),
    ("#ff0000", "#ffffff", 4.0),
    ("#008000", "#ffffff", 5.14),
    ("#ffff00", "#ffffff", 1.07),
    ("#ffffff", "#808080", 3.95),
  ])
  func publishedRatios(foreground: String, background: String, expected: Double) {
    let r = Contrast.ratio(hex(foreground), hex(background))
    #expect(abs(r - expected) < 0.006, "\(foreground) on \(background): \(r)")
    #expect(Contrast.ratio(hex(background), hex(foreground)) == r, "symmetric")
  }

  @Test func sameColourIsOne() {
    #expect(Contrast.ratio(hex("#3a7bd5"), hex("#3a7bd5")) == 1)
  }
}

/// The terminal's background: OSC 11 answers and `$COLORFGBG`.
@Suite struct TerminalBackgroundTests {
  @Test func osc11AnswersInTheirUsualForms() {
    // xterm: four hex digits a channel, ended by ST; others end with BEL or use two digits.
    #expect(
      TerminalBackground.parseOSC11(Array("\u{1B}]11;rgb:ffff/ffff/ffff\u{1B}\\".utf8)) == RGB.white)
    #expect(TerminalBackground.parseOSC11(Array("\u{1B}]11;rgb:0000/0000/0000\u{07}".utf8)) == RGB.black)
    #expect(
      TerminalBackground.parseOSC11(Array("\u{1B}]11;rgb:30/0a/24\u{07}".utf8)) == RGB(0x30, 0x0a, 0x24))
    #expect(
      TerminalBackground.parseOSC11(Array("\u{1B}]11;rgba:fdfd/f6f6/e3e3/ffff\u{1B}\\".utf8))
        == RGB(0xfd, 0xf6, 0xe3))
    // Among the probe's other answers.
    let stream = Array("\u{1B}[?1016;2$y\u{1B}]11;rgb:1e1e/1e1e/1e1e\u{1B}\\\u{1B}[?62;4c".utf8)
    #expect(TerminalBackground.parseOSC11(stream) == RGB(0x1e, 0x1e, 0x1e))
    #expect(TerminalProbe.Replies(parsing: stream).background == RGB(0x1e, 0x1e, 0x1e))
    #expect(TerminalProbe.Replies(parsing: stream).deviceAttributes == [62, 4])
  }

  @Test func malformedOrIncompleteOSC11IsUnknown() {
    #expect(TerminalBackground.parseOSC11(Array("\u{1B}]11;rgb:ffff/ffff/ffff".utf8)) == nil)
    #expect(TerminalBackground.parseOSC11(Array("\u{1B}]11;?\u{07}".utf8)) == nil)
    #expect(TerminalBackground.parseOSC11(Array("\u{1B}]11;rgb:fffff/0/0\u{07}".utf8)) == nil)
    #expect(TerminalBackground.parseOSC11(Array("\u{1B}]11;rgb:zz/00/00\u{07}".utf8)) == nil)
    #expect(TerminalBackground.parseOSC11(Array("\u{1B}[?62;4c".utf8)) == nil)
  }

  @Test func theProbeAsksForTheBackgroundBeforeDeviceAttributes() {
    let q = String(decoding: TerminalProbe.queries(askCellSize: false), as: UTF8.self)
    let osc = q.range(of: "\u{1B}]11;?\u{1B}\\")
    let da = q.range(of: "\u{1B}[c")
    #expect(osc != nil && da != nil && osc!.upperBound <= da!.lowerBound)
  }

  @Test func colorFgBgIsTheFallback() {
    let white = TerminalBackground.resolve(osc11: nil, environment: ["COLORFGBG": "0;15"])
    #expect(white?.polarity == .light)
    #expect(white?.source == "COLORFGBG")
    #expect(TerminalBackground.resolve(osc11: nil, environment: ["COLORFGBG": "15;0"])?.polarity == .dark)
    #expect(
      TerminalBackground.resolve(osc11: nil, environment: ["COLORFGBG": "12;default;7"])?.polarity == .light)
    #expect(TerminalBackground.resolve(osc11: nil, environment: ["COLORFGBG": "default;default"]) == nil)
    #expect(TerminalBackground.resolve(osc11: nil, environment: [:]) == nil)
    // The terminal's own answer wins.
    let both = TerminalBackground.resolve(osc11: .black, environment: ["COLORFGBG": "0;15"])
    #expect(both?.polarity == .dark)
    #expect(both?.source == "OSC 11")
  }

  @Test func autoPicksTheThemeByBackground() {
    #expect(Theme.automaticName(for: TerminalBackground(rgb: .white, source: "t")) == "light")
    #expect(Theme.automaticName(for: TerminalBackground(rgb: RGB(0xfd, 0xf6, 0xe3), source: "t")) == "light")
    #expect(Theme.automaticName(for: TerminalBackground(rgb: RGB(0x30, 0x0a, 0x24), source: "t")) == "dark")
    #expect(Theme.automaticName(for: nil) == "dark")
  }
}
