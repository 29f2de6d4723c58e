import CaseStore
import Foundation
import Testing

/// The libpq wrapper on the test cluster: values travel only as parameters, blobs survive
/// byte for byte, transactions roll back, and errors name the server's message.
@Suite(.enabled(if: PGTestCluster.shouldRun), .serialized) struct PGConnectionTests {
  @Test func parametersAreNeverSQL() throws {
    let pg = try PGTestCluster.require()
    let c = try PGConnection(pg.url("postgres", as: "blastview"))
    let hostile = "x'); DROP TABLE pg_class; --\u{0}"
      .replacingOccurrences(of: "\u{0}", with: "")
    let row = try #require(
      try c.query(
        "SELECT $1::text AS s, $2::bigint AS i, $3::bool AS b, $4::float8 AS d",
        [.text(hostile), .int(-42), .bool(true), .double(0.25)]
      ).first)
    #expect(row["s"] == hostile)
    #expect(row.int("i") == -42)
    #expect(row.bool("b") == true)
    #expect(row.double("d") == 0.25)
    #expect(try c.query("SELECT $1::text IS NULL AS n", [.null]).first?.bool("n") == true)
  }

  @Test func byteaRoundTripsEveryByte() throws {
    let pg = try PGTestCluster.require()
    let c = try PGConnection(pg.url("postgres", as: "blastview"))
    let bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) } + [0, 0, 255]
    let row = try #require(
      try c.query("SELECT $1::bytea AS b, encode(sha256($1::bytea), 'hex') AS h", [.bytes(bytes)]).first)
    #expect(row.bytes("b") == bytes)
    // Independent reference: the server's SHA-256 of what it received.
    #expect(row["h"] == SHA256Hex.of(bytes))
  }

  @Test func transactionRollsBackOnError() throws {
    let pg = try PGTestCluster.require()
    let db = try pg.createDatabase()
    let c = try PGConnection(pg.url(db, as: "blastview"))
    try c.query("CREATE TABLE t (v text)")
    #expect(throws: StoreError.self) {
      try c.transaction { () throws(StoreError) in
        try c.query("INSERT INTO t VALUES ($1)", [.text("kept?")])
        try c.query("SELECT 1/0")
      }
    }
    #expect(try c.query("SELECT count(*) FROM t").first?[0] == "0")
    try c.transaction { () throws(StoreError) in try c.query("INSERT INTO t VALUES ($1)", [.text("yes")]) }
    #expect(try c.query("SELECT v FROM t").map { $0[0] } == ["yes"])
  }

  @Test func errorsNameTheServerMessage() throws {
    let pg = try PGTestCluster.require()
    let c = try PGConnection(pg.url("postgres", as: "blastview"))
    do {
      try c.query("SELECT * FROM no_such_table_here")
      Issue.record("no error")
    } catch {
      #expect(error.description.contains("no_such_table_here"), "\(error)")
    }
  }

  @Test func connectFailureNamesTheTargetWithoutPassword() throws {
    let pg = try PGTestCluster.require()
    do {
      _ = try PGConnection("postgresql://nobody:s3cret@/postgres?host=\(pg.socket)")
      Issue.record("connected as a role that does not exist")
    } catch {
      #expect(error.description.contains("nobody"), "\(error)")
      #expect(!error.description.contains("s3cret"), "\(error)")
    }
  }
}

/// SHA-256 through Foundation-free code: the test's own reference for the server's digest.
enum SHA256Hex {
  static func of(_ bytes: [UInt8]) -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    let input = Pipe()
    let output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    try? p.run()
    input.fileHandleForWriting.write(Data(bytes))
    try? input.fileHandleForWriting.close()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(String(decoding: out, as: UTF8.self).prefix(64))
  }
}
