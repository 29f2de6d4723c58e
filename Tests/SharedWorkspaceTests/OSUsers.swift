import Foundation

/// Runs the real `blastview` binary, and `psql`, as other OS users (root's tests only): the
/// identity of a shared workspace is the OS user over the Unix socket, so the tests must be
/// those users. The binary is copied to a world-readable directory first, since the build
/// tree may sit under a directory only root can enter (a CI checkout in /root).
struct OSUsers {
  /// World-writable (sticky) scratch directory: workspaces, images, the binary copy.
  let work: String
  let binary: String
  let socket: String

  static var builtBinary: String {
    if let path = ProcessInfo.processInfo.environment["BLASTVIEW_BIN"] { return path }
    let here = Bundle.main.bundleURL
    for dir in [here, here.deletingLastPathComponent()] {
      let path = dir.appendingPathComponent("blastview").path
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return here.appendingPathComponent("blastview").path
  }

  init(socket: String) throws {
    self.socket = socket
    let fm = FileManager.default
    // /tmp, not $TMPDIR: the other users must be able to reach it.
    work = "/tmp/bv-users-\(UUID().uuidString)"
    try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
    chmod(work, 0o1777)
    try fm.createDirectory(atPath: work + "/bin", withIntermediateDirectories: true)
    chmod(work + "/bin", 0o755)
    binary = work + "/bin/blastview"
    // Copied by cp, not in this process: a file we hold open for writing is inherited by any
    // child another test thread forks meanwhile, and exec of it then fails "Text file busy"
    // (seen in a full run: init as the service role failed with 126).
    _ = try Self.shell("/bin/cp", [Self.builtBinary, binary])
    chmod(binary, 0o755)
    // Resource bundles the executable may look for beside itself.
    let products = (Self.builtBinary as NSString).deletingLastPathComponent
    for item in (try? fm.contentsOfDirectory(atPath: products)) ?? [] where item.hasSuffix(".resources") {
      try? fm.copyItem(atPath: products + "/" + item, toPath: work + "/bin/" + item)
      _ = try? Self.shell("/bin/chmod", ["-R", "a+rX", work + "/bin/" + item])
    }
  }

  /// A directory everyone may read (for images and CSVs the users are given).
  func publicDirectory(_ name: String) throws -> String {
    let path = work + "/" + name
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    chmod(path, 0o755)
    return path
  }

  func publicFile(_ path: String, _ text: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o644)
  }

  /// `blastview ARGS` as `user` (nil: as root, this process's user).
  func blastview(_ user: String?, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
    try as_(user, binary, args)
  }

  /// `psql -c SQL` as `user` on `database`, stopping at the first error.
  func psql(_ user: String, _ database: String, _ sql: String) throws -> (
    status: Int32, out: String, err: String
  ) {
    try as_(
      user, "/usr/bin/psql", ["-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", socket, "-d", database, "-c", sql])
  }

  /// `program ARGS` as `user` with `home` as HOME (where libpq finds ~/.pgpass and
  /// ~/.postgresql/root.crt), started through `prefix` (`ip netns exec NS` for a second host).
  func run(
    _ user: String, _ program: String, _ args: [String], home: String, prefix: [String] = []
  ) throws -> (status: Int32, out: String, err: String) {
    let env = ["HOME=" + home, "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "TERM=dumb"]
    let command =
      prefix + ["/usr/sbin/runuser", "-u", user, "--", "/usr/bin/env", "-i"] + env + [program] + args
    return try Self.shell(command[0], Array(command.dropFirst()))
  }

  private func as_(_ user: String?, _ program: String, _ args: [String]) throws -> (
    status: Int32, out: String, err: String
  ) {
    let env = ["HOME=" + work, "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "TERM=dumb"]
    if let user {
      return try Self.shell(
        "/usr/sbin/runuser", ["-u", user, "--", "/usr/bin/env", "-i"] + env + [program] + args)
    }
    return try Self.shell("/usr/bin/env", ["-i"] + env + [program] + args)
  }

  static func shell(_ program: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: program)
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: "/tmp")
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }
}
