/// Turns the bytes a terminal sends into key, mouse and paste events: a pure state machine,
/// fed whatever `read` returned, so it is tested byte by byte without a terminal.
///
/// It understands what xterm, tmux, VTE, kitty and the Linux console send: CSI and SS3 cursor
/// and editing keys with xterm modifier parameters, function keys, Alt as an ESC prefix,
/// control characters as Ctrl-letters, UTF-8 text, bracketed paste, and SGR mouse reports
/// (mode 1006, and 1016 where the coordinates are pixels). A lone ESC is ambiguous until the
/// bytes that might follow it do not come: the event loop calls `flush()` when the input has
/// been quiet for a moment (25 ms), which turns a pending ESC into the Escape key.
public struct InputDecoder: Sendable {
  /// True when mouse mode 1016 is on: reports then carry pixel coordinates.
  public var mousePixels: Bool
  /// Cell size in pixels, to convert pixel reports to cells.
  public var cellWidth: Int
  public var cellHeight: Int

  private var buffer: [UInt8] = []
  private var paste: [UInt8]? = nil

  public init(mousePixels: Bool = false, cellWidth: Int = 10, cellHeight: Int = 20) {
    self.mousePixels = mousePixels
    self.cellWidth = max(1, cellWidth)
    self.cellHeight = max(1, cellHeight)
  }

  /// True when bytes are held back waiting for the rest of a sequence.
  public var hasPending: Bool { !buffer.isEmpty }

  /// Decodes what it can of `bytes` (plus anything held back).
  public mutating func feed(_ bytes: some Sequence<UInt8>) -> [InputEvent] {
    buffer.append(contentsOf: bytes)
    return decode(final: false)
  }

  /// The input went quiet: whatever is held back is taken as complete (a lone ESC is the
  /// Escape key, a cut-off sequence its parts).
  public mutating func flush() -> [InputEvent] { decode(final: true) }

  private enum Step {
    case event(InputEvent?, consumed: Int)
    case incomplete
  }

  private mutating func decode(final: Bool) -> [InputEvent] {
    var events: [InputEvent] = []
    var start = 0
    while start < buffer.count {
      if paste != nil {
        // Inside bracketed paste: everything up to ESC [ 2 0 1 ~ is text.
        let end: [UInt8] = [0x1B, 0x5B, 0x32, 0x30, 0x31, 0x7E]
        if let i = find(end, from: start) {
          paste!.append(contentsOf: buffer[start..<i])
          events.append(.paste(String(decoding: paste!, as: UTF8.self)))
          paste = nil
          start = i + end.count
          continue
        }
        // Keep a possible partial terminator back.
        let keep = min(end.count - 1, buffer.count - start)
        paste!.append(contentsOf: buffer[start..<(buffer.count - keep)])
        start = buffer.count - keep
        if final {
          paste!.append(contentsOf: buffer[start...])
          start = buffer.count
        }
        break
      }
      let pasteStart: [UInt8] = [0x1B, 0x5B, 0x32, 0x30, 0x30, 0x7E]
      if buffer.count - start >= pasteStart.count,
        Array(buffer[start..<start + pasteStart.count]) == pasteStart
      {
        paste = []
        start += pasteStart.count
        continue
      }
      switch step(at: start, final: final) {
      case .incomplete:
        buffer.removeFirst(start)
        return events
      case .event(let e, let n):
        if let e { events.append(e) }
        start += n
      }
    }
    buffer.removeFirst(start)
    return events
  }

  private func find(_ needle: [UInt8], from: Int) -> Int? {
    guard buffer.count - from >= needle.count else { return nil }
    var i = from
    while i + needle.count <= buffer.count {
      if buffer[i] == needle[0] && Array(buffer[i..<i + needle.count]) == needle { return i }
      i += 1
    }
    return nil
  }

  private mutating func step(at i: Int, final: Bool) -> Step {
    let b = buffer[i]
    if b != 0x1B { return plain(at: i, modifiers: [], final: final) }
    guard i + 1 < buffer.count else {
      return final ? .event(.key(KeyPress(.escape)), consumed: 1) : .incomplete
    }
    let next = buffer[i + 1]
    switch next {
    case 0x5B:  // CSI
      return csi(at: i, final: final)
    case 0x4F:  // SS3
      guard i + 2 < buffer.count else {
        return final ? .event(.key(KeyPress("O", .alt)), consumed: 2) : .incomplete
      }
      let key: Key?
      switch buffer[i + 2] {
      case 0x41: key = .up
      case 0x42: key = .down
      case 0x43: key = .right
      case 0x44: key = .left
      case 0x48: key = .home
      case 0x46: key = .end
      case 0x4D: key = .enter
      case 0x50: key = .function(1)
      case 0x51: key = .function(2)
      case 0x52: key = .function(3)
      case 0x53: key = .function(4)
      default: key = nil
      }
      return .event(key.map { .key(KeyPress($0)) }, consumed: 3)
    case 0x1B:
      return .event(.key(KeyPress(.escape)), consumed: 1)
    default:
      // Alt + key: ESC then the key's own bytes.
      switch plain(at: i + 1, modifiers: .alt, final: final) {
      case .incomplete: return .incomplete
      case .event(let e, let n): return .event(e, consumed: n + 1)
      }
    }
  }

  /// One key from a byte that does not start an escape sequence.
  private func plain(at i: Int, modifiers: Modifiers, final: Bool) -> Step {
    let b = buffer[i]
    func key(_ k: Key, _ extra: Modifiers = []) -> Step {
      .event(.key(KeyPress(k, modifiers.union(extra))), consumed: 1)
    }
    switch b {
    case 0x0D, 0x0A: return key(.enter)
    case 0x09: return key(.tab)
    case 0x7F, 0x08: return key(.backspace)
    case 0x00: return key(.character(" "), .control)
    case 0x01...0x1A: return key(.character(Character(Unicode.Scalar(b + 0x60))), .control)
    case 0x1C...0x1F: return key(.character(Character(Unicode.Scalar(b + 0x40))), .control)
    case 0x1B: return key(.escape)
    case 0x20..<0x7F: return key(.character(Character(Unicode.Scalar(b))))
    default:
      // UTF-8: the lead byte gives the length.
      let length: Int
      switch b {
      case 0xC2...0xDF: length = 2
      case 0xE0...0xEF: length = 3
      case 0xF0...0xF4: length = 4
      default: return .event(.key(KeyPress(.character("\u{FFFD}"), modifiers)), consumed: 1)
      }
      guard i + length <= buffer.count else {
        if final {
          return .event(.key(KeyPress(.character("\u{FFFD}"), modifiers)), consumed: buffer.count - i)
        }
        return .incomplete
      }
      let text = String(decoding: buffer[i..<i + length], as: UTF8.self)
      let c = text.first ?? "\u{FFFD}"
      return .event(.key(KeyPress(.character(c), modifiers)), consumed: length)
    }
  }

  /// ESC [ parameters intermediates final.
  private func csi(at i: Int, final: Bool) -> Step {
    var j = i + 2
    while j < buffer.count, (0x30...0x3F).contains(buffer[j]) { j += 1 }
    while j < buffer.count, (0x20...0x2F).contains(buffer[j]) { j += 1 }
    guard j < buffer.count else {
      return final ? .event(.key(KeyPress("[", .alt)), consumed: 2) : .incomplete
    }
    let finalByte = buffer[j]
    guard (0x40...0x7E).contains(finalByte) else {
      // Not a well-formed sequence: take ESC [ as Alt-[ and go on from there.
      return .event(.key(KeyPress("[", .alt)), consumed: 2)
    }
    let consumed = j - i + 1
    let parameterText = String(decoding: buffer[(i + 2)..<j], as: UTF8.self)
    if parameterText.hasPrefix("<"), finalByte == 0x4D || finalByte == 0x6D {
      return .event(mouse(String(parameterText.dropFirst()), release: finalByte == 0x6D), consumed: consumed)
    }
    let parameters = parameterText.split(separator: ";", omittingEmptySubsequences: false).map {
      Int($0.split(separator: ":").first ?? "") ?? 0
    }
    let modifiers = Modifiers(xtermParameter: parameters.count > 1 ? parameters[1] : 1)
    func key(_ k: Key, _ m: Modifiers = modifiers) -> Step {
      .event(.key(KeyPress(k, m)), consumed: consumed)
    }
    switch finalByte {
    case 0x41: return key(.up)
    case 0x42: return key(.down)
    case 0x43: return key(.right)
    case 0x44: return key(.left)
    case 0x48: return key(.home)
    case 0x46: return key(.end)
    case 0x5A: return key(.tab, modifiers.union(.shift))
    case 0x50: return key(.function(1))
    case 0x51: return key(.function(2))
    case 0x52: return key(.function(3))
    case 0x53: return key(.function(4))
    case 0x7E:
      switch parameters.first ?? 0 {
      case 1, 7: return key(.home)
      case 4, 8: return key(.end)
      case 2: return key(.insert)
      case 3: return key(.delete)
      case 5: return key(.pageUp)
      case 6: return key(.pageDown)
      case 11...15: return key(.function(parameters[0] - 10))
      case 17...21: return key(.function(parameters[0] - 11))
      case 23, 24: return key(.function(parameters[0] - 12))
      default: return .event(nil, consumed: consumed)
      }
    default:
      return .event(nil, consumed: consumed)  // focus reports, replies we did not ask for
    }
  }

  /// SGR mouse report body `b;x;y` (after `<`).
  private func mouse(_ body: String, release: Bool) -> InputEvent? {
    let fields = body.split(separator: ";").map { Int($0) }
    guard fields.count == 3, let b = fields[0], let x = fields[1], let y = fields[2] else { return nil }
    var modifiers: Modifiers = []
    if b & 4 != 0 { modifiers.insert(.shift) }
    if b & 8 != 0 { modifiers.insert(.alt) }
    if b & 16 != 0 { modifiers.insert(.control) }
    let buttonBits = b & 3
    let kind: MouseEvent.Kind
    var button: MouseEvent.Button
    switch buttonBits {
    case 0: button = .left
    case 1: button = .middle
    case 2: button = .right
    default: button = .none
    }
    if b & 64 != 0 {
      guard buttonBits <= 1 else { return nil }  // horizontal wheel: not used
      kind = buttonBits == 0 ? .wheelUp : .wheelDown
      button = .none
    } else if b & 32 != 0 {
      kind = button == .none ? .move : .drag
    } else {
      kind = release ? .release : .press
    }
    if mousePixels {
      let px = max(0, x - 1)
      let py = max(0, y - 1)
      return .mouse(
        MouseEvent(
          kind: kind, button: button, row: py / cellHeight, column: px / cellWidth, pixelX: px, pixelY: py,
          modifiers: modifiers))
    }
    return .mouse(
      MouseEvent(kind: kind, button: button, row: max(0, y - 1), column: max(0, x - 1), modifiers: modifiers))
  }
}
