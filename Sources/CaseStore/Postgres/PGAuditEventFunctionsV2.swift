/// The functions migration `pg-v2-audit-chain` replaces so that they write their session and
/// role events (`PGAuditChainV2`), and `rater_grant`, the role half of `rater_add` that a
/// migration from an embedded workspace uses without writing events of its own.
enum PGAuditEventFunctionsV2 {
  static let sql = #"""
    -- The role and its group membership, checked (no event: rater_add writes the event; a
    -- migration copies the embedded workspace's events as they are).
    CREATE FUNCTION rater_grant(p_name text, p_role text) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE v_group text; g text; v_oid oid;
      v_owner text := (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'blastview');
    BEGIN
      IF p_role IS NULL OR p_role NOT IN ('rater', 'adjudicator', 'lead') THEN
        PERFORM fail('BV021', format('unknown role "%s" (rater, adjudicator or lead)', p_role));
      END IF;
      IF p_name IS NULL OR length(p_name) = 0 OR octet_length(p_name) > 63 OR p_name ~ '[[:cntrl:]]'
         OR p_name <> btrim(p_name) THEN
        PERFORM fail('BV021', 'a rater name must have 1-63 bytes, no control characters or outer spaces');
      END IF;
      IF p_name = v_owner OR p_name LIKE 'pg\_%' OR p_name IN ('blastview_rater', 'blastview_adjudicator', 'blastview_lead')
         OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_name AND (rolsuper OR rolcreaterole OR rolbypassrls OR NOT rolcanlogin)) THEN
        PERFORM fail('BV021', format('%s is a privileged, group or reserved role and cannot be a rater', p_name));
      END IF;
      -- Roles are cluster-wide: another workspace's lead may create the same role at once.
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_name) THEN
        BEGIN
          EXECUTE format('CREATE ROLE %I LOGIN', p_name);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
      END IF;
      SELECT oid INTO v_oid FROM pg_roles WHERE rolname = p_name;
      v_group := 'blastview_' || p_role;
      FOREACH g IN ARRAY ARRAY['blastview_rater', 'blastview_adjudicator', 'blastview_lead'] LOOP
        IF g <> v_group AND EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles gr ON gr.oid = m.roleid
                                    WHERE gr.rolname = g AND m.member = v_oid) THEN
          EXECUTE format('REVOKE %I FROM %I', g, p_name);
        END IF;
      END LOOP;
      IF NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles gr ON gr.oid = m.roleid
                     WHERE gr.rolname = v_group AND m.member = v_oid) THEN
        EXECUTE format('GRANT %I TO %I', v_group, p_name);
      END IF;
    END $$;

    CREATE OR REPLACE FUNCTION rater_add(p_name text, p_role text)
    RETURNS TABLE (name text, role text, created_at double precision)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v_old text := role_of(p_name); v_new boolean; v_id bigint; v_at timestamptz;
    BEGIN
      PERFORM require_lead('adds raters or changes roles');
      v_new := NOT EXISTS (SELECT 1 FROM rater r WHERE r.name = p_name);
      PERFORM rater_grant(p_name, p_role);
      INSERT INTO rater (name) VALUES (p_name) ON CONFLICT (name) DO NOTHING;
      SELECT r.id, r.created_at INTO v_id, v_at FROM rater r WHERE r.name = p_name;
      -- As the embedded store: a new rater's role unless it is the default, and every change.
      IF v_new AND p_role <> 'rater' THEN
        INSERT INTO audit_event (kind, rater_id, detail, at) VALUES ('role_change', v_id, p_role, v_at);
      ELSIF NOT v_new AND v_old IS DISTINCT FROM p_role THEN
        INSERT INTO audit_event (kind, rater_id, detail) VALUES ('role_change', v_id, p_role);
      END IF;
      RETURN QUERY SELECT r.name, role_of(r.name), extract(epoch FROM r.created_at)::double precision
        FROM rater r WHERE r.name = p_name;
    END $$;

    CREATE OR REPLACE FUNCTION session_create(p_name text, p_raters text, p_selection text, p_split text, p_class text,
                                   p_ids text, p_blinded boolean, p_hide_model boolean)
    RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v_creator bigint := me(); v_sid bigint; v_name text; v_rid bigint; v_case bigint; v_pos integer := 0; n bigint; v_at timestamptz;
    BEGIN
      -- The session_create event is sealed with its case list: at commit, whatever the caller set.
      SET CONSTRAINTS blastview.audit_pending_seal DEFERRED;
      IF p_name IS NULL OR length(p_name) = 0 OR length(p_name) > 100 OR p_name ~ '[[:cntrl:]]' THEN
        PERFORM fail('BV021', 'session name must have 1-100 characters and no control characters');
      END IF;
      IF EXISTS (SELECT 1 FROM session s WHERE s.name = p_name) THEN
        PERFORM fail('BV002', format('a session named "%s" already exists', p_name), p_name);
      END IF;
      INSERT INTO session (name, blinded, hide_model, case_selection, created_by)
        VALUES (p_name, p_blinded, p_hide_model, p_selection, v_creator) RETURNING id, created_at INTO v_sid, v_at;
      INSERT INTO audit_event (kind, session_id, rater_id, at) VALUES ('session_create', v_sid, v_creator, v_at);
      FOR v_name IN SELECT t.value FROM json_array_elements_text(p_raters::json) WITH ORDINALITY AS t(value, ord)
                    ORDER BY t.ord
      LOOP
        IF role_of(v_name) IS NULL THEN
          PERFORM fail('BV010', format('no rater named "%s"', v_name), v_name);
        END IF;
        INSERT INTO rater (name) VALUES (v_name) ON CONFLICT (name) DO NOTHING;
        SELECT r.id INTO v_rid FROM rater r WHERE r.name = v_name;
        INSERT INTO session_rater (session_id, rater_id) VALUES (v_sid, v_rid) ON CONFLICT DO NOTHING;
        IF FOUND THEN
          INSERT INTO audit_event (kind, session_id, rater_id, at) VALUES ('session_rater', v_sid, v_rid, v_at);
        END IF;
      END LOOP;
      IF NOT EXISTS (SELECT 1 FROM session_rater sr WHERE sr.session_id = v_sid) THEN
        PERFORM fail('BV021', 'a session needs at least one rater');
      END IF;
      IF p_ids IS NOT NULL THEN
        FOR v_case IN SELECT x.value::bigint FROM json_array_elements_text(p_ids::json) WITH ORDINALITY x ORDER BY x.ordinality
        LOOP
          IF NOT EXISTS (SELECT 1 FROM "case" c WHERE c.id = v_case) THEN
            PERFORM fail('BV007', format('no case %s', v_case), v_case::text);
          END IF;
          IF NOT EXISTS (SELECT 1 FROM session_case sc WHERE sc.session_id = v_sid AND sc.case_id = v_case) THEN
            INSERT INTO session_case (session_id, case_id, position) VALUES (v_sid, v_case, v_pos);
            v_pos := v_pos + 1;
          END IF;
        END LOOP;
      ELSE
        INSERT INTO session_case (session_id, case_id, position)
          SELECT v_sid, c.id, c.id FROM "case" c
          WHERE (p_split IS NULL OR c.split = p_split) AND (p_class IS NULL OR c.reference_label = p_class);
      END IF;
      SELECT count(*) INTO n FROM session_case sc WHERE sc.session_id = v_sid;
      IF n = 0 THEN
        PERFORM fail('BV021', format('no case matches %s; the session was not created', p_selection));
      END IF;
      IF p_blinded OR p_hide_model THEN
        INSERT INTO blind_pending (rater_id, case_id, session_id, hide_annotations, hide_model)
          SELECT sr.rater_id, sc.case_id, v_sid, p_blinded, p_hide_model
          FROM session_rater sr JOIN session_case sc ON sc.session_id = sr.session_id WHERE sr.session_id = v_sid;
      END IF;
      RETURN v_sid;
    END $$;

    -- Only the session's creator, or a lead, closes it.
    CREATE OR REPLACE FUNCTION session_close(p_name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v_sid bigint; v_closed timestamptz; v_creator text;
    BEGIN
      SELECT s.id, s.closed_at, r.name INTO v_sid, v_closed, v_creator
        FROM session s JOIN rater r ON r.id = s.created_by WHERE s.name = p_name;
      IF v_sid IS NULL THEN PERFORM fail('BV001', format('no session named "%s"', p_name), p_name); END IF;
      IF v_closed IS NOT NULL THEN PERFORM fail('BV003', format('session "%s" is closed', p_name), p_name); END IF;
      IF v_creator <> session_user AND role_of(session_user) IS DISTINCT FROM 'lead' AND NOT is_service() THEN
        PERFORM fail('BV006', format('only the creator of session "%s" (or a lead) may close it, not "%s"', p_name, session_user),
          session_user, p_name);
      END IF;
      UPDATE session SET closed_at = date_trunc('milliseconds', clock_timestamp()) WHERE id = v_sid
        RETURNING closed_at INTO v_closed;
      INSERT INTO audit_event (kind, session_id, at) VALUES ('session_close', v_sid, v_closed);
    END $$;
    """#
}
