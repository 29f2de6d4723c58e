import CaseStore
import Foundation
import Imaging
import Testing

@testable import Review
@testable import Terminal

/// Issue 18, item 6: mask overlays as outlines as well as fills (`O`), so the chromatin inside
/// stays visible, and a mask editor cursor that stays visible over the mask.
@Suite struct MaskOutlineTests {
  /// A mask from rows of `#` (nucleus, 255) and `.` (background).
  static func mask(_ rows: [String]) -> Mask {
    var m = Mask(width: rows[0].count, height: rows.count)
    for (y, row) in rows.enumerated() {
      for (x, c) in row.enumerated() where c == "#" { m[x, y] = 255 }
    }
    return m
  }

  static func picture(_ m: Mask) -> [String] {
    (0..<m.height).map { y in String((0..<m.width).map { m[$0, y] >= 128 ? "#" : "." }) }
  }

  @Test func theOutlineIsTheNucleusPixelsWithABackgroundNeighbour() {
    // Hand-worked: (2,2) and (3,2) have nucleus left, right, above and below, so they are
    // inside (background at a diagonal, as (4,1) for (3,2), does not count); every other nucleus
    // pixel touches background on one of its four sides: (4,2) on its right.
    let m = Self.mask([
      "......",
      ".###..",
      ".####.",
      ".###..",
      "......",
    ])
    #expect(
      Self.picture(m.outline()) == [
        "......",
        ".###..",
        ".#..#.",
        ".###..",
        "......",
      ])
    // The image's edge closes a nucleus that touches it; 127 is background (nucleus is ≥ 128).
    var full = Mask(width: 3, height: 3, fill: 255)
    #expect(Self.picture(full.outline()) == ["###", "#.#", "###"])
    full[1, 0] = 127
    #expect(Self.picture(full.outline()) == ["#.#", "###", "###"])
    #expect(Mask(width: 4, height: 2).outline().values.allSatisfy { $0 == 0 })
  }

  @Test func anOutlineIsOneDrawnPixelWideAtTheSizeItIsDrawn() {
    // A 2 × 2 nucleus in a 4 × 4 mask, drawn on an 8 × 8 image: nearest neighbour makes it the
    // 4 × 4 block x, y in 2...5, whose outline is its 12 border pixels; the 4 inside keep the
    // image's own colour.
    let m = Self.mask(["....", ".##.", ".##.", "...."])
    var image = RGBImage(width: 8, height: 8)
    for y in 0..<8 { for x in 0..<8 { image[x, y] = (UInt8(10 * x), UInt8(10 * y), 90) } }
    let out = image.drawingMask(m, colour: [0, 215, 255], style: .outline)
    var painted: [String] = []
    for y in 0..<8 {
      painted.append(
        String((0..<8).map { x in out[x, y] == image[x, y] ? "." : out[x, y] == (0, 215, 255) ? "o" : "?" }))
    }
    #expect(
      painted == [
        "........",
        "........",
        "..oooo..",
        "..o..o..",
        "..o..o..",
        "..oooo..",
        "........",
        "........",
      ])
    // Filled, the inside is tinted: the chromatin is under 45 % of the colour.
    let filled = image.drawingMask(m, colour: [0, 215, 255], style: .fill)
    #expect(filled[3, 3] != image[3, 3])
    #expect(filled[3, 3].g == UInt8((0.55 * 30 + 0.45 * 215).rounded()))
  }

  @Test func zoomedInTheOutlineStaysOneScreenPixelWide() throws {
    // A 7 × 7 nucleus (x, y in 16...22) of a 40 × 40 picture, zoomed in 4×: the view is the
    // 10 × 10 pixels from (15, 15), drawn on 80 × 80 screen pixels, 8 per image pixel. The
    // square is screen x 8...63; on a middle row its outline is the two screen pixels at its
    // edges, not 8-pixel blocks of the image's edge pixels.
    var m = Mask(width: 40, height: 40)
    for y in 16...22 { for x in 16...22 { m[x, y] = 255 } }
    var picture = RGBImage(width: 40, height: 40)
    for y in 0..<40 { for x in 0..<40 { picture[x, y] = (100, 90, 110) } }
    var zoom = Zoom()
    zoom.step(in: true)
    zoom.step(in: true)
    #expect(zoom.visible(width: 40, height: 40) == PixelRect(x: 15, y: 15, width: 10, height: 10))
    let source = CaseImages().overlaid(
      picture, path: "p", width: 40, height: 40,
      layers: [OverlayLayer(mask: m, colour: [0, 215, 255], style: .outline)])
    let shown = try #require(zoom.apply(to: source, width: 40, height: 40).render(80, 80))
    #expect((0..<80).filter { shown[$0, 40] == (0, 215, 255) } == [8, 63])
    #expect((0..<80).filter { shown[40, $0] == (0, 215, 255) } == [8, 63])
    // Unzoomed, the same square's outline is one pixel of the picture drawn.
    let whole = try #require(source.render(40, 40))
    #expect((0..<40).filter { whole[$0, 19] == (0, 215, 255) } == [16, 22])
  }

  /// The editor's image with the cursor at its place and the same image with the cursor far
  /// away: the marker's pixels are where they differ, and what is beneath each is the other.
  static func markerPixels(
    _ e: MaskEditor, _ picture: RGBImage, style: MaskOverlayStyle, width: Int, height: Int,
    colours: OverlayColours = OverlayColours()
  ) -> [(marker: (UInt8, UInt8, UInt8), under: (UInt8, UInt8, UInt8))] {
    let images = CaseImages()
    var away = e
    away.moveTo(x: 0, y: 0)
    let a = images.editing(picture, path: "p", editor: e, colours: colours, style: style).render(
      width, height)!
    let b = images.editing(picture, path: "p", editor: away, colours: colours, style: style).render(
      width, height)!
    var out: [((UInt8, UInt8, UInt8), (UInt8, UInt8, UInt8))] = []
    for y in 0..<height {
      for x in 0..<width where a[x, y] != b[x, y] && Double(x) > Double(width) / 4 {
        out.append((a[x, y], b[x, y]))
      }
    }
    return out
  }

  @Test func theCursorContrastsWithTheMaskAndTheImageBeneathIt() {
    // A pale smear background (where the old white ring vanished into the yellow fill) with a
    // dark nucleus in its left half; the mask covers the middle; the cursor sits on the mask.
    var picture = RGBImage(width: 40, height: 40)
    for y in 0..<40 {
      for x in 0..<40 { picture[x, y] = x < 22 ? (70, 40, 110) : (236, 228, 232) }
    }
    var m = Mask(width: 40, height: 40)
    for y in 8..<32 { for x in 8..<32 { m[x, y] = 255 } }
    var e = MaskEditor(caseID: 1, mask: m)
    e.moveTo(x: 22, y: 20)
    for style in [MaskOverlayStyle.fill, .outline] {
      // The sizes sixel (3 screen px per image px) and half blocks (one px per half cell) draw.
      for (w, h) in [(120, 120), (30, 30)] {
        let pixels = Self.markerPixels(e, picture, style: style, width: w, height: h)
        #expect(pixels.count >= 12, "\(style) at \(w)×\(h): the marker has \(pixels.count) pixels")
        for p in pixels {
          let ratio = Contrast.ratio(
            RGB(p.marker.0, p.marker.1, p.marker.2), RGB(p.under.0, p.under.1, p.under.2))
          #expect(ratio >= Contrast.graphics, "\(style) at \(w)×\(h): \(p.marker) over \(p.under): \(ratio)")
        }
      }
    }
    // Over the pale fill the theme's white brush (1.4:1 there) gives way to black; over the dark
    // nucleus it stays white.
    let fill = Self.markerPixels(e, picture, style: .fill, width: 120, height: 120)
    #expect(fill.contains { $0.marker == (0, 0, 0) })
    #expect(fill.contains { $0.marker == (255, 255, 255) })
    let tinted = (236.0 * 0.55 + 255 * 0.45, 228.0 * 0.55 + 215 * 0.45, 232.0 * 0.55)
    let old = Contrast.ratio(
      .white, RGB(UInt8(tinted.0.rounded()), UInt8(tinted.1.rounded()), UInt8(tinted.2.rounded())))
    #expect(old < Contrast.graphics, "the old white ring over the pale fill: \(old)")
  }

  @Test func theMarkerColourRuleAgainstWhatIsBeneath() {
    // The theme's brush where it contrasts 3:1, else black or white, whichever contrasts more.
    #expect(CursorMarker.colour(over: (20, 20, 60), brush: (255, 255, 255)) == (255, 255, 255))
    #expect(CursorMarker.colour(over: (240, 220, 130), brush: (255, 255, 255)) == (0, 0, 0))
    // A mid grey near the worst case (luminance 0.18): either of black and white reaches 4.5:1.
    let grey = (UInt8(118), UInt8(118), UInt8(118))
    let c = CursorMarker.colour(over: grey, brush: (128, 128, 128))
    #expect(Contrast.ratio(RGB(c.0, c.1, c.2), RGB(grey.0, grey.1, grey.2)) >= Contrast.text)
  }
}

/// `O` in the app: the case view, the mask editor and the adjudication draw masks as outlines,
/// the choice is listed in `?` and the key line, kept in the workspace, and redraws the image.
@Suite struct MaskOutlineScreenTests {
  @Test func oSwitchesEveryMaskOverlayAndTheWorkspaceKeepsIt() throws {
    let (app, store, dir) = try makeApp()
    defer { try? FileManager.default.removeItem(at: dir) }
    app.dispatch(key(.enter))
    app.dispatch(key("m"))
    #expect(app.frame.contains("Mask shown filled · O outline"))
    #expect(View.keyLine(View.keyHints(app.state), width: 119).contains("O outline"))
    // Paint a nucleus, then outline it.
    app.dispatch(key(" "))
    app.dispatch(key("L"))
    app.dispatch(key(" "))
    let filledKey = try #require(app.frame.images.first?.key)
    app.dispatch(key("O"))
    #expect(app.state.maskStyle == .outline)
    #expect(app.frame.contains("Mask shown outline · O fill"))
    #expect(app.frame.text(row: 39).contains("Masks drawn as outlines"))
    let outlinedKey = try #require(app.frame.images.first?.key)
    #expect(outlinedKey != filledKey, "a new key, so the renderer redraws the picture")
    #expect(try store.setting(ReviewApp.maskStyleSetting) == "outline")

    // The case view: my mask overlay is an outline; inside it the picture is the image's own.
    app.dispatch(key(.escape))
    app.dispatch(key("y"))
    let f = app.frame
    #expect(f.contains("my mask (outline)"))
    #expect(View.keyLine(View.keyHints(app.state), width: 119).contains("O fill"))
    let placement = try #require(f.images.first)
    #expect(placement.key.hasSuffix("|outline"))
    let e = try #require(app.state.detail)
    let shown = try #require(placement.source.render(e.record.width, e.record.height))
    let plain = try #require(
      CaseImages().image(
        app.state.pictures.caseImage, path: e.record.imagePath, width: e.record.width, height: e.record.height
      ).render(e.record.width, e.record.height))
    let mine = try #require(app.state.overlays.mask("mine", case: e.record.id)).mask
    let outline = mine.outline()
    var inside = 0
    var edge = 0
    for y in 0..<mine.height {
      for x in 0..<mine.width where mine[x, y] >= 128 {
        if outline[x, y] == 255 {
          edge += 1
          let c = app.state.overlayColours.myMask
          #expect(shown[x, y] == (c[0], c[1], c[2]))
        } else {
          inside += 1
          #expect(shown[x, y] == plain[x, y])
        }
      }
    }
    #expect(inside > 50 && edge > 20, "inside \(inside), edge \(edge)")

    // Another session of the review app starts with outlines.
    let again = try ReviewApp(
      store: store, rater: "alice", session: nil, rows: 40, columns: 120, graphics: true)
    #expect(again.state.maskStyle == .outline)
    app.dispatch(key("O"))
    #expect(try store.setting(ReviewApp.maskStyleSetting) == "fill")
    #expect(!app.frame.images.first!.key.contains("outline"))
  }

  @Test func theHelpOfEachScreenWithMasksListsO() {
    for screen in [Screen.caseView, .maskEditor, .adjudication] {
      var s = AppState(
        rows: 40, columns: 120, graphics: true, schema: .all4, rater: "alice", workspaceName: "ws")
      s.screen = screen
      let binding = KeyMap.bindings(for: s).first { $0.action == .toggleMaskOutline }
      #expect(binding?.keys == [KeyPress("O")], "\(screen)")
      #expect(View.helpEntries(s).contains { $0.1.contains("masks as outlines or filled") }, "\(screen)")
      let (after, effects) = update(s, .input(.key(KeyPress("O"))))
      #expect(after.maskStyle == .outline, "\(screen)")
      #expect(effects == [.saveSetting(name: ReviewApp.maskStyleSetting, value: "outline")])
    }
    // The adjudication's key line names it.
    var s = AppState(
      rows: 40, columns: 200, graphics: true, schema: .all4, rater: "alice", workspaceName: "ws")
    s.screen = .adjudication
    #expect(View.keyHints(s).contains("O outline"))
  }
}
