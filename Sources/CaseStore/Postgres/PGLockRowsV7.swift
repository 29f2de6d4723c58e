/// Migration `pg-v7-lock-rows`: the workspace's locks become rows no rater can lock.
///
/// Migrations v1-v6 serialised writers on PostgreSQL advisory locks (the audit chain's head,
/// one writer per case and rater, one adjudicator per case) and the trainer on a session
/// advisory lock. Advisory locks belong to no table and need no right: `pg_advisory_lock` is
/// executable by PUBLIC and `pg_locks` lists every key held, so a rater with `psql` could take
/// the chain's key and keep it, and every write of every user waited on him (the trainer's
/// key stopped retraining the same way). A row lock needs UPDATE on the row's table, which no
/// group role has; only the SECURITY DEFINER functions, running as the owner, take them.
///
/// - `lock_key(text)` locks the row of `lock_row` named by the key (made on first use) to the
///   end of the transaction: the same keys, and so the same granularity, as before. Every
///   function that took `pg_advisory_xact_lock(hashtextextended(KEY, 0))` is rewritten in
///   place (`pg_get_functiondef`, the call replaced, re-created; owner, grants, SECURITY
///   DEFINER and settings kept) so the migration needs no second copy of their bodies.
/// - The chain's lock waits at most 15 s and then fails with an error that says why: sealing
///   happens at commit, but a client may force it earlier (`SET CONSTRAINTS ALL IMMEDIATE`)
///   and then keep its transaction open; that stalls others' commits for as long as the
///   server lets an idle transaction live (docs/deployment.md, "A stalled workspace").
/// - `lease` rows are the one-trainer lock (`trainer`) and the one-predictor-per-model lock
///   (`predict-vN`): the holder's server process and its start time, alive while that process
///   is (`pg_stat_activity`), so a lease dies with its connection however the holder died, on
///   whichever host it ran. Only the owner (the service role) may take one. (The predictor's
///   lock was a file in the service user's workspace directory, which a rater able to read the
///   file could `flock` and keep.)
enum PGLockRowsV7 {
  static let id = "pg-v7-lock-rows"

  /// Nothing new is callable by the group roles.
  static let publicFunctions: [String] = []

  static let sql = #"""
    CREATE TABLE lock_row (key text PRIMARY KEY);

    -- Locks KEY's row to the end of the transaction. Not granted to anyone: only the owner's
    -- functions call it.
    CREATE FUNCTION lock_key(p_key text) RETURNS void LANGUAGE plpgsql
    SET search_path = blastview, pg_temp AS $$
    BEGIN
      INSERT INTO lock_row (key) VALUES (p_key) ON CONFLICT (key) DO NOTHING;
      PERFORM 1 FROM lock_row WHERE key = p_key FOR UPDATE;
    END $$;

    DO $$
    DECLARE f record; v_def text; v_new text;
    BEGIN
      FOR f IN SELECT p.oid, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = 'blastview' AND p.prosrc LIKE '%pg_advisory_xact_lock(hashtextextended(%'
      LOOP
        v_def := pg_get_functiondef(f.oid);
        v_new := regexp_replace(v_def, 'pg_advisory_xact_lock\(hashtextextended\((.*?), 0\)\)', 'lock_key(\1)', 'g');
        IF v_new ~ 'pg_(try_)?advisory' THEN
          RAISE EXCEPTION 'pg-v7-lock-rows: function % still takes an advisory lock after the rewrite', f.proname;
        END IF;
        EXECUTE v_new;
      END LOOP;
    END $$;

    -- The chain's lock: the same row, but a writer stuck behind a transaction that sealed early
    -- and stayed open gets an error naming the cause instead of waiting without end.
    CREATE FUNCTION lock_audit_chain() RETURNS void LANGUAGE plpgsql
    SET search_path = blastview, pg_temp SET lock_timeout = '15s' AS $$
    BEGIN
      PERFORM lock_key('blastview-audit-chain');
    EXCEPTION WHEN lock_not_available THEN
      RAISE EXCEPTION USING ERRCODE = 'BV040',
        MESSAGE = 'the audit chain stayed locked for 15 s by another open transaction; nothing of this change was saved, try again',
        HINT = 'a client that holds a transaction open after writing stalls every writer: see "A stalled workspace" in docs/deployment.md';
    END $$;
    DO $$
    DECLARE v_def text;
    BEGIN
      v_def := pg_get_functiondef('blastview.audit_seal()'::regprocedure);
      IF position('lock_key(''blastview-audit-chain'')' IN v_def) = 0 THEN
        RAISE EXCEPTION 'pg-v7-lock-rows: audit_seal does not take the chain''s lock where expected';
      END IF;
      EXECUTE replace(v_def, 'lock_key(''blastview-audit-chain'')', 'lock_audit_chain()');
    END $$;

    -- Leases: a named lock held by a connection for as long as its server process lives (the
    -- trainer's "trainer", a predictor's "predict-vN"). Only the owner takes them.
    CREATE TABLE lease (
      name text PRIMARY KEY, pid integer, backend_start timestamptz, host text, purpose text, since timestamptz);

    -- Takes lease NAME for this connection, unless a live server process holds it: then returns
    -- that holder (ok = false).
    CREATE FUNCTION lease_take(p_name text, p_host text, p_purpose text)
    RETURNS TABLE (ok boolean, holder_pid integer, holder_host text, holder_since double precision)
    LANGUAGE plpgsql SET search_path = blastview, pg_temp AS $$
    DECLARE l lease;
    BEGIN
      INSERT INTO lease (name) VALUES (p_name) ON CONFLICT (name) DO NOTHING;
      SELECT * INTO l FROM lease WHERE name = p_name FOR UPDATE;
      IF l.pid IS NOT NULL AND l.pid <> pg_backend_pid() AND EXISTS (
          SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.pid AND a.backend_start = l.backend_start) THEN
        RETURN QUERY SELECT false, l.pid, l.host, extract(epoch FROM l.since)::double precision;
        RETURN;
      END IF;
      UPDATE lease SET pid = pg_backend_pid(),
        backend_start = (SELECT a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()),
        host = p_host, purpose = p_purpose, since = clock_timestamp()
      WHERE name = p_name;
      RETURN QUERY SELECT true, pg_backend_pid(), p_host, extract(epoch FROM clock_timestamp())::double precision;
    END $$;

    CREATE FUNCTION lease_release(p_name text) RETURNS void LANGUAGE sql
    SET search_path = blastview, pg_temp AS $$
      UPDATE lease SET pid = NULL, backend_start = NULL, host = NULL, purpose = NULL, since = NULL
      WHERE name = p_name AND pid = pg_backend_pid();
    $$;
    """#
}
