import CNcursesw
import CTerminalSupport
import Glibc

/// Why the full-screen UI cannot start.
public struct TerminalSessionError: Error, CustomStringConvertible, Equatable {
  public let message: String
  public var description: String { message }
}

/// The full-screen terminal, from start to a sane exit on every path (issue 7, "Leaving the
/// terminal sane"):
/// - `q` and other orderly ends call `end()`;
/// - Ctrl-C arrives as a key (raw mode), so the app quits through its own path;
/// - SIGTERM, SIGHUP, SIGINT, SIGQUIT from outside arrive as `.terminate` events, so the app
///   finishes what it was saving before `endAndReraise(_:)` restores the terminal and dies by
///   the same signal (a second such signal restores and dies at once);
/// - a Swift runtime error (a trap: SIGILL/SIGTRAP), a crash (SIGSEGV, SIGBUS, SIGFPE) or an
///   abort restores the terminal from the signal handler, then hands over to Swift's
///   backtracer or the default action; stderr is captured while the UI runs and replayed
///   after the restore, so the error message is readable.
/// Restoring uses only async-signal-safe calls (`CTerminalSupport`).
public final class TerminalSession {
  public private(set) var rows: Int
  public private(set) var columns: Int
  /// Cell size in pixels (probe, TIOCGWINSZ, else 10×20).
  public private(set) var cellWidth: Int
  public private(set) var cellHeight: Int
  public let renderer: CursesRenderer
  public private(set) var decoder: InputDecoder
  private let notifyRead: Int32
  private let notifyWrite: Int32
  private let wakeRead: Int32
  private let wakeWrite: Int32
  private let inputFD: Int32 = 0
  private let outputFD: Int32 = 1
  private var ended = false
  private let mouseSequence: [UInt8]

  /// Starts the UI: alternate screen, raw input, hidden cursor, mouse reporting, handlers.
  /// `cellSize` is the probe's answer (nil = unknown: TIOCGWINSZ, else 10×20).
  public init(
    theme: Theme, backend: GraphicsBackend, cellSize: (width: Int, height: Int)?, mousePixels: Bool,
    mouse: Bool = true, terminalBackground: TerminalBackground? = nil
  ) throws(TerminalSessionError) {
    guard isatty(0) == 1, isatty(1) == 1 else {
      throw TerminalSessionError(
        message:
          "the review screen needs a terminal on standard input and output (use --json commands in scripts)")
    }
    // ncursesw lays out wide characters by the process locale: make it UTF-8.
    setlocale(LC_ALL, "")
    let codeset = String(cString: nl_langinfo(nl_item(CODESET)))
    if codeset.uppercased().filter({ $0 != "-" }) != "UTF8" {
      setlocale(LC_CTYPE, "C.UTF-8")
    }

    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else {
      throw TerminalSessionError(message: "cannot create a pipe: \(String(cString: strerror(errno)))")
    }
    notifyRead = fds[0]
    notifyWrite = fds[1]
    guard pipe(&fds) == 0 else {
      throw TerminalSessionError(message: "cannot create a pipe: \(String(cString: strerror(errno)))")
    }
    wakeRead = fds[0]
    wakeWrite = fds[1]
    for fd in [notifyRead, notifyWrite, wakeRead, wakeWrite] {
      _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
      _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    // Save the original termios first, with a conservative restore sequence; terminfo's
    // own sequences replace it once curses has loaded them.
    let fallback = Escape.disableMouse + Array("\u{1B}[?2004l\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l".utf8)
    _ = fallback.withUnsafeBufferPointer { p in
      p.withMemoryRebound(to: CChar.self) { bv_restore_arm(1, $0.baseAddress, $0.count) }
    }
    bv_restore_install_handlers(notifyWrite)
    bv_winch_install(notifyWrite)

    guard initscr() != nil else {
      bv_restore_now()
      bv_restore_uninstall_handlers()
      throw TerminalSessionError(
        message:
          "ncurses could not start on TERM=\(Sanitizer.sanitize(getenv("TERM").map { String(cString: $0) } ?? ""))"
      )
    }
    var restore = Escape.disableMouse + Array("\u{1B}[?2004l".utf8)
    for cap in ["sgr0", "cnorm", "rmkx", "rmcup"] {
      if let s = bv_tigetstr(cap) { restore += Array(String(cString: s).utf8) }
    }
    restore.withUnsafeBufferPointer { p in
      p.withMemoryRebound(to: CChar.self) { bv_restore_update_sequence($0.baseAddress, $0.count) }
    }
    _ = bv_stderr_capture_begin()

    raw()
    noecho()
    nonl()
    keypad(bv_stdscr(), false)
    scrollok(bv_stdscr(), false)
    idlok(bv_stdscr(), false)
    // Curses must not shift lines: the images beside them would move (issue 18, item 9).
    _ = bv_curses_disable_scrolling()
    leaveok(bv_stdscr(), true)
    curs_set(0)
    if has_colors() {
      start_color()
      use_default_colors()
    }

    rows = Int(bv_lines())
    columns = Int(bv_cols())
    var r: Int32 = 0
    var c: Int32 = 0
    var pw: Int32 = 0
    var ph: Int32 = 0
    var cw = cellSize?.width ?? 0
    var ch = cellSize?.height ?? 0
    if cw <= 0 || ch <= 0, bv_window_size(1, &r, &c, &pw, &ph) == 0, pw > 0, ph > 0, r > 0, c > 0 {
      cw = Int(pw) / Int(c)
      ch = Int(ph) / Int(r)
    }
    cellWidth = cw > 0 ? cw : 10
    cellHeight = ch > 0 ? ch : 20
    decoder = InputDecoder(mousePixels: mouse && mousePixels, cellWidth: cellWidth, cellHeight: cellHeight)
    let painter = ImagePainter(backend: backend, cellWidth: cellWidth, cellHeight: cellHeight)
    renderer = CursesRenderer(
      theme: theme, painter: painter, outputFD: 1, terminalBackground: terminalBackground)
    mouseSequence = mouse ? Escape.enableMouse(pixels: mousePixels) + Array("\u{1B}[?2004h".utf8) : []
    writeRaw(mouseSequence)
  }

  deinit { end() }

  /// Wakes `nextEvents` from another thread (it then returns `.wake`): how background jobs
  /// tell the UI they have news. Safe from any thread.
  public func wake() {
    var byte: UInt8 = 1
    _ = write(wakeWrite, &byte, 1)
  }

  /// Waits up to `timeoutMilliseconds` (-1: forever) for input, a signal, a resize or a
  /// wake-up, and returns what arrived (possibly nothing, on timeout).
  public func nextEvents(timeoutMilliseconds: Int32) -> [InputEvent] {
    var fds = [
      pollfd(fd: inputFD, events: Int16(POLLIN), revents: 0),
      pollfd(fd: notifyRead, events: Int16(POLLIN), revents: 0),
      pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
    ]
    // A held-back ESC becomes the Escape key after 25 ms of quiet.
    let timeout = decoder.hasPending ? Int32(25) : timeoutMilliseconds
    let n = poll(&fds, 3, timeout)
    if n < 0 { return [] }
    if n == 0 { return decoder.hasPending ? decoder.flush() : [] }
    var events: [InputEvent] = []
    if fds[1].revents & Int16(POLLIN) != 0 {
      var buffer = [UInt8](repeating: 0, count: 64)
      let got = read(notifyRead, &buffer, buffer.count)
      for i in 0..<max(0, got) {
        let sig = Int32(buffer[i])
        if sig == SIGWINCH {
          if let e = handleResize() { events.append(e) }
        } else {
          events.append(.terminate(signal: sig))
        }
      }
    }
    if fds[2].revents & Int16(POLLIN) != 0 {
      var buffer = [UInt8](repeating: 0, count: 64)
      while read(wakeRead, &buffer, buffer.count) > 0 {}
      events.append(.wake)
    }
    if fds[0].revents & Int16(POLLIN) != 0 {
      var buffer = [UInt8](repeating: 0, count: 4096)
      let got = read(inputFD, &buffer, buffer.count)
      if got > 0 {
        events += decoder.feed(buffer[0..<got])
      } else if got == 0 || (errno != EINTR && errno != EAGAIN) {
        // The terminal is gone (hang-up): the same as SIGHUP.
        events.append(.terminate(signal: SIGHUP))
      }
    } else if fds[0].revents & Int16(POLLHUP | POLLERR) != 0 {
      events.append(.terminate(signal: SIGHUP))
    }
    return events
  }

  /// Draws a frame.
  public func render(_ frame: Frame) { renderer.render(frame) }

  private func handleResize() -> InputEvent? {
    var r: Int32 = 0
    var c: Int32 = 0
    var pw: Int32 = 0
    var ph: Int32 = 0
    guard bv_window_size(1, &r, &c, &pw, &ph) == 0, r > 0, c > 0 else { return nil }
    resizeterm(r, c)
    rows = Int(r)
    columns = Int(c)
    if pw > 0, ph > 0 {
      cellWidth = Int(pw) / Int(c)
      cellHeight = Int(ph) / Int(r)
      decoder.cellWidth = cellWidth
      decoder.cellHeight = cellHeight
    }
    renderer.painter.reconfigure(
      backend: renderer.painter.backend, cellWidth: cellWidth, cellHeight: cellHeight)
    renderer.invalidate()
    return .resize(rows: rows, columns: columns)
  }

  /// Changes the image backend (for example when the user toggles graphics off).
  public func setBackend(_ backend: GraphicsBackend) {
    renderer.painter.reconfigure(backend: backend, cellWidth: cellWidth, cellHeight: cellHeight)
    renderer.invalidate()
  }

  /// Leaves the full-screen UI and puts the terminal back as it was. Idempotent.
  public func end() {
    guard !ended else { return }
    ended = true
    writeRaw(Escape.disableMouse + Array("\u{1B}[?2004l".utf8))
    endwin()
    bv_restore_now()
    bv_restore_uninstall_handlers()
    for fd in [notifyRead, notifyWrite, wakeRead, wakeWrite] { close(fd) }
  }

  /// Ends the UI and dies by `signal`, after a `.terminate` event was handled (so a shell or
  /// supervisor sees the real cause).
  public func endAndReraise(_ signal: Int32) -> Never {
    end()
    bv_restore_and_reraise(signal)
    fatalError("unreachable: signal \(signal) did not end the process")
  }

  private func writeRaw(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { raw in
      var offset = 0
      while offset < raw.count {
        let n = write(outputFD, raw.baseAddress! + offset, raw.count - offset)
        if n <= 0 {
          if n < 0 && errno == EINTR { continue }
          return
        }
        offset += n
      }
    }
  }
}
