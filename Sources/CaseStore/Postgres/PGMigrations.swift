/// Versioned migrations of a shared workspace's PostgreSQL schema, applied in order by the
/// service role at `init` (and on open by that role), each in the same transaction as its
/// entry in `blastview.schema_migration`; a database that names a migration this build does
/// not know is refused, as SQLite's are.
enum PGMigrations {
  static let schema = "blastview"
  /// Cluster-wide group roles: membership is what makes a login a rater, an adjudicator or a
  /// lead of the workspaces in this cluster.
  static let groupRoles = ["blastview_rater", "blastview_adjudicator", "blastview_lead"]

  /// Each migration with the functions it makes callable by the group roles.
  static let all: [(id: String, sql: String, functions: [String])] = [
    (
      "pg-v1-shared-workspace", PGSchemaV1.tables + "\n" + PGSchemaV1.triggers + "\n" + PGFunctionsV1.sql,
      PGFunctionsV1.publicFunctions
    ),
    ("pg-v2-audit-chain", PGAuditChainV2.sql, PGAuditChainV2.publicFunctions),
    ("pg-v3-session-agreement", PGSessionAgreementV3.sql, PGSessionAgreementV3.publicFunctions),
    ("pg-v4-export", PGExportV4.sql, PGExportV4.publicFunctions),
    (PGFunctionsReview.id, PGFunctionsReview.sql, PGFunctionsReview.publicFunctions),
    (PGBrowserIndexesV6.id, PGBrowserIndexesV6.sql, PGBrowserIndexesV6.publicFunctions),
    (PGModelsV6.id, PGModelsV6.sql, PGModelsV6.publicFunctions),
    (PGAppV6.id, PGAppV6.sql, PGAppV6.publicFunctions),
    (PGLockRowsV7.id, PGLockRowsV7.sql, PGLockRowsV7.publicFunctions),
    (PGImportMasksV8.id, PGImportMasksV8.sql, PGImportMasksV8.publicFunctions),
    (PGRetrainRequestsV9.id, PGRetrainRequestsV9.sql, PGRetrainRequestsV9.publicFunctions),
    (PGWriteLimitsV10.id, PGWriteLimitsV10.sql, PGWriteLimitsV10.publicFunctions),
  ]

  static var known: [String] { all.map(\.id) }

  /// Creates the group roles if missing (the caller needs CREATEROLE), the schema and the
  /// migration table, and applies the missing migrations. Returns the migrations applied.
  static func migrate(_ c: PGConnection, target: String, through: String? = nil) throws(StoreError)
    -> [String]
  {
    try c.transaction { () throws(StoreError) -> [String] in
      // Two `init`s at once: the second waits, then finds the migrations applied. Once the
      // migration table exists it is the lock (no group role has a right on it, so none can
      // hold it). Before, nothing of the workspace exists yet and an advisory lock serialises
      // two first `init`s; anyone can take that key, so it waits 30 s at most.
      let exists =
        try c.query("SELECT to_regclass('blastview.schema_migration') IS NOT NULL AS e").first?.bool("e")
        ?? false
      if exists {
        try c.query("LOCK TABLE blastview.schema_migration IN SHARE ROW EXCLUSIVE MODE")
      } else {
        try c.query("SET LOCAL lock_timeout = '30s'")
        try c.query("SELECT pg_advisory_xact_lock(hashtextextended('blastview-migrate', 0))")
        try c.query("SET LOCAL lock_timeout = DEFAULT")
      }
      try c.executeScript(
        """
        DO $$
        DECLARE g text;
        BEGIN
          FOREACH g IN ARRAY ARRAY['blastview_rater', 'blastview_adjudicator', 'blastview_lead'] LOOP
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = g) THEN
              BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', g);
              EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
              END;
            END IF;
          END LOOP;
        END $$;
        CREATE SCHEMA IF NOT EXISTS blastview;
        CREATE TABLE IF NOT EXISTS blastview.schema_migration (
          id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT clock_timestamp());
        """)
      let applied = Set(try c.query("SELECT id FROM blastview.schema_migration").compactMap { $0[0] })
      let unknown = applied.subtracting(known).sorted()
      if !unknown.isEmpty { throw StoreError.newerSchema(path: target, unknownMigrations: unknown) }
      var done: [String] = []
      let last = through.flatMap { t in all.firstIndex { $0.id == t } } ?? all.count - 1
      for m in all[...last] where !applied.contains(m.id) {
        try c.executeScript("SET LOCAL search_path = blastview, pg_temp;\n" + m.sql)
        try c.query("INSERT INTO blastview.schema_migration (id) VALUES ($1)", [.text(m.id)])
        done.append(m.id)
      }
      try c.executeScript(grantScript(through: last))
      return done
    }
  }

  /// Nobody but the owner has any right on a table, view or sequence; the group roles may use
  /// the schema and call its public functions, and nothing else.
  static func grantScript(through last: Int) -> String {
    let groups = groupRoles.joined(separator: ", ")
    var s = """
      REVOKE ALL ON SCHEMA blastview FROM PUBLIC;
      REVOKE ALL ON ALL TABLES IN SCHEMA blastview FROM PUBLIC, \(groups);
      REVOKE ALL ON ALL SEQUENCES IN SCHEMA blastview FROM PUBLIC, \(groups);
      REVOKE ALL ON ALL FUNCTIONS IN SCHEMA blastview FROM PUBLIC, \(groups);
      GRANT USAGE ON SCHEMA blastview TO \(groups);

      """
    for f in all[...last].flatMap(\.functions) {
      s += "GRANT EXECUTE ON FUNCTION blastview.\(f) TO \(groups);\n"
    }
    return s
  }
}
