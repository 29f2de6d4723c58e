/// Migration `pg-v2-audit-chain`: the tamper-evident audit chain of `AuditChain.swift`,
/// computed inside PostgreSQL with exactly the same canonical encoding, so the same events
/// give the same hashes on both backends (a workspace migrated from SQLite keeps its head).
///
/// How the database seals: an `AFTER INSERT` trigger on each source table (`annotation`,
/// `adjudication`, `model_promotion`, `audit_event`) notes the row in `audit_pending`; a
/// deferred constraint trigger on `audit_pending` seals, at commit, every row the
/// transaction noted, in the order (time, source rank, id), under an advisory lock held to
/// the end of the transaction, so two writers never chain onto the same head (no fork). A
/// row is sealed whoever inserts it, whichever function or client does; a row inserted with
/// the triggers disabled (a superuser, `session_replication_role = replica`) is never
/// sealed, and `audit_verify` names it.
///
/// Session and role events are written by the functions that make them (`session_create`,
/// `session_close`, `rater_add`) rather than by triggers on `session` and `rater`, so a
/// migration can copy an embedded workspace's events verbatim, ids and times included.
///
/// Timestamps are recorded to the millisecond from now on (the embedded store's precision),
/// and encoded as the embedded store writes them (`2025-01-31T12:34:56.789Z`, UTC).
///
/// Nobody but the service role has a right on the chain's tables; everyone may call
/// `audit_verify()`, which gives the field values of a changed row only to the service role
/// (a rater must not learn a blinded label from the chain).
enum PGAuditChainV2 {
  /// Callable by the three group roles.
  static let publicFunctions = ["audit_verify()"]

  static let sql =
    tables + "\n" + encoding + "\n" + sealing + "\n" + verifying + "\n" + PGAuditEventFunctionsV2.sql + "\n"
    + backfill

  /// A workspace created before this migration keeps its whole history, now chained: events
  /// for its sessions and roles (as the embedded store's `v3-audit-chain` back-fills them),
  /// then every existing row sealed in order.
  static let backfill = #"""
    INSERT INTO audit_event (kind, session_id, rater_id, detail, at)
    SELECT x.kind, x.session_id, x.rater_id, x.detail, x.at FROM (
      SELECT 'session_create' AS kind, s.id AS session_id, s.created_by AS rater_id, NULL::text AS detail,
        s.created_at AS at, 0 AS o, s.id AS k FROM session s
      UNION ALL
      SELECT 'session_rater', sr.session_id, sr.rater_id, NULL, s.created_at, 1, sr.rater_id
        FROM session_rater sr JOIN session s ON s.id = sr.session_id
      UNION ALL
      SELECT 'session_close', s.id, NULL, NULL, s.closed_at, 2, s.id FROM session s WHERE s.closed_at IS NOT NULL
      UNION ALL
      SELECT 'role_change', NULL, r.id, role_of(r.name), r.created_at, 3, r.id FROM rater r
        WHERE role_of(r.name) IN ('adjudicator', 'lead')) x
    ORDER BY x.at, x.session_id NULLS FIRST, x.o, x.k;
    INSERT INTO audit_pending (source, source_id, at)
      SELECT 'annotation', a.id, a.created_at FROM annotation a
      UNION ALL SELECT 'adjudication', j.id, j.created_at FROM adjudication j
      UNION ALL SELECT 'model_promotion', p.id, p.promoted_at FROM model_promotion p;
    SELECT audit_seal();
    """#

  static let tables = #"""
    DO $$
    BEGIN
      IF current_setting('server_encoding') <> 'UTF8' THEN
        RAISE EXCEPTION USING ERRCODE = 'BV030',
          MESSAGE = format('the database encoding is %s; a BlastView workspace needs UTF8 (CREATE DATABASE ... ENCODING ''UTF8'')',
                           current_setting('server_encoding'));
      END IF;
    END $$;

    ALTER TABLE annotation ALTER COLUMN created_at SET DEFAULT date_trunc('milliseconds', clock_timestamp());
    ALTER TABLE adjudication ALTER COLUMN created_at SET DEFAULT date_trunc('milliseconds', clock_timestamp());
    ALTER TABLE model_promotion ALTER COLUMN promoted_at SET DEFAULT date_trunc('milliseconds', clock_timestamp());
    ALTER TABLE session ALTER COLUMN created_at SET DEFAULT date_trunc('milliseconds', clock_timestamp());
    ALTER TABLE rater ALTER COLUMN created_at SET DEFAULT date_trunc('milliseconds', clock_timestamp());

    CREATE TABLE audit_event (
      id bigserial PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('session_create', 'session_rater', 'session_close', 'role_change')),
      session_id bigint REFERENCES session(id),
      rater_id bigint REFERENCES rater(id),
      detail text,
      at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()));
    CREATE TABLE audit_chain (
      seq bigserial PRIMARY KEY,
      source text NOT NULL,
      source_id bigint NOT NULL,
      payload text NOT NULL,
      hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
      UNIQUE (source, source_id));
    -- Rows written by the open transaction and not sealed yet (empty between transactions).
    CREATE TABLE audit_pending (
      source text NOT NULL,
      source_id bigint NOT NULL,
      at timestamptz NOT NULL,
      PRIMARY KEY (source, source_id));

    CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
      FOR EACH ROW EXECUTE FUNCTION refuse('audit events are append-only');
    CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
      FOR EACH STATEMENT EXECUTE FUNCTION refuse('audit events are append-only');
    CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
      FOR EACH ROW EXECUTE FUNCTION refuse('the audit chain is append-only');
    CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
      FOR EACH STATEMENT EXECUTE FUNCTION refuse('the audit chain is append-only');
    CREATE TRIGGER model_promotion_append_only BEFORE UPDATE OR DELETE ON model_promotion
      FOR EACH ROW EXECUTE FUNCTION refuse('promotions are append-only');
    CREATE TRIGGER model_promotion_no_truncate BEFORE TRUNCATE ON model_promotion
      FOR EACH STATEMENT EXECUTE FUNCTION refuse('promotions are append-only');
    """#

  /// The canonical encoding (`blastview-audit-v1`), field by field as `AuditChain.fields`.
  static let encoding = #"""
    CREATE FUNCTION audit_time(p_t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
      SELECT to_char(p_t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    $$;

    -- `name=` then `~` for NULL or `<UTF-8 byte length>:<value>`, then a line feed, per field.
    CREATE FUNCTION audit_encode(p_names text[], p_values text[]) RETURNS text LANGUAGE sql IMMUTABLE AS $$
      SELECT coalesce(string_agg(f.n || '=' || CASE WHEN f.v IS NULL THEN '~' ELSE octet_length(f.v)::text || ':' || f.v END
                                 || E'\n', '' ORDER BY f.i), '')
      FROM unnest(p_names, p_values) WITH ORDINALITY AS f(n, v, i)
    $$;

    CREATE FUNCTION audit_hash(p_previous text, p_payload text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
      SELECT encode(sha256(convert_to(p_previous || E'\n' || p_payload, 'UTF8')), 'hex')
    $$;

    CREATE FUNCTION audit_rank(p_source text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
      SELECT CASE p_source WHEN 'annotation' THEN 0 WHEN 'adjudication' THEN 1 WHEN 'model_promotion' THEN 2
                           WHEN 'audit_event' THEN 3 END
    $$;

    CREATE FUNCTION audit_bool(p_b boolean) RETURNS text LANGUAGE sql IMMUTABLE AS $$
      SELECT CASE WHEN p_b IS NULL THEN NULL WHEN p_b THEN '1' ELSE '0' END
    $$;

    -- The canonical encoding of one source row as it is now; NULL when the row does not exist.
    CREATE FUNCTION audit_payload(p_source text, p_id bigint) RETURNS text LANGUAGE plpgsql STABLE AS $$
    DECLARE r record; v_names text[] := ARRAY['format', 'source']; v_values text[] := ARRAY['blastview-audit-v1', p_source];
    BEGIN
      IF p_source = 'annotation' THEN
        SELECT a.id, a.case_id, c.sha256 AS case_sha256, ra.name AS rater, s.name AS session, a.label,
               m.sha256 AS mask_sha256, a.changed, a.supersedes, a.note, a.created_at INTO r
        FROM annotation a LEFT JOIN "case" c ON c.id = a.case_id LEFT JOIN rater ra ON ra.id = a.rater_id
        LEFT JOIN session s ON s.id = a.session_id LEFT JOIN mask m ON m.id = a.mask_id WHERE a.id = p_id;
        IF NOT FOUND THEN RETURN NULL; END IF;
        RETURN audit_encode(
          v_names || ARRAY['id', 'case_id', 'case_sha256', 'rater', 'session', 'label', 'mask_sha256', 'changed',
                           'supersedes', 'note', 'created_at'],
          v_values || ARRAY[r.id::text, r.case_id::text, r.case_sha256, r.rater, r.session, r.label, r.mask_sha256,
                            r.changed::text, r.supersedes::text, r.note, audit_time(r.created_at)]);
      ELSIF p_source = 'adjudication' THEN
        SELECT j.id, j.case_id, c.sha256 AS case_sha256, ra.name AS adjudicator, s.name AS session, j.label,
               m.sha256 AS mask_sha256, j.reason, j.supersedes, j.created_at INTO r
        FROM adjudication j LEFT JOIN "case" c ON c.id = j.case_id LEFT JOIN rater ra ON ra.id = j.adjudicator_id
        LEFT JOIN session s ON s.id = j.session_id LEFT JOIN mask m ON m.id = j.mask_id WHERE j.id = p_id;
        IF NOT FOUND THEN RETURN NULL; END IF;
        RETURN audit_encode(
          v_names || ARRAY['id', 'case_id', 'case_sha256', 'adjudicator', 'session', 'label', 'mask_sha256', 'reason',
                           'supersedes', 'created_at'],
          v_values || ARRAY[r.id::text, r.case_id::text, r.case_sha256, r.adjudicator, r.session, r.label,
                            r.mask_sha256, r.reason, r.supersedes::text, audit_time(r.created_at)]);
      ELSIF p_source = 'model_promotion' THEN
        SELECT p.id, p.model_version, m.sha256 AS model_sha256, p.promoted_by, p.reason, p.promoted_at INTO r
        FROM model_promotion p LEFT JOIN model m ON m.version = p.model_version WHERE p.id = p_id;
        IF NOT FOUND THEN RETURN NULL; END IF;
        RETURN audit_encode(
          v_names || ARRAY['id', 'model_version', 'model_sha256', 'promoted_by', 'reason', 'promoted_at'],
          v_values || ARRAY[r.id::text, r.model_version::text, r.model_sha256, r.promoted_by, r.reason,
                            audit_time(r.promoted_at)]);
      ELSIF p_source = 'audit_event' THEN
        SELECT e.id, e.kind, s.name AS session, ra.name AS rater, e.detail, e.at, e.session_id, s.blinded,
               s.hide_model, s.case_selection, cr.name AS created_by INTO r
        FROM audit_event e LEFT JOIN session s ON s.id = e.session_id LEFT JOIN rater ra ON ra.id = e.rater_id
        LEFT JOIN rater cr ON cr.id = s.created_by WHERE e.id = p_id;
        IF NOT FOUND THEN RETURN NULL; END IF;
        v_names := v_names || ARRAY['id', 'kind', 'session', 'rater', 'detail', 'at'];
        v_values := v_values || ARRAY[r.id::text, r.kind, r.session, r.rater, r.detail, audit_time(r.at)];
        IF r.kind = 'session_create' THEN
          v_names := v_names || ARRAY['blinded', 'hide_model', 'case_selection', 'created_by', 'cases_sha256'];
          v_values := v_values || ARRAY[audit_bool(r.blinded), audit_bool(r.hide_model), r.case_selection, r.created_by,
            (SELECT encode(sha256(convert_to(coalesce(string_agg(sc.case_id::text, ',' ORDER BY sc.position), ''), 'UTF8')), 'hex')
             FROM session_case sc WHERE sc.session_id = r.session_id)];
        END IF;
        RETURN audit_encode(v_names, v_values);
      END IF;
      RETURN NULL;
    END $$;
    """#

  /// Noting each new row, and sealing at commit.
  static let sealing = #"""
    CREATE FUNCTION audit_note() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = blastview, pg_temp AS $$
    BEGIN
      INSERT INTO audit_pending (source, source_id, at)
        VALUES (TG_TABLE_NAME, NEW.id, (to_jsonb(NEW) ->> TG_ARGV[0])::timestamptz);
      RETURN NULL;
    END $$;
    CREATE TRIGGER annotation_audit AFTER INSERT ON annotation FOR EACH ROW EXECUTE FUNCTION audit_note('created_at');
    CREATE TRIGGER adjudication_audit AFTER INSERT ON adjudication FOR EACH ROW EXECUTE FUNCTION audit_note('created_at');
    CREATE TRIGGER model_promotion_audit AFTER INSERT ON model_promotion
      FOR EACH ROW EXECUTE FUNCTION audit_note('promoted_at');
    CREATE TRIGGER audit_event_audit AFTER INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_note('at');

    -- Appends every row noted by this transaction to the chain. The advisory lock is held to
    -- the end of the transaction, so the next writer reads the head only after this commit
    -- (READ COMMITTED gives each statement a fresh snapshot; a repeatable-read snapshot could
    -- read a stale head, so it is refused).
    CREATE FUNCTION audit_seal() RETURNS integer LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = blastview, pg_temp AS $$
    DECLARE v_prev text; p record; v_payload text; v_hash text; n integer := 0;
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM audit_pending) THEN RETURN 0; END IF;
      IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION USING ERRCODE = 'BV031',
          MESSAGE = 'BlastView writes under READ COMMITTED only: a snapshot could fork the audit chain';
      END IF;
      PERFORM pg_advisory_xact_lock(hashtextextended('blastview-audit-chain', 0));
      SELECT c.hash INTO v_prev FROM audit_chain c ORDER BY c.seq DESC LIMIT 1;
      v_prev := coalesce(v_prev, repeat('0', 64));
      FOR p IN SELECT ap.source, ap.source_id FROM audit_pending ap
               ORDER BY audit_time(ap.at) COLLATE "C", audit_rank(ap.source), ap.source_id
      LOOP
        v_payload := audit_payload(p.source, p.source_id);
        CONTINUE WHEN v_payload IS NULL;
        v_hash := audit_hash(v_prev, v_payload);
        INSERT INTO audit_chain (source, source_id, payload, hash) VALUES (p.source, p.source_id, v_payload, v_hash);
        v_prev := v_hash;
        n := n + 1;
      END LOOP;
      DELETE FROM audit_pending;
      RETURN n;
    END $$;

    CREATE FUNCTION audit_seal_at_commit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = blastview, pg_temp AS $$
    BEGIN
      PERFORM audit_seal();
      RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER audit_pending_seal AFTER INSERT ON audit_pending
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_seal_at_commit();
    """#

  /// Recomputing the chain, as `AuditChain.verify`.
  static let verifying = #"""
    CREATE FUNCTION audit_verify()
    RETURNS TABLE (links bigint, head text, break_table text, break_id bigint, problem text, sealed text, now text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v_prev text := repeat('0', 64); v_n bigint := 0; l record; v_now text; v_full boolean := is_service();
      s text; v_id bigint;
    BEGIN
      FOR l IN SELECT c.seq, c.source, c.source_id, c.payload, c.hash FROM audit_chain c ORDER BY c.seq LOOP
        v_n := v_n + 1;
        IF audit_rank(l.source) IS NULL THEN
          RETURN QUERY SELECT v_n, v_prev, 'audit_chain'::text, l.seq, format('unknown source table "%s"', l.source),
            NULL::text, NULL::text;
          RETURN;
        END IF;
        IF audit_hash(v_prev, l.payload) IS DISTINCT FROM l.hash THEN
          RETURN QUERY SELECT v_n, v_prev, 'audit_chain'::text, l.seq,
            format('the link''s hash does not follow from the previous link and its recorded event '
                   '(links were changed, removed or inserted; it seals %s %s)', l.source, l.source_id),
            NULL::text, NULL::text;
          RETURN;
        END IF;
        v_now := audit_payload(l.source, l.source_id);
        IF v_now IS NULL THEN
          RETURN QUERY SELECT v_n, v_prev, l.source, l.source_id, 'the row was removed after it was sealed'::text,
            NULL::text, NULL::text;
          RETURN;
        END IF;
        IF v_now <> l.payload THEN
          RETURN QUERY SELECT v_n, v_prev, l.source, l.source_id, 'the row differs from its sealed record'::text,
            CASE WHEN v_full THEN l.payload END, CASE WHEN v_full THEN v_now END;
          RETURN;
        END IF;
        v_prev := l.hash;
      END LOOP;
      -- Rows never sealed: written with the triggers disabled (around BlastView).
      FOREACH s IN ARRAY ARRAY['annotation', 'adjudication', 'model_promotion', 'audit_event'] LOOP
        EXECUTE format('SELECT t.id FROM %I t WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.source = %L '
                       'AND c.source_id = t.id) ORDER BY t.id LIMIT 1', s, s) INTO v_id;
        IF v_id IS NOT NULL THEN
          RETURN QUERY SELECT v_n, v_prev, s, v_id,
            'the row is not in the audit chain (it was written around BlastView)'::text, NULL::text, NULL::text;
          RETURN;
        END IF;
      END LOOP;
      RETURN QUERY SELECT v_n, v_prev, NULL::text, NULL::bigint, NULL::text, NULL::text, NULL::text;
    END $$;
    """#
}
