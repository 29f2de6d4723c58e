#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What the terminal BlastView runs in can do, as far as we can tell without drawing.
///
/// Filled by `TerminalProbe.run`. Optionals are nil when the answer is unknown (not a
/// terminal, no answer in time, or the kernel reported 0), never guessed.
public struct TerminalCapabilities: Sendable, Codable, Equatable {
  /// `$TERM` and `$COLORTERM` as set.
  public var term: String?
  public var colorTerm: String?
  /// `$TMUX` is set; tmux answers queries itself and drops sixel before 3.4 (DESIGN §8).
  public var inTmux: Bool
  /// e.g. "3.3a", from `$TERM_PROGRAM_VERSION` (the server's) or else `tmux -V`.
  public var tmuxVersion: String?
  /// `$SSH_CONNECTION`, `$SSH_CLIENT` or `$SSH_TTY` is set.
  public var overSSH: Bool
  /// Standard output is a terminal.
  public var isTTY: Bool
  /// The primary device attributes include 4 (sixel graphics); nil = not asked or no answer.
  public var sixel: Bool?
  /// The parameters of the terminal's answer to `CSI c`, e.g. [63, 1, 2, 4, 6, 9].
  public var deviceAttributes: [Int]?
  /// Character cell size in pixels from TIOCGWINSZ; nil when the kernel reports 0.
  public var cellWidthPx: Int?
  public var cellHeightPx: Int?
  /// Terminal size in cells.
  public var columns: Int?
  public var rows: Int?
  /// Sixel colour registers, from XTSMGRAPHICS (`CSI ? 1 ; 1 ; 0 S`); nil = no answer.
  public var colorRegisters: Int? = nil
  /// Where the cell size came from: "kernel" (TIOCGWINSZ), "terminal" (`CSI 16 t`), or nil.
  public var cellSizeSource: String? = nil
  /// The terminal recognises SGR pixel mouse mode 1016 (DECRQM); nil = no answer.
  public var mousePixels: Bool? = nil
  /// The default background colour, "#rrggbb", from the terminal's answer to OSC 11; nil =
  /// no answer (then `$COLORFGBG` may tell, see `TerminalBackground`).
  public var background: String? = nil

  /// `background` as a colour.
  public var backgroundColour: RGB? {
    guard let b = background, let c = Color(parsing: b), case .rgb(let r, let g, let bl) = c else {
      return nil
    }
    return RGB(r, g, bl)
  }

  /// The cell size to lay images out with: the measured one, else 10 × 20 pixels (the
  /// issue's default for terminals that report neither TIOCGWINSZ pixels nor `CSI 16 t`).
  public var effectiveCellSize: (width: Int, height: Int) {
    if let w = cellWidthPx, let h = cellHeightPx, w > 0, h > 0 { return (w, h) }
    return (10, 20)
  }

  public init(
    term: String? = nil, colorTerm: String? = nil, inTmux: Bool = false,
    tmuxVersion: String? = nil, overSSH: Bool = false, isTTY: Bool = false,
    sixel: Bool? = nil, deviceAttributes: [Int]? = nil, cellWidthPx: Int? = nil,
    cellHeightPx: Int? = nil, columns: Int? = nil, rows: Int? = nil
  ) {
    self.term = term
    self.colorTerm = colorTerm
    self.inTmux = inTmux
    self.tmuxVersion = tmuxVersion
    self.overSSH = overSSH
    self.isTTY = isTTY
    self.sixel = sixel
    self.deviceAttributes = deviceAttributes
    self.cellWidthPx = cellWidthPx
    self.cellHeightPx = cellHeightPx
    self.columns = columns
    self.rows = rows
  }

  /// Unknown values are written as JSON `null` (not left out), so scripts reading
  /// `blastview doctor --json` always find every key.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(term, forKey: .term)
    try c.encode(colorTerm, forKey: .colorTerm)
    try c.encode(inTmux, forKey: .inTmux)
    try c.encode(tmuxVersion, forKey: .tmuxVersion)
    try c.encode(overSSH, forKey: .overSSH)
    try c.encode(isTTY, forKey: .isTTY)
    try c.encode(sixel, forKey: .sixel)
    try c.encode(deviceAttributes, forKey: .deviceAttributes)
    try c.encode(cellWidthPx, forKey: .cellWidthPx)
    try c.encode(cellHeightPx, forKey: .cellHeightPx)
    try c.encode(columns, forKey: .columns)
    try c.encode(rows, forKey: .rows)
    try c.encode(colorRegisters, forKey: .colorRegisters)
    try c.encode(cellSizeSource, forKey: .cellSizeSource)
    try c.encode(mousePixels, forKey: .mousePixels)
    try c.encode(background, forKey: .background)
  }
}

/// Detects terminal capabilities: environment, window size, and five queries sent at once:
/// XTSMGRAPHICS for the number of sixel colour registers, `CSI 16 t` for the cell size when
/// the kernel does not know it, DECRQM for mouse mode 1016, OSC 11 for the default background
/// colour (to pick a dark or light theme), and last the primary device
/// attributes (`CSI c`), whose attribute 4 means sixel graphics. Terminals answer in order
/// and every terminal answers `CSI c`, so its reply marks the end: queries a terminal does
/// not understand cost nothing more than their silence.
///
/// The query is only sent when standard output is a terminal, `$TERM` is set and not
/// "dumb", and we are the terminal's foreground process (a background process that
/// touched the terminal's modes would be stopped by SIGTTOU). It talks to `/dev/tty`, not
/// stdin/stdout, so redirections do not matter; it reads with `poll` under a total
/// deadline, so a terminal that never answers costs at most `timeoutMilliseconds`; and the
/// terminal's modes are restored on every path.
public enum TerminalProbe {
  /// Probes the process's terminal and environment.
  /// - Parameter environment: variables to use instead of the process's (for tests).
  public static func run(timeoutMilliseconds: Int = 200, environment: [String: String]? = nil)
    -> TerminalCapabilities
  {
    let env: (String) -> String? = { name in
      if let environment { return environment[name] }
      return getenv(name).map { String(cString: $0) }
    }
    let nonEmpty: (String) -> String? = { name in env(name).flatMap { $0.isEmpty ? nil : $0 } }
    var caps = TerminalCapabilities()
    caps.term = nonEmpty("TERM")
    caps.colorTerm = nonEmpty("COLORTERM")
    caps.inTmux = nonEmpty("TMUX") != nil
    if caps.inTmux {
      if nonEmpty("TERM_PROGRAM") == "tmux", let v = nonEmpty("TERM_PROGRAM_VERSION") {
        caps.tmuxVersion = v
      } else {
        caps.tmuxVersion = tmuxVersionFromCommand(timeoutMilliseconds: timeoutMilliseconds)
      }
    }
    caps.overSSH = ["SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"].contains { nonEmpty($0) != nil }
    caps.isTTY = isatty(STDOUT_FILENO) == 1
    guard caps.isTTY else { return caps }

    let tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
    let sizeFD = tty >= 0 ? tty : STDOUT_FILENO
    if let size = windowSize(fd: sizeFD) {
      caps.columns = size.columns
      caps.rows = size.rows
      caps.cellWidthPx = size.cellWidthPx
      caps.cellHeightPx = size.cellHeightPx
      if size.cellWidthPx != nil && size.cellHeightPx != nil { caps.cellSizeSource = "kernel" }
    }
    guard tty >= 0 else { return caps }
    defer { close(tty) }
    let foreground = tcgetpgrp(tty) == getpgrp()
    if foreground, let term = caps.term, term != "dumb" {
      let askCellSize = caps.cellSizeSource == nil
      if let replies = queryTerminal(
        fd: tty, timeoutMilliseconds: timeoutMilliseconds, askCellSize: askCellSize)
      {
        caps.deviceAttributes = replies.deviceAttributes
        caps.sixel = replies.deviceAttributes.map { $0.contains(4) }
        caps.colorRegisters = replies.colorRegisters
        caps.mousePixels = replies.mousePixels
        caps.background = replies.background?.description
        if askCellSize, let size = replies.cellSize {
          caps.cellWidthPx = size.width
          caps.cellHeightPx = size.height
          caps.cellSizeSource = "terminal"
        }
      }
    }
    return caps
  }

  /// Terminal size in cells, and cell size in pixels when the kernel knows it.
  public struct WindowSize: Sendable, Equatable {
    public var columns: Int
    public var rows: Int
    public var cellWidthPx: Int?
    public var cellHeightPx: Int?
  }

  /// TIOCGWINSZ on `fd`. Pixel sizes of 0 (common over SSH and in some terminals) are nil.
  public static func windowSize(fd: Int32) -> WindowSize? {
    var ws = winsize()
    guard ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0, ws.ws_row > 0 else { return nil }
    let cols = Int(ws.ws_col)
    let rows = Int(ws.ws_row)
    let cw = Int(ws.ws_xpixel) / cols
    let ch = Int(ws.ws_ypixel) / rows
    return WindowSize(
      columns: cols, rows: rows, cellWidthPx: cw > 0 ? cw : nil, cellHeightPx: ch > 0 ? ch : nil)
  }

  /// What the terminal answered to the probe's queries.
  public struct Replies: Sendable, Equatable {
    public var deviceAttributes: [Int]?
    public var colorRegisters: Int?
    public var cellSize: (width: Int, height: Int)?
    public var mousePixels: Bool?
    /// The answer to OSC 11 (the default background).
    public var background: RGB?

    public static func == (a: Replies, b: Replies) -> Bool {
      a.deviceAttributes == b.deviceAttributes && a.colorRegisters == b.colorRegisters
        && a.cellSize?.width == b.cellSize?.width && a.cellSize?.height == b.cellSize?.height
        && a.mousePixels == b.mousePixels && a.background == b.background
    }

    /// Reads every answer found in `bytes`.
    public init(parsing bytes: [UInt8]) {
      deviceAttributes = TerminalProbe.parseDeviceAttributes(bytes)
      background = TerminalBackground.parseOSC11(bytes)
      for reply in TerminalProbe.controlSequences(in: bytes) {
        switch (reply.private, reply.final, reply.intermediates, reply.parameters) {
        case ("?", "S", "", let p) where p.count >= 3 && p[0] == 1 && p[1] == 0:
          colorRegisters = p[2]  // XTSMGRAPHICS: item 1 (colours), status 0 (success), value
        case ("", "t", "", let p) where p.count >= 3 && p[0] == 6 && p[1] > 0 && p[2] > 0:
          cellSize = (width: p[2], height: p[1])  // CSI 6 ; height ; width t
        case ("?", "y", "$", let p) where p.count >= 2 && p[0] == 1016:
          mousePixels = (1...3).contains(p[1])  // DECRPM: 1 set, 2 reset, 3 permanently set
        default: break
        }
      }
    }

    public init() {}
  }

  /// The probe's queries, in the order they are sent: `CSI c` last (see the type's doc).
  static func queries(askCellSize: Bool) -> [UInt8] {
    Array(
      ("\u{1B}[?1;1;0S" + (askCellSize ? "\u{1B}[16t" : "") + "\u{1B}[?1016$p" + "\u{1B}]11;?\u{1B}\\"
        + "\u{1B}[c").utf8)
  }

  /// Sends the probe's queries to the terminal on `fd` and collects the answers until the
  /// device attributes reply arrives or the time is up (then whatever arrived is used). The
  /// terminal's modes are switched to non-canonical, no-echo input and restored before return.
  public static func queryTerminal(fd: Int32, timeoutMilliseconds: Int, askCellSize: Bool) -> Replies? {
    guard
      let bytes = exchange(
        fd: fd, query: queries(askCellSize: askCellSize), timeoutMilliseconds: timeoutMilliseconds)
    else { return nil }
    return Replies(parsing: bytes)
  }

  /// Sends `CSI c` to the terminal on `fd` and returns the parameters of its answer
  /// (`CSI ? Pm c`), or nil if none arrives within the timeout.
  public static func queryDeviceAttributes(fd: Int32, timeoutMilliseconds: Int) -> [Int]? {
    exchange(fd: fd, query: [0x1B, 0x5B, 0x63], timeoutMilliseconds: timeoutMilliseconds)
      .flatMap(parseDeviceAttributes)
  }

  /// Writes `query` and reads until a device attributes reply is complete or the deadline.
  private static func exchange(fd: Int32, query: [UInt8], timeoutMilliseconds: Int) -> [UInt8]? {
    var saved = termios()
    guard tcgetattr(fd, &saved) == 0 else { return nil }
    var raw = saved
    raw.c_lflag &= ~tcflag_t(ICANON | ECHO | IEXTEN)
    withUnsafeMutableBytes(of: &raw.c_cc) { cc in
      cc[Int(VMIN)] = 0
      cc[Int(VTIME)] = 0
    }
    guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return nil }
    defer { _ = tcsetattr(fd, TCSANOW, &saved) }

    guard writeAll(fd, query) else { return nil }

    let deadline = monotonicMilliseconds() + max(0, timeoutMilliseconds)
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 256)
    while received.count < 4096 {
      let remaining = deadline - monotonicMilliseconds()
      if remaining <= 0 { break }
      var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let ready = poll(&pfd, 1, Int32(remaining))
      if ready < 0 {
        if errno == EINTR { continue }
        break
      }
      if ready == 0 { break }
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
      if n < 0 {
        if errno == EINTR || errno == EAGAIN { continue }
        break
      }
      if n == 0 { break }
      received += chunk[0..<n]
      if parseDeviceAttributes(received) != nil { return received }
    }
    return received.isEmpty ? nil : received
  }

  /// A control sequence found in terminal replies.
  struct ControlSequence {
    var `private`: String
    var parameters: [Int]
    var intermediates: String
    var final: Character
  }

  /// Every complete CSI sequence in `bytes` (7-bit `ESC [` or 8-bit 0x9B), split into its
  /// private marker (`?`, `>`…), numeric parameters, intermediates and final byte.
  static func controlSequences(in bytes: [UInt8]) -> [ControlSequence] {
    var found: [ControlSequence] = []
    var i = 0
    while i < bytes.count {
      var j: Int
      if bytes[i] == 0x1B, i + 1 < bytes.count, bytes[i + 1] == 0x5B {
        j = i + 2
      } else if bytes[i] == 0x9B {
        j = i + 1
      } else {
        i += 1
        continue
      }
      var marker = ""
      if j < bytes.count, (0x3C...0x3F).contains(bytes[j]) {
        marker = String(UnicodeScalar(bytes[j]))
        j += 1
      }
      let parameterStart = j
      while j < bytes.count, (0x30...0x3B).contains(bytes[j]) { j += 1 }
      let parameterText = String(decoding: bytes[parameterStart..<j], as: UTF8.self)
      let intermediateStart = j
      while j < bytes.count, (0x20...0x2F).contains(bytes[j]) { j += 1 }
      let intermediates = String(decoding: bytes[intermediateStart..<j], as: UTF8.self)
      guard j < bytes.count, (0x40...0x7E).contains(bytes[j]) else {
        i = max(i + 1, j)
        continue
      }
      let parameters = parameterText.split(separator: ";", omittingEmptySubsequences: false).map {
        Int($0) ?? 0
      }
      found.append(
        ControlSequence(
          private: marker, parameters: parameters, intermediates: intermediates,
          final: Character(UnicodeScalar(bytes[j]))))
      i = j + 1
    }
    return found
  }

  /// Finds a primary device attributes answer, `ESC [ ? Pm c` (or 8-bit CSI `0x9B ? Pm c`),
  /// in `bytes` and returns its numeric parameters. Bytes around it (keys typed meanwhile)
  /// are ignored; a malformed or incomplete answer gives nil.
  public static func parseDeviceAttributes(_ bytes: [UInt8]) -> [Int]? {
    var i = 0
    while i < bytes.count {
      var start: Int? = nil
      if bytes[i] == 0x1B, i + 2 < bytes.count, bytes[i + 1] == 0x5B, bytes[i + 2] == 0x3F {
        start = i + 3
      } else if bytes[i] == 0x9B, i + 1 < bytes.count, bytes[i + 1] == 0x3F {
        start = i + 2
      }
      if let s = start {
        var j = s
        var params: [Int] = []
        var current: Int? = nil
        var valid = true
        while j < bytes.count {
          let b = bytes[j]
          if b >= 0x30 && b <= 0x39 {
            let next = (current ?? 0) * 10 + Int(b - 0x30)
            if next > 1_000_000 {
              valid = false
              break
            }
            current = next
          } else if b == 0x3B {
            params.append(current ?? 0)
            current = nil
          } else if b == 0x63 {
            if let c = current { params.append(c) }
            return params.isEmpty ? nil : params
          } else {
            valid = false
            break
          }
          j += 1
        }
        if !valid {
          i = j
          continue
        }
        return nil  // incomplete: wait for more bytes
      }
      i += 1
    }
    return nil
  }

  /// `tmux -V` prints "tmux 3.3a" (or "tmux next-3.4"); returns what follows "tmux ".
  static func tmuxVersionFromCommand(timeoutMilliseconds: Int) -> String? {
    guard let output = runCommand(["tmux", "-V"], timeoutMilliseconds: max(timeoutMilliseconds, 500))
    else { return nil }
    let line = output.split(separator: "\n").first.map(String.init) ?? ""
    guard line.hasPrefix("tmux ") else { return nil }
    let version = String(line.dropFirst(5)).filter { $0.isASCII && !$0.isWhitespace }
    return version.isEmpty ? nil : version
  }

  /// Runs a command found on PATH with stdin and stderr on /dev/null and returns its
  /// standard output, or nil if it cannot start, fails, or outlives the timeout (then it
  /// is killed).
  static func runCommand(_ argv: [String], timeoutMilliseconds: Int) -> String? {
    var pipeFDs: [Int32] = [0, 0]
    guard pipe(&pipeFDs) == 0 else { return nil }
    let (readEnd, writeEnd) = (pipeFDs[0], pipeFDs[1])
    _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addclose(&actions, writeEnd)

    var cArgs = argv.map { strdup($0) }
    cArgs.append(nil)
    defer { for p in cArgs { free(p) } }
    var pid: pid_t = 0
    let spawned = posix_spawnp(&pid, argv[0], &actions, nil, cArgs, environ)
    close(writeEnd)
    defer { close(readEnd) }
    guard spawned == 0 else { return nil }

    let deadline = monotonicMilliseconds() + timeoutMilliseconds
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 512)
    var timedOut = false
    while output.count < 65536 {
      let remaining = deadline - monotonicMilliseconds()
      if remaining <= 0 {
        timedOut = true
        break
      }
      var pfd = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
      let ready = poll(&pfd, 1, Int32(remaining))
      if ready < 0 && errno == EINTR { continue }
      if ready <= 0 {
        timedOut = ready == 0
        break
      }
      let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress!, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      output += chunk[0..<n]
    }
    if timedOut { kill(pid, SIGKILL) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED && WEXITSTATUS == 0, spelled out: Swift does not import the macros.
    guard !timedOut, status & 0x7F == 0, (status >> 8) & 0xFF == 0 else { return nil }
    return String(decoding: output, as: UTF8.self)
  }

  private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var done = 0
    while done < bytes.count {
      let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
      if n < 0 {
        if errno == EINTR || errno == EAGAIN { continue }
        return false
      }
      done += n
    }
    return true
  }

  private static func monotonicMilliseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int(ts.tv_sec) * 1000 + Int(ts.tv_nsec) / 1_000_000
  }
}
