import Foundation
import Testing

@testable import Terminal

/// The repository's Themes/ directory, found from this file's location.
let repositoryThemes = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Themes").path

@Suite struct ThemeTests {
  let shipped = ["dark", "light", "high-contrast", "colorblind"]

  @Test func everyShippedThemeLoadsFromItsFile() throws {
    let library = ThemeLibrary(directories: [repositoryThemes], useBuiltins: false)
    #expect(library.available() == shipped.sorted())
    for name in shipped {
      let theme = try library.load(name)
      #expect(theme.name == name)
      #expect(theme.classColors.count >= 4, "\(name) needs a colour per all4 class")
      #expect(Set(theme.classColors.prefix(4)).count == 4, "\(name): the four classes need distinct colours")
      for overlay in Theme.overlayNames {
        #expect(theme.overlays[overlay] != nil, "\(name) lacks overlay \(overlay)")
      }
    }
  }

  @Test func builtInCopiesEqualTheFiles() throws {
    // Run `bash tools/embed-themes.sh` after editing Themes/ if this fails.
    for name in shipped {
      let file = try String(contentsOfFile: "\(repositoryThemes)/\(name).json", encoding: .utf8)
      #expect(BuiltinThemes.files[name] == file.trimmingCharacters(in: .newlines), "\(name)")
    }
    #expect(Set(BuiltinThemes.files.keys) == Set(shipped))
  }

  @Test func colourBlindThemeUsesTheOkabeItoPalette() throws {
    let theme = try ThemeLibrary(directories: [repositoryThemes]).load("colorblind")
    let okabeIto: Set<Color> = [
      "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
    ].reduce(into: []) { $0.insert(Color(parsing: $1)!) }
    #expect(theme.classColors.allSatisfy { okabeIto.contains($0) })
  }

  @Test func environmentDirectoryComesFirst() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("themes-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var custom = BuiltinThemes.files["dark"]!.replacingOccurrences(
      of: "\"name\": \"dark\"", with: "\"name\": \"mine\"")
    custom = custom.replacingOccurrences(of: "\"#5fd75f\"", with: "\"#010203\"")
    try custom.write(to: dir.appendingPathComponent("dark.json"), atomically: true, encoding: .utf8)
    let library = ThemeLibrary.standard(environment: ["BLASTVIEW_THEMES": dir.path])
    let theme = try library.load("dark")
    #expect(theme.name == "mine")
    #expect(theme.classColors[0] == .rgb(1, 2, 3))
  }

  @Test func badThemesGiveErrorsNamingFileAndProblem() {
    func problem(_ json: String) -> String {
      do {
        _ = try Theme.parse(Data(json.utf8), source: "bad.json")
        return "parsed"
      } catch { return error.description }
    }
    #expect(problem("{").hasPrefix("theme bad.json: not valid JSON"))
    #expect(problem(#"{"name":"x","roles":{}}"#) == "theme bad.json: missing role \"text\"")
    let dark = BuiltinThemes.files["dark"]!
    #expect(
      problem(dark.replacingOccurrences(of: "\"#8a8a8a\"", with: "\"grey\"")).contains(
        "roles.dim.fg: expected a colour"))
    #expect(
      problem(dark.replacingOccurrences(of: "\"dim\":", with: "\"dimm\":")).contains("unknown role \"dimm\""))
    #expect(throws: ThemeError.self) { try ThemeLibrary(directories: []).load("../etc/passwd") }
    #expect(throws: ThemeError.self) { try ThemeLibrary(directories: [], useBuiltins: false).load("dark") }
  }

  @Test func classStyleResolvesToTheClassColourInBold() throws {
    let theme = try ThemeLibrary(directories: [repositoryThemes]).load("dark")
    let c = theme.resolve(Style(.classLabel(1)))
    #expect(c.foreground == theme.classColors[1])
    #expect(c.attributes.contains(.bold))
    #expect(theme.resolve(Style(.classLabel(theme.classColors.count))).foreground == theme.classColors[0])
    #expect(theme.resolve(Style(.text, foreground: .indexed(3))).foreground == .indexed(3))
  }
}

@Suite struct GraphicsBackendTests {
  @Test func autoPicksSixelOnlyWhenReportedAndNotInOldTmux() {
    let xterm = GraphicsEnvironment(sixel: true, colorRegisters: 256, colorTerm: "truecolor")
    #expect(GraphicsBackend.select(.auto, environment: xterm) == .sixel(colors: 64))
    var vt340 = xterm
    vt340.colorRegisters = 16
    #expect(GraphicsBackend.select(.auto, environment: vt340) == .sixel(colors: 16))
    let noSixel = GraphicsEnvironment(sixel: false, colorTerm: "truecolor")
    #expect(GraphicsBackend.select(.auto, environment: noSixel) == .halfBlocks(trueColor: true))
    let unknown = GraphicsEnvironment(sixel: nil)
    #expect(GraphicsBackend.select(.auto, environment: unknown) == .halfBlocks(trueColor: false))
    let oldTmux = GraphicsEnvironment(sixel: true, inTmux: true, tmuxVersion: "3.3a")
    #expect(GraphicsBackend.select(.auto, environment: oldTmux) == .halfBlocks(trueColor: false))
    let newTmux = GraphicsEnvironment(sixel: true, inTmux: true, tmuxVersion: "3.4")
    #expect(GraphicsBackend.select(.auto, environment: newTmux) == .sixel(colors: 64))
    let unknownTmux = GraphicsEnvironment(sixel: true, inTmux: true, tmuxVersion: nil)
    #expect(GraphicsBackend.select(.auto, environment: unknownTmux) == .halfBlocks(trueColor: false))
    #expect(
      GraphicsBackend.select(.auto, environment: GraphicsEnvironment(sixel: nil, colorTerm: "24bit"))
        == .halfBlocks(trueColor: true))
  }

  @Test func explicitModesAreObeyed() {
    let e = GraphicsEnvironment(sixel: false)
    #expect(GraphicsBackend.select(.sixel, environment: e) == .sixel(colors: 64))
    #expect(GraphicsBackend.select(.blocks, environment: e) == .halfBlocks(trueColor: false))
    #expect(GraphicsBackend.select(.none, environment: e) == .none)
  }

  @Test func modeComesFromFlagThenEnvironment() throws {
    #expect(
      try GraphicsChoice.resolve(flag: "blocks", environment: ["BLASTVIEW_GRAPHICS": "sixel"]) == .blocks)
    #expect(try GraphicsChoice.resolve(flag: nil, environment: ["BLASTVIEW_GRAPHICS": "none"]) == .none)
    #expect(try GraphicsChoice.resolve(flag: nil, environment: [:]) == .auto)
    #expect(throws: GraphicsModeError(source: "BLASTVIEW_GRAPHICS", value: "kitty")) {
      try GraphicsChoice.resolve(flag: nil, environment: ["BLASTVIEW_GRAPHICS": "kitty"])
    }
  }
}
