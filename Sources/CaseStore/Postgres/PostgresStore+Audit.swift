extension PostgresStore {
  /// Recomputes the audit chain inside the database (`blastview.audit_verify()`, the same
  /// encoding and hash as `AuditChain`) and names the first broken link. Any rater may run
  /// it; only the service role is told the field values of a changed row, since the sealed
  /// record of a blinded label must not reach another rater.
  public func verifyAuditChain() throws(StoreError) -> AuditChain.Verification {
    guard let r = try connection.query("SELECT * FROM blastview.audit_verify()").first else {
      throw .database("audit_verify returned nothing")
    }
    var result = AuditChain.Verification(
      links: Int(r.int("links") ?? 0), head: r["head"] ?? AuditChain.genesis, firstBreak: nil)
    if let table = r["break_table"], let id = r.int("break_id") {
      var problem = r["problem"] ?? "the chain is broken"
      if let sealed = r["sealed"], let now = r["now"], let fields = AuditChain.decode(now) {
        problem = AuditChain.differences(sealed: sealed, now: fields)
      }
      result.firstBreak = AuditChain.Break(table: table, id: id, problem: problem)
    }
    return result
  }
}
