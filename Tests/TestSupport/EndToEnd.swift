import Foundation

/// Helpers for the end-to-end tests that drive the real `blastview` binary in tmux and in
/// xterm under Xvfb. Each test skips itself when its tools are missing (CI installs them
/// through the Makefile's APT_PACKAGES).
public enum EndToEnd {
  /// The repository root (this file is Tests/TestSupport/EndToEnd.swift).
  public static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  /// The `blastview` executable built next to the test bundle; `$BLASTVIEW_TEST_BINARY` names
  /// another (e.g. an older build, to see an end-to-end test fail before its fix).
  public static let binary: String? = {
    if let other = ProcessInfo.processInfo.environment["BLASTVIEW_TEST_BINARY"], !other.isEmpty {
      return FileManager.default.isExecutableFile(atPath: other) ? other : nil
    }
    let candidates = [
      URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
        .appendingPathComponent("blastview").path,
      repositoryRoot.appendingPathComponent(".build/debug/blastview").path,
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
  }()

  public static func which(_ tool: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
      let path = "\(dir)/\(tool)"
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
  }

  public static func has(_ tools: String...) -> Bool {
    binary != nil && tools.allSatisfy { which($0) != nil }
  }

  /// Runs a command to completion and returns its standard output (through a temporary
  /// file: a daemon the command starts, like the tmux server, keeps inherited descriptors
  /// open, so reading a pipe to its end would never finish).
  @discardableResult
  public static func run(_ arguments: [String], environment: [String: String]? = nil) -> (
    status: Int32, output: String
  ) {
    let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent(
      "bv-out-\(UUID().uuidString)"
    ).path
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    guard let child = Child(arguments, environment: environment, stdout: outputPath) else { return (-1, "") }
    let status = child.wait()
    let data = FileManager.default.contents(atPath: outputPath) ?? Data()
    return (status, String(decoding: data, as: UTF8.self))
  }

  /// Polls `condition` every 50 ms for up to `seconds`.
  public static func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      usleep(50_000)
    }
    return condition()
  }

  public static func temporaryDirectory() -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "blastview-e2e-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// Single-quotes a string for sh.
  public static func shellQuote(_ s: String) -> String {
    "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }
}

/// A child process started with posix_spawn and reaped with waitpid. Foundation's `Process`
/// was tried first and lost track of exited children when tests ran concurrently, and the
/// children it started inherited blocked signals (Xvfb then ignored SIGTERM); here the child
/// gets an empty signal mask and default dispositions.
public final class Child {
  public let pid: pid_t
  private var status: Int32?

  public init?(_ arguments: [String], environment: [String: String]? = nil, stdout: String = "/dev/null") {
    guard let path = EndToEnd.which(arguments[0]) ?? (arguments[0].hasPrefix("/") ? arguments[0] : nil) else {
      return nil
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
    var cArguments = arguments.map { strdup($0) } + [nil]
    var cEnvironment = env.map { strdup($0) } + [nil]
    defer {
      for p in cArguments { free(p) }
      for p in cEnvironment { free(p) }
    }
    var pid: pid_t = 0
    guard posix_spawn(&pid, path, &actions, &attributes, &cArguments, &cEnvironment) == 0 else { return nil }
    self.pid = pid
  }

  /// Waits for the child to end; its exit status, or 128 + signal.
  @discardableResult
  public func wait() -> Int32 {
    if let status { return status }
    var raw: Int32 = 0
    while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
    let result = raw & 0x7F == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
    status = result
    return result
  }

  public var isRunning: Bool {
    if status != nil { return false }
    var raw: Int32 = 0
    let r = waitpid(pid, &raw, WNOHANG)
    if r == pid {
      status = raw & 0x7F == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
      return false
    }
    return r == 0
  }

  /// Sends `signal` if the child still runs, then reaps it.
  public func stop(_ signal: Int32 = SIGTERM) {
    if isRunning {
      kill(pid, signal)
      wait()
    }
  }
}

/// An Xvfb server on a display number nobody uses (no lock file, no socket). `stop()` ends it
/// and removes what it leaves in /tmp; call it from a `defer`, which also keeps the value alive
/// for the whole test.
public final class XvfbDisplay {
  public let number: Int
  private let server: Child
  /// `:N`, for `DISPLAY`.
  public var name: String { ":\(number)" }
  private var socket: String { "/tmp/.X11-unix/X\(number)" }

  public init?(screen: String = "1100x700x24") {
    guard
      let n = (40..<100).first(where: {
        !FileManager.default.fileExists(atPath: "/tmp/.X\($0)-lock")
          && !FileManager.default.fileExists(atPath: "/tmp/.X11-unix/X\($0)")
      }),
      let server = Child(["Xvfb", ":\(n)", "-screen", "0", screen, "-nolisten", "tcp"])
    else { return nil }
    number = n
    self.server = server
  }

  /// Whether the server's socket appeared within `seconds`.
  public func waitUntilReady(seconds: Double = 10) -> Bool {
    EndToEnd.waitUntil(seconds: seconds) { FileManager.default.fileExists(atPath: socket) }
  }

  public func stop() {
    server.stop()
    try? FileManager.default.removeItem(atPath: "/tmp/.X\(number)-lock")
    try? FileManager.default.removeItem(atPath: socket)
  }
}

/// A tmux session on its own server socket, killed when the test ends.
public final class TmuxSession {
  public let socket: String
  public let name = "t"

  public init?(columns: Int, rows: Int, command: String) {
    socket = "bv-\(getpid())-\(UUID().uuidString.prefix(8))"
    let r = EndToEnd.run([
      "tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "\(columns)", "-y",
      "\(rows)",
      command,
    ])
    guard r.status == 0 else { return nil }
    EndToEnd.run(["tmux", "-L", socket, "set-option", "-t", name, "remain-on-exit", "on"])
  }

  deinit { EndToEnd.run(["tmux", "-L", socket, "kill-server"]) }

  /// The pane's text; `escapes`: with its colours and attributes as SGR sequences (`-e`).
  public func capture(history: Bool = false, escapes: Bool = false) -> String {
    EndToEnd.run(
      ["tmux", "-L", socket, "capture-pane", "-p", "-t", name] + (history ? ["-S", "-500"] : [])
        + (escapes ? ["-e"] : [])
    )
    .output
  }

  public func display(_ format: String) -> String {
    EndToEnd.run(["tmux", "-L", socket, "display-message", "-p", "-t", name, format]).output
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  public func send(_ keys: String...) {
    EndToEnd.run(["tmux", "-L", socket, "send-keys", "-t", name] + keys)
  }

  /// The pid of the process running in the pane.
  public var panePID: Int32? { Int32(display("#{pane_pid}")) }

  public func waitFor(_ text: String, seconds: Double = 10) -> Bool {
    EndToEnd.waitUntil(seconds: seconds) { capture(history: true).contains(text) }
  }
}

/// An X window dump (xwd's format: a big-endian header, a colour map, then the pixels), read
/// into RGB so tests can count the colours in a screen rectangle.
public struct XWindowDump {
  public let width: Int
  public let height: Int
  public let rgb: [UInt8]

  public init?(data: Data) {
    let bytes = [UInt8](data)
    guard bytes.count >= 100 else { return nil }
    func card32(_ i: Int) -> Int {
      Int(bytes[i * 4]) << 24 | Int(bytes[i * 4 + 1]) << 16 | Int(bytes[i * 4 + 2]) << 8
        | Int(bytes[i * 4 + 3])
    }
    let headerSize = card32(0)
    let format = card32(2)
    width = card32(4)
    height = card32(5)
    let byteOrder = card32(7)
    let bitsPerPixel = card32(11)
    let bytesPerLine = card32(12)
    let masks = (card32(14), card32(15), card32(16))
    let colours = card32(19)
    let offset = headerSize + colours * 12
    guard format == 2, bitsPerPixel == 32, bytes.count >= offset + bytesPerLine * height else { return nil }
    func shift(_ m: Int) -> Int { m == 0 ? 0 : m.trailingZeroBitCount }
    var out = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
      for x in 0..<width {
        let i = offset + y * bytesPerLine + x * 4
        let p =
          byteOrder == 0
          ? Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24
          : Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
        let o = (y * width + x) * 3
        out[o] = UInt8((p & masks.0) >> shift(masks.0) & 0xFF)
        out[o + 1] = UInt8((p & masks.1) >> shift(masks.1) & 0xFF)
        out[o + 2] = UInt8((p & masks.2) >> shift(masks.2) & 0xFF)
      }
    }
    rgb = out
  }

  /// Distinct colours in the rectangle (clipped to the dump).
  public func distinctColours(x: Int, y: Int, width w: Int, height h: Int) -> Int {
    var seen = Set<Int>()
    for yy in max(0, y)..<min(height, y + h) {
      for xx in max(0, x)..<min(width, x + w) {
        let o = (yy * width + xx) * 3
        seen.insert(Int(rgb[o]) << 16 | Int(rgb[o + 1]) << 8 | Int(rgb[o + 2]))
      }
    }
    return seen.count
  }
}
