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
  }
}

/// Detects terminal capabilities: environment, window size, and the primary device
/// attributes query (`CSI c`), whose attribute 4 means sixel graphics.
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
    }
    guard tty >= 0 else { return caps }
    defer { close(tty) }
    let foreground = tcgetpgrp(tty) == getpgrp()
    if foreground, let term = caps.term, term != "dumb" {
      caps.deviceAttributes = queryDeviceAttributes(fd: tty, timeoutMilliseconds: timeoutMilliseconds)
      caps.sixel = caps.deviceAttributes.map { $0.contains(4) }
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

  /// Sends `CSI c` to the terminal on `fd` and returns the parameters of its answer
  /// (`CSI ? Pm c`), or nil if none arrives within the timeout. The terminal's modes are
  /// switched to non-canonical, no-echo input for the query and restored before return.
  public static func queryDeviceAttributes(fd: Int32, timeoutMilliseconds: Int) -> [Int]? {
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

    let query: [UInt8] = [0x1B, 0x5B, 0x63]  // ESC [ c
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
      if let attributes = parseDeviceAttributes(received) { return attributes }
    }
    return nil
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
