import Foundation

/// Colours and attributes for every `Role`, loaded from a data file in `Themes/` (DESIGN §6).
///
/// A theme file is JSON:
/// ```json
/// { "name": "dark", "description": "…",
///   "roles": { "text": { "fg": "default", "bg": "default" },
///              "header": { "fg": "#000000", "bg": "#87afd7", "bold": true }, … },
///   "classes": ["#009e73", "#e69f00", "#56b4e9", "#d55e00"],
///   "overlays": { "modelMask": "#00d7ff", "myMask": "#ffd700", … } }
/// ```
/// Colours are `#rrggbb`, `default` (the terminal's own) or `ansi:N` (an indexed colour).
/// `canvas` (`{ "fg": "#rrggbb", "bg": "#rrggbb" }`) is the text and background the theme is
/// designed on: "default" colours are drawn as the canvas whenever the terminal's own
/// background is unknown or of the other polarity (`ColourMapping`), and the canvas decides
/// whether the theme is a dark or a light one. Without it, the `text` role's colours when
/// explicit, else white on black.
/// Every role must be present (`Theme.roleNames`); `classes` colour the label schema's
/// classes in order (cycling when a schema has more); `overlays` colour image overlays.
/// Class is never told by colour alone: views always print the class letter as well.
public struct Theme: Sendable, Equatable {
  public struct RoleColors: Sendable, Hashable {
    public var foreground: Color
    public var background: Color
    public var attributes: TextAttributes
  }

  public let name: String
  public let description: String
  public let roles: [String: RoleColors]
  public let classColors: [Color]
  public let overlays: [String: Color]
  /// The colours "default" stands for when the terminal's own cannot be trusted.
  public let canvas: (foreground: RGB, background: RGB)

  /// Dark or light, by the canvas.
  public var polarity: Polarity { Polarity(background: canvas.background) }

  public static func == (a: Theme, b: Theme) -> Bool {
    a.name == b.name && a.description == b.description && a.roles == b.roles
      && a.classColors == b.classColors && a.overlays == b.overlays && a.canvas == b.canvas
  }

  public init(
    name: String, description: String, roles: [String: RoleColors], classColors: [Color],
    overlays: [String: Color], canvas: (foreground: RGB, background: RGB)
  ) {
    self.name = name
    self.description = description
    self.roles = roles
    self.classColors = classColors
    self.overlays = overlays
    self.canvas = canvas
  }

  /// The role names a theme file must define, in the order documentation lists them.
  public static let roleNames = [
    "text", "dim", "title", "header", "border", "selection", "cursor", "status", "statusError",
    "statusOK", "warning", "accent", "flag", "barEmpty",
  ]

  /// The overlay names views use; a theme should define each.
  public static let overlayNames = ["modelMask", "myMask", "otherMask", "boxes", "brush"]

  static func roleName(_ role: Role) -> String {
    switch role {
    case .text: return "text"
    case .dim: return "dim"
    case .title: return "title"
    case .header: return "header"
    case .border: return "border"
    case .selection: return "selection"
    case .cursor: return "cursor"
    case .status: return "status"
    case .statusError: return "statusError"
    case .statusOK: return "statusOK"
    case .warning: return "warning"
    case .accent: return "accent"
    case .flag: return "flag"
    case .barEmpty: return "barEmpty"
    case .classLabel: return "text"
    }
  }

  /// The colours and attributes a cell of `style` is drawn with.
  public func resolve(_ style: Style) -> RoleColors {
    var colours: RoleColors
    let base =
      roles["text"] ?? RoleColors(foreground: .terminalDefault, background: .terminalDefault, attributes: [])
    if case .classLabel(let n) = style.role {
      colours = base
      if !classColors.isEmpty {
        colours.foreground = classColors[((n % classColors.count) + classColors.count) % classColors.count]
      }
      colours.attributes.insert(.bold)
    } else {
      colours = roles[Theme.roleName(style.role)] ?? base
    }
    if let fg = style.foreground { colours.foreground = fg }
    if let bg = style.background { colours.background = bg }
    colours.attributes.formUnion(style.attributes)
    return colours
  }

  /// The colour of class `n`, for bars and swatches drawn as images.
  public func classColor(_ n: Int) -> Color {
    classColors.isEmpty
      ? .terminalDefault : classColors[((n % classColors.count) + classColors.count) % classColors.count]
  }

  /// An overlay colour as RGB (for blending into images); a grey if the theme lacks it.
  public func overlayRGB(_ name: String) -> (UInt8, UInt8, UInt8) {
    if case .rgb(let r, let g, let b) = overlays[name] ?? .terminalDefault { return (r, g, b) }
    return (200, 200, 200)
  }

  // MARK: Loading

  /// Parses a theme file's contents; `source` names the file in errors.
  public static func parse(_ data: Data, source: String) throws(ThemeError) -> Theme {
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: data)
    } catch {
      throw ThemeError(source: source, problem: "not valid JSON (\(error.localizedDescription))")
    }
    guard let top = object as? [String: Any] else {
      throw ThemeError(source: source, problem: "the top level must be an object")
    }
    guard let name = top["name"] as? String, !name.isEmpty else {
      throw ThemeError(source: source, problem: "missing \"name\"")
    }
    func colour(_ value: Any?, _ path: String) throws(ThemeError) -> Color {
      guard let text = value as? String, let c = Color(parsing: text) else {
        throw ThemeError(
          source: source,
          problem:
            "\(path): expected a colour (#rrggbb, default or ansi:N), found \(String(describing: value ?? "nothing"))"
        )
      }
      return c
    }
    guard let roleObject = top["roles"] as? [String: Any] else {
      throw ThemeError(source: source, problem: "missing \"roles\" object")
    }
    var roles: [String: RoleColors] = [:]
    for (key, value) in roleObject {
      guard roleNames.contains(key) else {
        throw ThemeError(
          source: source, problem: "unknown role \"\(key)\" (known: \(roleNames.joined(separator: ", ")))")
      }
      guard let spec = value as? [String: Any] else {
        throw ThemeError(source: source, problem: "roles.\(key) must be an object")
      }
      var attributes: TextAttributes = []
      for (flag, attribute) in [
        ("bold", TextAttributes.bold), ("dim", .dim), ("underline", .underline), ("reverse", .reverse),
      ]
      where (spec[flag] as? Bool) == true {
        attributes.insert(attribute)
      }
      roles[key] = RoleColors(
        foreground: try colour(spec["fg"] ?? "default", "roles.\(key).fg"),
        background: try colour(spec["bg"] ?? "default", "roles.\(key).bg"),
        attributes: attributes)
    }
    if let missing = roleNames.first(where: { roles[$0] == nil }) {
      throw ThemeError(source: source, problem: "missing role \"\(missing)\"")
    }
    guard let classList = top["classes"] as? [Any], !classList.isEmpty else {
      throw ThemeError(source: source, problem: "\"classes\" must be a non-empty list of colours")
    }
    var classes: [Color] = []
    for (i, value) in classList.enumerated() { classes.append(try colour(value, "classes[\(i)]")) }
    var overlays: [String: Color] = [:]
    for (key, value) in (top["overlays"] as? [String: Any]) ?? [:] {
      overlays[key] = try colour(value, "overlays.\(key)")
    }
    var canvas = (foreground: RGB.white, background: RGB.black)
    if let spec = top["canvas"] {
      guard let object = spec as? [String: Any] else {
        throw ThemeError(source: source, problem: "\"canvas\" must be an object with \"fg\" and \"bg\"")
      }
      func rgb(_ key: String) throws(ThemeError) -> RGB {
        guard case .rgb(let r, let g, let b) = try colour(object[key], "canvas.\(key)") else {
          throw ThemeError(source: source, problem: "canvas.\(key) must be a #rrggbb colour")
        }
        return RGB(r, g, b)
      }
      canvas = (try rgb("fg"), try rgb("bg"))
    } else if let text = roles["text"], case .rgb(let fr, let fg, let fb) = text.foreground,
      case .rgb(let br, let bg, let bb) = text.background
    {
      canvas = (RGB(fr, fg, fb), RGB(br, bg, bb))
    }
    return Theme(
      name: name, description: (top["description"] as? String) ?? "", roles: roles,
      classColors: classes, overlays: overlays, canvas: canvas)
  }

  /// Loads the theme called `name` (see `ThemeLibrary`).
  public static func named(_ name: String, library: ThemeLibrary = .standard()) throws(ThemeError) -> Theme {
    try library.load(name)
  }

  /// The theme `--theme auto` picks: "light" on a light terminal, else "dark" (also when the
  /// background is unknown; its canvas is then painted, see `ColourMapping`).
  public static func automaticName(for background: TerminalBackground?) -> String {
    background?.polarity == .light ? "light" : "dark"
  }

  /// Loads `name`, where "auto" means the theme for the terminal's background.
  public static func named(
    _ name: String, background: TerminalBackground?, library: ThemeLibrary = .standard()
  ) throws(ThemeError) -> Theme {
    try library.load(name == "auto" ? automaticName(for: background) : name)
  }

  /// The default theme, from the library or, failing that, the built-in copy.
  public static var dark: Theme {
    (try? ThemeLibrary.standard().load("dark"))
      ?? (try! parse(Data(BuiltinThemes.files["dark"]!.utf8), source: "built-in dark"))
  }
}

/// A theme file that cannot be used: names the file and what is wrong.
public struct ThemeError: Error, CustomStringConvertible, Equatable {
  public let source: String
  public let problem: String
  public var description: String { "theme \(source): \(problem)" }
}

/// Where themes are found, in order:
/// 1. the directory in `$BLASTVIEW_THEMES`, if set;
/// 2. `Themes/` in `$BLASTVIEW_SHARE`, if set;
/// 3. `../share/blastview/Themes` beside the executable (an installed binary, see
///    `make install`), or a `Themes/` directory in one of the executable's parent directories
///    (a source checkout: `.build/release/blastview` → `Themes/`);
/// 4. the copies of the four shipped themes built into the binary (`BuiltinThemes`, kept
///    identical to `Themes/` by a test), so a binary copied anywhere still has its themes.
///
/// The executable is found through `/proc/self/exe` (a command run from `$PATH` has a bare
/// name in `argv[0]`), with symbolic links resolved. Files are `<name>.json`. SwiftPM
/// resources were considered instead of step 4 and rejected: on Linux `Bundle.module` stops
/// the program if the resource bundle is not beside the binary.
public struct ThemeLibrary: Sendable {
  public var directories: [String]
  public var useBuiltins: Bool

  public init(directories: [String], useBuiltins: Bool = true) {
    self.directories = directories
    self.useBuiltins = useBuiltins
  }

  /// The search path described above, for this process.
  public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment)
    -> ThemeLibrary
  {
    var dirs: [String] = []
    if let env = environment["BLASTVIEW_THEMES"], !env.isEmpty { dirs.append(env) }
    if let share = environment["BLASTVIEW_SHARE"], !share.isEmpty {
      dirs.append((share as NSString).appendingPathComponent("Themes"))
    }
    let exe = URL(fileURLWithPath: executablePath())
    var dir = exe.deletingLastPathComponent()
    dirs.append(dir.appendingPathComponent("../share/blastview/Themes").standardized.path)
    for _ in 0..<6 {
      dirs.append(dir.appendingPathComponent("Themes").path)
      dir = dir.deletingLastPathComponent()
    }
    return ThemeLibrary(directories: dirs)
  }

  /// The running executable, symbolic links resolved (`CaseStore.ShippedFiles` does the same
  /// for models; the two modules do not depend on each other).
  static func executablePath() -> String {
    if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
      return URL(fileURLWithPath: target).resolvingSymlinksInPath().path
    }
    return URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().path
  }

  /// The directory the theme came from, or nil for a built-in copy.
  public func directory(of name: String) -> String? {
    directories.first {
      FileManager.default.isReadableFile(atPath: ($0 as NSString).appendingPathComponent(name + ".json"))
    }
  }

  /// Names of every theme available, sorted.
  public func available() -> [String] {
    var names = Set<String>()
    for dir in directories {
      let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
      for f in files where f.hasSuffix(".json") { names.insert(String(f.dropLast(5))) }
    }
    if useBuiltins { names.formUnion(BuiltinThemes.files.keys) }
    return names.sorted()
  }

  /// Loads theme `name`: the first file found on the path, else a built-in copy.
  public func load(_ name: String) throws(ThemeError) -> Theme {
    guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
      throw ThemeError(
        source: Sanitizer.sanitize(name), problem: "not a theme name (letters, digits, - and _)")
    }
    for dir in directories {
      let path = (dir as NSString).appendingPathComponent(name + ".json")
      if let data = FileManager.default.contents(atPath: path) {
        return try Theme.parse(data, source: path)
      }
    }
    if useBuiltins, let text = BuiltinThemes.files[name] {
      return try Theme.parse(Data(text.utf8), source: "built-in \(name)")
    }
    throw ThemeError(
      source: name, problem: "no such theme (available: \(available().joined(separator: ", ")))")
  }
}
