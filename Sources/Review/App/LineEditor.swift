import Terminal

/// A one-line text input (an adjudication's reason): a pure value that takes keys and pasted
/// text and says when the user is done. Emacs-style editing keys, as in a shell prompt:
/// ←/→ Ctrl-B/F move, Home/End Ctrl-A/E jump, Backspace and Del/Ctrl-D delete, Ctrl-W
/// deletes the word before the cursor, Ctrl-U everything before it and Ctrl-K everything
/// after. Typed and pasted text is sanitised (no control characters or escape sequences can
/// be stored, nor reach the screen when shown) and capped at `limit` characters.
public struct LineEditor: Equatable, Sendable {
  public enum Outcome: Equatable, Sendable {
    /// Still typing (the text or cursor may have changed).
    case editing
    /// Enter: done.
    case submitted
    /// Esc: leave without taking the edit (the caller decides what to keep).
    case cancelled
  }

  public private(set) var characters: [Character]
  /// Insertion point, 0...characters.count.
  public private(set) var cursor: Int
  public let limit: Int

  public init(_ text: String = "", limit: Int = 500) {
    self.limit = limit
    characters = Array(Sanitizer.sanitize(text).prefix(limit))
    cursor = characters.count
  }

  public var text: String { String(characters) }

  /// Applies a key.
  public mutating func handle(_ key: KeyPress) -> Outcome {
    let control = key.modifiers.contains(.control)
    switch key.key {
    case .enter: return .submitted
    case .escape: return .cancelled
    case .left: cursor = max(0, cursor - 1)
    case .right: cursor = min(characters.count, cursor + 1)
    case .home: cursor = 0
    case .end: cursor = characters.count
    case .backspace:
      if cursor > 0 {
        characters.remove(at: cursor - 1)
        cursor -= 1
      }
    case .delete:
      if cursor < characters.count { characters.remove(at: cursor) }
    case .character(let c) where control:
      switch c {
      case "a": cursor = 0
      case "e": cursor = characters.count
      case "b": cursor = max(0, cursor - 1)
      case "f": cursor = min(characters.count, cursor + 1)
      case "d": if cursor < characters.count { characters.remove(at: cursor) }
      case "h":
        if cursor > 0 {
          characters.remove(at: cursor - 1)
          cursor -= 1
        }
      case "u":
        characters.removeSubrange(0..<cursor)
        cursor = 0
      case "k": characters.removeSubrange(cursor..<characters.count)
      case "w":
        var start = cursor
        while start > 0 && characters[start - 1] == " " { start -= 1 }
        while start > 0 && characters[start - 1] != " " { start -= 1 }
        characters.removeSubrange(start..<cursor)
        cursor = start
      default: break
      }
    case .character(let c) where !key.modifiers.contains(.alt):
      insert(String(c))
    default: break
    }
    return .editing
  }

  /// Inserts pasted (or typed) text at the cursor, sanitised, up to the limit.
  public mutating func insert(_ text: String) {
    let clean = Array(Sanitizer.sanitize(text))
    let room = max(0, limit - characters.count)
    let taken = clean.prefix(room)
    characters.insert(contentsOf: taken, at: cursor)
    cursor += taken.count
  }

  /// What to draw in `width` cells: the part of the text around the cursor, and the cursor's
  /// column within it. The window scrolls so the cursor is always visible.
  public func visible(width: Int) -> (text: String, cursorColumn: Int) {
    guard width > 1 else { return ("", 0) }
    var widths = characters.map { TextWidth.of($0) }
    widths.append(1)  // the cursor cell after the end
    // Start as far left as possible such that the cursor cell fits.
    var start = 0
    var used = widths[0..<(cursor + 1)].reduce(0, +)
    while used > width && start < cursor {
      used -= widths[start]
      start += 1
    }
    var end = start
    var total = 0
    while end < characters.count && total + widths[end] <= width {
      total += widths[end]
      end += 1
    }
    let column = widths[start..<cursor].reduce(0, +)
    return (String(characters[start..<end]), column)
  }
}
