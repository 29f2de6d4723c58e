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
/// Every role must be present (`Theme.roleNames`); `classes` colour the label schema's
/// classes in order (cycling when a schema has more); `overlays` colour image overlays.
/// Class is never told by colour alone: views always print the class letter as well.
public struct Theme: Sendable, Equatable {
  public struct RoleColors: Sendable, Equatable {
    public var foreground: Color
    public var background: Color
    public var attributes: TextAttributes
  }

  public let name: String
  public let description: String
  public let roles: [String: RoleColors]
  public let classColors: [Color]
  public let overlays: [String: Color]

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
    return Theme(
      name: name, description: (top["description"] as? String) ?? "", roles: roles,
      classColors: classes, overlays: overlays)
  }

  /// Loads the theme called `name` (see `ThemeLibrary`).
  public static func named(_ name: String, library: ThemeLibrary = .standard()) throws(ThemeError) -> Theme {
    try library.load(name)
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
/// 2. a `Themes/` directory beside the executable or in one of its parent directories (a
///    source checkout: `.build/release/blastview` → `Themes/`), or `../share/blastview/Themes`
///    for an installed binary;
/// 3. the copies of the four shipped themes built into the binary (`BuiltinThemes`, kept
///    identical to `Themes/` by a test), so a binary copied anywhere still has its themes.
///
/// Files are `<name>.json`. SwiftPM resources were considered instead of step 3 and rejected:
/// on Linux `Bundle.module` stops the program if the resource bundle is not beside the binary.
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
    let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    dirs.append(dir.appendingPathComponent("../share/blastview/Themes").standardized.path)
    for _ in 0..<6 {
      dirs.append(dir.appendingPathComponent("Themes").path)
      dir = dir.deletingLastPathComponent()
    }
    return ThemeLibrary(directories: dirs)
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
