import Foundation

/// A second "host" for the TCP tests: a network namespace joined to this one by a veth pair,
/// with a /30 of its own. A process run through `exec` inside it reaches this machine only over
/// TCP to `serverAddress`: no Unix socket, no peer authentication, nothing but the network.
struct SecondHost {
  let namespace: String
  /// The veth end left in this (the server's) namespace; removing it removes the pair.
  let hostInterface: String
  let serverAddress: String
  let clientAddress: String

  struct Unavailable: Error, CustomStringConvertible {
    let description: String
  }

  /// Makes the namespace, the pair and the addresses, or throws naming the step that failed
  /// (no `ip`, no CAP_NET_ADMIN, a kernel without namespaces).
  static func create() throws -> SecondHost {
    guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else {
      throw Unavailable(description: "no /usr/sbin/ip (make deps installs iproute2)")
    }
    let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    // Interface names are at most 15 bytes; a random /30 in 10.231.0.0/16 keeps runs apart.
    let subnet = Int.random(in: 0..<16384) * 4
    let prefix = "10.231.\(subnet / 256).\(subnet % 256)"
    let net = prefix.split(separator: ".").map(String.init)
    let base = Int(net[3])!
    let host = SecondHost(
      namespace: "bvnet-\(tag)", hostInterface: "bvh\(tag)",
      serverAddress: "\(net[0]).\(net[1]).\(net[2]).\(base + 1)",
      clientAddress: "\(net[0]).\(net[1]).\(net[2]).\(base + 2)")
    let peer = "bvc\(tag)"
    let steps: [[String]] = [
      ["netns", "add", host.namespace],
      ["link", "add", host.hostInterface, "type", "veth", "peer", "name", peer],
      ["link", "set", peer, "netns", host.namespace],
      ["addr", "add", host.serverAddress + "/30", "dev", host.hostInterface],
      ["link", "set", host.hostInterface, "up"],
      ["-n", host.namespace, "addr", "add", host.clientAddress + "/30", "dev", peer],
      ["-n", host.namespace, "link", "set", peer, "up"],
      ["-n", host.namespace, "link", "set", "lo", "up"],
    ]
    for step in steps {
      let r = try OSUsers.shell("/usr/sbin/ip", step)
      guard r.status == 0 else {
        host.remove()
        throw Unavailable(description: "ip \(step.joined(separator: " ")) failed: \(r.err)")
      }
    }
    return host
  }

  /// The prefix that runs a program inside the namespace.
  var exec: [String] { ["/usr/sbin/ip", "netns", "exec", namespace] }

  func remove() {
    _ = try? OSUsers.shell("/usr/sbin/ip", ["link", "del", hostInterface])
    _ = try? OSUsers.shell("/usr/sbin/ip", ["netns", "del", namespace])
  }
}

/// A throwaway PostgreSQL cluster reachable over TCP only with TLS and scram-sha-256, as a
/// department server is configured for a second machine (docs/deployment.md). Its certificate
/// is issued for `hostName` by a CA made for the test, so `sslmode=verify-full` is tested
/// against a real chain. The Unix socket stays (peer authentication) for the lead and the
/// service role on the server itself, mapped as in tools/with-test-postgres.sh.
struct TLSCluster {
  let directory: String
  let data: String
  let socket: String
  let bin: String
  let caCertificate: String
  let hostName: String

  struct Failed: Error, CustomStringConvertible {
    let description: String
  }

  static func start(bin: String, listen address: String, client: String, hostName: String) throws
    -> TLSCluster
  {
    let fm = FileManager.default
    let dir = "/tmp/bv-tls-\(UUID().uuidString)"
    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    chmod(dir, 0o755)
    let cluster = TLSCluster(
      directory: dir, data: dir + "/data", socket: dir + "/socket", bin: bin, caCertificate: dir + "/ca.crt",
      hostName: hostName)
    do {
      try cluster.makeCertificates()
      try cluster.initialise(listen: address, client: client)
    } catch {
      cluster.stop()
      throw error
    }
    return cluster
  }

  private func run(_ program: String, _ args: [String]) throws {
    let r = try OSUsers.shell(program, args)
    guard r.status == 0 else {
      throw Failed(description: "\(program) \(args.joined(separator: " ")) failed: \(r.err)\(r.out)")
    }
  }

  /// A CA, and a server key and certificate it signs for `hostName` (subjectAltName, which is
  /// what libpq's verify-full checks). The key is the server's own: postgres-owned, 0600.
  private func makeCertificates() throws {
    let ssl = "/usr/bin/openssl"
    let d = directory
    try run(
      ssl,
      [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
        "-subj", "/CN=BlastView test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", d + "/ca.key", "-out", caCertificate,
      ])
    try run(
      ssl,
      [
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=\(hostName)", "-keyout", d + "/server.key", "-out", d + "/server.csr",
      ])
    try "subjectAltName=DNS:\(hostName)\nextendedKeyUsage=serverAuth\n".write(
      toFile: d + "/server.ext", atomically: true, encoding: .utf8)
    try run(
      ssl,
      [
        "x509", "-req", "-in", d + "/server.csr", "-CA", caCertificate, "-CAkey", d + "/ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", d + "/server.ext", "-out", d + "/server.crt",
      ])
    chmod(caCertificate, 0o644)
    try run("/bin/chown", ["postgres", d + "/server.key", d + "/server.crt"])
    chmod(d + "/server.key", 0o600)
  }

  private func initialise(listen address: String, client: String) throws {
    let fm = FileManager.default
    try fm.createDirectory(atPath: data, withIntermediateDirectories: false)
    try fm.createDirectory(atPath: socket, withIntermediateDirectories: false)
    FileManager.default.createFile(atPath: directory + "/server.log", contents: nil)
    try run("/bin/chown", ["postgres", data, socket, directory + "/server.log"])
    chmod(data, 0o700)
    chmod(socket, 0o755)
    try asPostgres(
      bin + "/initdb",
      [
        "-D", data, "-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256", "--encoding=UTF8",
        "--locale=C.UTF-8",
      ])
    // TCP: TLS with scram only, from the second host only; no plaintext line at all.
    try """
    local all postgres peer
    local all all peer map=bvtest
    hostssl all all \(client)/32 scram-sha-256
    """.write(toFile: data + "/pg_hba.conf", atomically: false, encoding: .utf8)
    try """
    bvtest /^(.*)$ \\1
    bvtest root blastview
    bvtest root bvlead
    """.write(toFile: data + "/pg_ident.conf", atomically: false, encoding: .utf8)
    try """
    listen_addresses = '\(address)'
    unix_socket_directories = '\(socket)'
    ssl = on
    ssl_cert_file = '\(directory)/server.crt'
    ssl_key_file = '\(directory)/server.key'
    ssl_min_protocol_version = 'TLSv1.2'
    password_encryption = 'scram-sha-256'
    max_connections = 30
    """.write(toFile: data + "/network.conf", atomically: false, encoding: .utf8)
    let conf = try FileHandle(forWritingTo: URL(fileURLWithPath: data + "/postgresql.conf"))
    try conf.seekToEnd()
    try conf.write(contentsOf: Data("\ninclude 'network.conf'\n".utf8))
    try conf.close()
    try run(
      "/bin/chown", ["postgres", data + "/pg_hba.conf", data + "/pg_ident.conf", data + "/network.conf"])
    let started = Self.pgCtl(
      bin, ["-D", data, "-l", directory + "/server.log", "-w", "-t", "60", "start"], logDirectory: directory)
    guard started.status == 0 else {
      let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
      throw Failed(description: "pg_ctl start failed (\(started.status)): \(started.output)\n\(log)")
    }
    try psql("postgres", "CREATE ROLE blastview LOGIN CREATEROLE CREATEDB")
  }

  private func asPostgres(_ program: String, _ args: [String]) throws {
    try run("/usr/sbin/runuser", ["-u", "postgres", "--", program] + args)
  }

  /// `pg_ctl` as postgres, through posix_spawn and waitpid rather than Foundation's Process:
  /// Process.waitUntilExit was seen to wait forever on `pg_ctl start` (whose server outlives
  /// it), with the exited runuser left a zombie. Output goes to `pg_ctl.log` in the directory.
  static func pgCtl(_ bin: String, _ args: [String], logDirectory: String) -> (status: Int32, output: String)
  {
    let log = logDirectory + "/pg_ctl.log"
    let argv = ["/usr/sbin/runuser", "-u", "postgres", "--", bin + "/pg_ctl"] + args
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var cargs = argv.map { strdup($0) } + [nil]
    defer { for a in cargs { free(a) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ) == 0 else {
      return (-1, "posix_spawn \(argv[0]) failed")
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    // WIFEXITED and WEXITSTATUS, which Swift does not import.
    return ((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f), output)
  }

  /// SQL as the superuser over the socket (setting passwords, the test's own checks).
  @discardableResult
  func psql(_ database: String, _ sql: String) throws -> String {
    let r = try OSUsers.shell(
      "/usr/sbin/runuser",
      [
        "-u", "postgres", "--", "/usr/bin/psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", socket, "-d",
        database, "-c", sql,
      ])
    guard r.status == 0 else { throw Failed(description: "psql \(sql): \(r.err)") }
    return r.out.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  func stop() {
    if FileManager.default.fileExists(atPath: data + "/postmaster.pid") {
      _ = Self.pgCtl(bin, ["-D", data, "-m", "immediate", "-w", "stop"], logDirectory: directory)
    }
    try? FileManager.default.removeItem(atPath: directory)
  }
}
