import CNcursesw
import COpenBLAS
import CSixel
import CaseStore
import Foundation
import Imaging
import Terminal

/// Everything `blastview doctor` found: library versions, the terminal, the workspace,
/// and a list of checks, each with a fix when it failed. Encoded as-is for `--json`.
struct DoctorReport: Codable {
  struct Libraries: Codable {
    var ncurses: String
    var libsixel: String
    var libpng: String
    var libjpeg: String
    var openblas: String
  }

  struct OpenBLAS: Codable {
    var version: String
    /// The CPU kernel set OpenBLAS picked at run time (e.g. "Zen", "Haswell").
    var coreType: String
    var threads: Int
    /// How OpenBLAS runs in parallel: "sequential", "pthreads" or "openmp".
    var parallel: String
    var config: String
  }

  struct TerminalReport: Codable {
    var capabilities: TerminalCapabilities
    var graphics: GraphicsMode
    var graphicsReason: String
  }

  struct Workspace: Codable {
    var path: String
    var source: Doctor.WorkspaceSource
    var exists: Bool
    var isDirectory: Bool
    var writable: Bool
  }

  struct Check: Codable {
    enum Status: String, Codable { case ok, info, warning, error }
    var name: String
    var status: Status
    var detail: String
    /// What to do about it, for warnings and errors.
    var fix: String?
  }

  var blastview: String
  var libraries: Libraries
  var openblas: OpenBLAS
  var terminal: TerminalReport
  var workspace: Workspace
  var checks: [Check]
  /// False when any check is an error; `doctor` then exits non-zero.
  var ok: Bool
}

/// Gathers a `DoctorReport`. Each check exercises the library for real (a product, an
/// encode and decode, a sixel encode, a terminfo lookup) rather than only reading a version.
enum Doctor {
  /// Where the workspace path came from, for messages: the same order as
  /// `Workspace.resolve` (`--workspace`, then `$BLASTVIEW_WORKSPACE`, then `./.blastview`).
  enum WorkspaceSource: String, Codable {
    case option = "--workspace"
    case environment = "BLASTVIEW_WORKSPACE"
    case defaultPath = "default"
  }

  static func workspaceSource(option: String?, environment: [String: String]) -> WorkspaceSource {
    if let o = option, !o.isEmpty { return .option }
    if let e = environment["BLASTVIEW_WORKSPACE"], !e.isEmpty { return .environment }
    return .defaultPath
  }

  static func run(
    workspace: (path: String, source: WorkspaceSource), probeTimeoutMilliseconds: Int,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> DoctorReport {
    var checks: [DoctorReport.Check] = []

    let config = String(cString: openblas_get_config())
    let openblas = DoctorReport.OpenBLAS(
      version: config.split(separator: " ").dropFirst().first.map(String.init) ?? config,
      coreType: String(cString: openblas_get_corename()),
      threads: Int(openblas_get_num_threads()),
      parallel: ["sequential", "pthreads", "openmp"][safe: Int(openblas_get_parallel())] ?? "unknown",
      config: config)
    let ncurses = String(cString: bv_curses_version())
    let libraries = DoctorReport.Libraries(
      ncurses: ncurses.hasPrefix("ncurses ") ? String(ncurses.dropFirst(8)) : ncurses,
      libsixel: String(cString: bv_sixel_version()),
      libpng: CodecLibraries.libpng,
      libjpeg: "libjpeg-turbo " + CodecLibraries.libjpeg,
      openblas: openblas.version)

    checks.append(checkOpenBLAS(openblas))
    checks.append(checkCodecs())
    checks.append(checkSixel())

    let caps = TerminalProbe.run(timeoutMilliseconds: probeTimeoutMilliseconds)
    let (mode, reason) = GraphicsMode.choose(for: caps, override: environment["BLASTVIEW_GRAPHICS"])
    checks.append(contentsOf: checkTerminal(caps, mode: mode, reason: reason))

    checks.append(checkBackground(caps, environment: environment))
    checks.append(checkShippedFiles())

    let ws = inspectWorkspace(workspace)
    checks.append(checkWorkspace(ws))
    if let database = checkDatabase(ws) { checks.append(database) }
    if let audit = checkAuditChain(ws) { checks.append(audit) }

    return DoctorReport(
      blastview: BlastView.version, libraries: libraries, openblas: openblas,
      terminal: .init(capabilities: caps, graphics: mode, graphicsReason: reason),
      workspace: ws, checks: checks, ok: !checks.contains { $0.status == .error })
  }

  static func checkOpenBLAS(_ info: DoctorReport.OpenBLAS) -> DoctorReport.Check {
    // [1 2 3; 4 5 6] x [7 8; 9 10; 11 12] = [58 64; 139 154]
    let a: [Float] = [1, 2, 3, 4, 5, 6]
    let b: [Float] = [7, 8, 9, 10, 11, 12]
    var c = [Float](repeating: 0, count: 4)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1, a, 3, b, 2, 0, &c, 2)
    if c == [58, 64, 139, 154] {
      return .init(
        name: "openblas", status: .ok,
        detail: "sgemm computes; \(info.coreType) kernels, \(info.threads) threads (\(info.parallel))")
    }
    return .init(
      name: "openblas", status: .error, detail: "sgemm gave \(c), expected [58, 64, 139, 154]",
      fix: "reinstall OpenBLAS: apt-get install --reinstall libopenblas0-pthread libopenblas-dev")
  }

  static func checkCodecs() -> DoctorReport.Check {
    let image = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 13) })
    do {
      let back = try decodeImage(data: encodePNG(image), name: "doctor check")
      if back == image {
        return .init(
          name: "image codecs", status: .ok, detail: "PNG encodes and decodes; JPEG and BMP decoders linked")
      }
      return .init(
        name: "image codecs", status: .error, detail: "a PNG round trip changed the pixels",
        fix: "reinstall libpng: apt-get install --reinstall libpng16-16")
    } catch {
      return .init(
        name: "image codecs", status: .error, detail: error.description,
        fix: "reinstall libpng and libjpeg: apt-get install --reinstall libpng16-16 libjpeg62-turbo")
    }
  }

  static func checkSixel() -> DoctorReport.Check {
    let count = sixelEncodedByteCount()
    if count > 0 {
      return .init(name: "libsixel", status: .ok, detail: "encodes a test image (\(count) bytes)")
    }
    return .init(
      name: "libsixel", status: .error, detail: "could not encode a 4x4 test image",
      fix: "reinstall libsixel: apt-get install --reinstall libsixel1")
  }

  /// Encodes a 4x4 image with libsixel into memory and returns the byte count (0 on failure).
  static func sixelEncodedByteCount() -> Int {
    var pixels: [UInt8] = (0..<48).map { UInt8(($0 * 37) % 256) }
    var counter = 0
    var output: OpaquePointer? = nil
    var dither: OpaquePointer? = nil
    let written: Int = withUnsafeMutablePointer(to: &counter) { counterPointer in
      let status = sixel_output_new(
        &output,
        { _, size, priv in
          priv?.assumingMemoryBound(to: Int.self).pointee += Int(size)
          return 0
        }, counterPointer, nil)
      guard status == SIXEL_OK, let output else { return 0 }
      defer { sixel_output_unref(output) }
      guard sixel_dither_new(&dither, 16, nil) == SIXEL_OK, let dither else { return 0 }
      defer { sixel_dither_unref(dither) }
      let ok = pixels.withUnsafeMutableBufferPointer { buf -> Bool in
        guard
          sixel_dither_initialize(
            dither, buf.baseAddress, 4, 4, SIXEL_PIXELFORMAT_RGB888, SIXEL_LARGE_AUTO,
            SIXEL_REP_AUTO, SIXEL_QUALITY_AUTO) == SIXEL_OK
        else { return false }
        return sixel_encode(buf.baseAddress, 4, 4, 3, dither, output) == SIXEL_OK
      }
      return ok ? counterPointer.pointee : 0
    }
    return written
  }

  static func checkTerminal(_ caps: TerminalCapabilities, mode: GraphicsMode, reason: String)
    -> [DoctorReport.Check]
  {
    var checks: [DoctorReport.Check] = []
    if let term = caps.term {
      switch term.withCString({ bv_terminfo_status($0) }) {
      case 1:
        checks.append(
          .init(name: "terminfo", status: .ok, detail: "TERM=\(term) is in the terminfo database"))
      case -1:
        checks.append(
          .init(
            name: "terminfo", status: .error, detail: "no terminfo database found",
            fix: "install it: apt-get install ncurses-base ncurses-term"))
      default:
        checks.append(
          .init(
            name: "terminfo", status: .error, detail: "TERM=\(term) has no terminfo entry",
            fix: "install more entries (apt-get install ncurses-term) or run with TERM=xterm-256color"))
      }
    } else {
      checks.append(
        .init(
          name: "terminfo", status: caps.isTTY ? .warning : .info,
          detail: "TERM is not set",
          fix: caps.isTTY ? "set it for your terminal, e.g. export TERM=xterm-256color" : nil))
    }
    if !caps.isTTY {
      checks.append(
        .init(
          name: "graphics", status: .info,
          detail: "standard output is not a terminal, so the terminal was not queried"))
    } else {
      var detail = "\(mode.rawValue): \(reason)"
      if caps.cellWidthPx == nil || caps.cellHeightPx == nil {
        detail += "; cell size in pixels unknown (the kernel reports 0)"
      }
      let fix: String? =
        mode == .sixel
        ? nil
        : caps.inTmux
          ? "for sixel images run outside tmux, or use tmux 3.4 or later; half blocks work everywhere"
          : "for sixel images use a terminal with sixel support (e.g. xterm -ti vt340); half blocks work everywhere"
      checks.append(.init(name: "graphics", status: mode == .sixel ? .ok : .info, detail: detail, fix: fix))
    }
    return checks
  }

  /// The terminal's background and the theme `--theme auto` picks for it (issue 18).
  static func checkBackground(_ caps: TerminalCapabilities, environment: [String: String])
    -> DoctorReport.Check
  {
    guard let bg = TerminalBackground.resolve(osc11: caps.backgroundColour, environment: environment) else {
      return .init(
        name: "background", status: .info,
        detail:
          "the terminal did not say its background colour (OSC 11) and COLORFGBG is not set: --theme auto uses dark on its own dark canvas",
        fix: "on a light terminal, set COLORFGBG=0;15 or use --theme light")
    }
    return .init(
      name: "background", status: .ok,
      detail:
        "\(bg.rgb) (\(bg.polarity.rawValue), from \(bg.source)): --theme auto uses \(Theme.automaticName(for: bg))"
    )
  }

  /// Where the shipped models and themes are found (an installed binary: ../share/blastview).
  static func checkShippedFiles() -> DoctorReport.Check {
    let models = ["all4", "wbc5"].map { name in
      "\(name): \(ShippedFiles.model(forSchema: name) ?? "not found")"
    }
    let themes = ThemeLibrary.standard().directory(of: "dark") ?? "built-in copies"
    let found = ["all4", "wbc5"].allSatisfy { ShippedFiles.model(forSchema: $0) != nil }
    return .init(
      name: "shipped files", status: found ? .ok : .warning,
      detail: "models \(models.joined(separator: ", ")); themes \(themes)",
      fix: found ? nil : "install with `make install`, or run the binary from the source tree (Models/)")
  }

  static func inspectWorkspace(_ ws: (path: String, source: WorkspaceSource)) -> DoctorReport.Workspace {
    var isDirectory: ObjCBool = false
    let exists = FileManager.default.fileExists(atPath: ws.path, isDirectory: &isDirectory)
    return .init(
      path: ws.path, source: ws.source, exists: exists, isDirectory: exists && isDirectory.boolValue,
      writable: exists && FileManager.default.isWritableFile(atPath: ws.path))
  }

  static func checkWorkspace(_ ws: DoctorReport.Workspace) -> DoctorReport.Check {
    let from = ws.source == .defaultPath ? "" : " (from \(ws.source.rawValue))"
    if !ws.exists {
      return .init(
        name: "workspace", status: .info, detail: "\(ws.path)\(from) does not exist yet",
        fix: "create it with `blastview init` (add --workspace PATH for another place)")
    }
    if !ws.isDirectory {
      return .init(
        name: "workspace", status: .error, detail: "\(ws.path)\(from) is a file, not a folder",
        fix: "choose another path with --workspace or BLASTVIEW_WORKSPACE, or move the file away")
    }
    if !ws.writable {
      return .init(
        name: "workspace", status: .error, detail: "\(ws.path)\(from) is not writable",
        fix: "fix its permissions (chmod u+w) or choose another path with --workspace")
    }
    return .init(name: "workspace", status: .ok, detail: "\(ws.path)\(from) exists and is writable")
  }
}

extension Doctor {
  /// `PRAGMA integrity_check` of the workspace database (read-only), when there is one.
  static func checkDatabase(_ ws: DoctorReport.Workspace) -> DoctorReport.Check? {
    guard ws.exists, ws.isDirectory else { return nil }
    let path = Workspace(directory: ws.path).databasePath
    let problems: [String]?
    do { problems = try Workspace(directory: ws.path).integrityCheck() } catch {
      return .init(
        name: "database", status: .error, detail: error.description,
        fix:
          "point --workspace at a BlastView workspace, or restore a backup with `blastview restore BACKUP.db`"
      )
    }
    guard let problems else { return nil }
    if problems.isEmpty {
      return .init(name: "database", status: .ok, detail: "\(path) passes integrity_check")
    }
    return .init(
      name: "database", status: .error,
      detail: "the workspace database \(path) is damaged: \(problems.prefix(3).joined(separator: "; "))",
      fix: "restore the last backup with `blastview restore BACKUP.db` (the damaged file is kept aside)")
  }
}

extension Array {
  subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
