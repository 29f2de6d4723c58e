/// Modifier keys held with a key or mouse event.
public struct Modifiers: OptionSet, Hashable, Sendable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }
  public static let shift = Modifiers(rawValue: 1)
  public static let alt = Modifiers(rawValue: 2)
  public static let control = Modifiers(rawValue: 4)

  /// From the xterm modifier parameter (1 + shift + 2·alt + 4·ctrl).
  init(xtermParameter p: Int) {
    let bits = max(0, p - 1)
    var m: Modifiers = []
    if bits & 1 != 0 { m.insert(.shift) }
    if bits & 2 != 0 { m.insert(.alt) }
    if bits & 4 != 0 { m.insert(.control) }
    self = m
  }
}

/// A key, independent of how the terminal encoded it.
public enum Key: Hashable, Sendable {
  /// A printable character; Ctrl-letter arrives as the letter with `.control`.
  case character(Character)
  case up, down, left, right
  case pageUp, pageDown, home, end
  case insert, delete
  case enter, escape, tab, backspace
  case function(Int)
}

/// A key with its modifiers. `KeyPress("r", .control)` is Ctrl-R.
public struct KeyPress: Hashable, Sendable, CustomStringConvertible {
  public var key: Key
  public var modifiers: Modifiers

  public init(_ key: Key, _ modifiers: Modifiers = []) {
    self.key = key
    self.modifiers = modifiers
  }

  public init(_ character: Character, _ modifiers: Modifiers = []) {
    self.init(.character(character), modifiers)
  }

  /// How help screens write the key: `Ctrl-R`, `Shift-←`, `PgDn`, `q`.
  public var description: String {
    var prefix = ""
    if modifiers.contains(.control) { prefix += "Ctrl-" }
    if modifiers.contains(.alt) { prefix += "Alt-" }
    if modifiers.contains(.shift) { prefix += "Shift-" }
    let name: String
    switch key {
    case .character(" "): name = "Space"
    case .character(let c): name = modifiers.contains(.control) ? String(c).uppercased() : String(c)
    case .up: name = "↑"
    case .down: name = "↓"
    case .left: name = "←"
    case .right: name = "→"
    case .pageUp: name = "PgUp"
    case .pageDown: name = "PgDn"
    case .home: name = "Home"
    case .end: name = "End"
    case .insert: name = "Ins"
    case .delete: name = "Del"
    case .enter: name = "Enter"
    case .escape: name = "Esc"
    case .tab: name = "Tab"
    case .backspace: name = "Backspace"
    case .function(let n): name = "F\(n)"
    }
    return prefix + name
  }
}

/// A mouse report (SGR 1006, or 1016 with pixel coordinates).
public struct MouseEvent: Hashable, Sendable {
  public enum Kind: Hashable, Sendable {
    case press, release, drag, move, wheelUp, wheelDown
  }
  public enum Button: Hashable, Sendable {
    case left, middle, right, none
  }

  public var kind: Kind
  public var button: Button
  /// The cell, 0-based.
  public var row: Int
  public var column: Int
  /// The pixel within the window, 0-based, when the terminal reported pixels (mode 1016).
  public var pixelX: Int?
  public var pixelY: Int?
  public var modifiers: Modifiers

  public init(
    kind: Kind, button: Button, row: Int, column: Int, pixelX: Int? = nil, pixelY: Int? = nil,
    modifiers: Modifiers = []
  ) {
    self.kind = kind
    self.button = button
    self.row = row
    self.column = column
    self.pixelX = pixelX
    self.pixelY = pixelY
    self.modifiers = modifiers
  }
}

/// Everything that reaches the app from the terminal.
public enum InputEvent: Hashable, Sendable {
  case key(KeyPress)
  case mouse(MouseEvent)
  /// Text pasted with bracketed paste, unfiltered: sanitise before showing it.
  case paste(String)
  /// The window changed size (SIGWINCH); the session has already told curses.
  case resize(rows: Int, columns: Int)
  /// A graceful termination signal (SIGTERM, SIGHUP, SIGINT, SIGQUIT) arrived: save, then
  /// end the session, which re-raises it.
  case terminate(signal: Int32)
  /// Another thread called `TerminalSession.wake()` (a background job has news).
  case wake
}
