/// The functions of migration `pg-v1-shared-workspace`: the only way raters, adjudicators
/// and leads reach the data (see `PGSchemaV1`).
///
/// Every public function is `SECURITY DEFINER` with a fixed `search_path` (its own schema,
/// then `pg_temp` last, so a caller's temporary objects cannot stand in for ours) and takes
/// the acting rater from `session_user`. The blinding rules are those of `Blinding.swift`:
/// while `blind_pending` has a row for (viewer, case), the viewer gets no other rater's
/// annotation of the case (history, session labels, masks, the reference label), and with
/// `hide_model` no prediction and no model file. Errors use SQLSTATE class `BV` with the
/// value in DETAIL (and a second value in HINT); `PGConnection.storeError` maps them to the
/// `StoreError`s the SQLite store throws.
enum PGFunctionsV1 {
  /// Callable by the three group roles.
  static let publicFunctions = [
    "schema_version()", "whoami()", "rater_add(text, text)", "raters()", "label_classes()", "settings()",
    "case_add(text, text, text, integer, integer, text, text, bytea)", "resolve_case(text)",
    "case_record(bigint)", "case_image(bigint)", "case_count()",
    "annotate(bigint, text, bytea, text, integer, integer, text, integer, text)",
    "annotate_as(text, bigint, text, bytea, text, integer, integer, text, integer, text)",
    "history(bigint)", "mask_png(bigint)",
    "session_create(text, text, text, text, text, text, boolean, boolean)", "session_close(text)",
    "sessions()", "current_labels(text)", "predictions(bigint)", "model_file(bigint)",
    "model_register(bigint, text, bytea, text, text, text, text, text)",
    "prediction_save(bigint, bigint, text, double precision, text)",
  ]

  static let sql = #"""
    -- Internal helpers (not granted to anyone).
    CREATE FUNCTION is_service() RETURNS boolean LANGUAGE sql STABLE AS $$
      SELECT session_user::text = (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'blastview')
        OR coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false)
    $$;

    CREATE FUNCTION role_of(p_name text) RETURNS text LANGUAGE sql STABLE AS $$
      SELECT CASE
        WHEN NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_name) THEN NULL
        WHEN pg_has_role(p_name::name, 'blastview_lead', 'MEMBER') THEN 'lead'
        WHEN pg_has_role(p_name::name, 'blastview_adjudicator', 'MEMBER') THEN 'adjudicator'
        WHEN pg_has_role(p_name::name, 'blastview_rater', 'MEMBER') THEN 'rater'
      END
    $$;

    CREATE FUNCTION fail(p_code text, p_message text, p_detail text DEFAULT '', p_hint text DEFAULT '')
    RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message, DETAIL = p_detail, HINT = p_hint;
    END $$;

    -- The caller's rater id, adding them to `rater` on first use if they hold a group role.
    CREATE FUNCTION me() RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE v_id bigint; v_name text := session_user;
    BEGIN
      SELECT r.id INTO v_id FROM rater r WHERE r.name = v_name;
      IF v_id IS NOT NULL THEN RETURN v_id; END IF;
      IF role_of(v_name) IS NULL THEN
        PERFORM fail('BV010', format('%s is not a rater of this workspace (a lead adds raters: blastview rater add)', v_name), v_name);
      END IF;
      INSERT INTO rater (name) VALUES (v_name) ON CONFLICT (name) DO NOTHING;
      SELECT r.id INTO v_id FROM rater r WHERE r.name = v_name;
      RETURN v_id;
    END $$;

    -- Who reads: NULL for the service role (sees everything), else the rater id (-1 when the
    -- role has never acted here: in no session, so nothing is hidden and nothing is theirs).
    CREATE FUNCTION viewer_id() RETURNS bigint LANGUAGE sql STABLE AS $$
      SELECT CASE WHEN is_service() THEN NULL
        ELSE coalesce((SELECT r.id FROM rater r WHERE r.name = session_user), -1) END
    $$;

    CREATE FUNCTION hidden(p_viewer bigint, p_case bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
      SELECT p_viewer IS NOT NULL AND EXISTS (
        SELECT 1 FROM blind_pending bp WHERE bp.rater_id = p_viewer AND bp.case_id = p_case AND bp.hide_annotations)
    $$;

    CREATE FUNCTION model_hidden(p_viewer bigint, p_case bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
      SELECT p_viewer IS NOT NULL AND EXISTS (
        SELECT 1 FROM blind_pending bp WHERE bp.rater_id = p_viewer AND bp.case_id = p_case AND bp.hide_model)
    $$;

    CREATE FUNCTION require_lead(p_what text) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      IF NOT is_service() AND role_of(session_user) IS DISTINCT FROM 'lead' THEN
        PERFORM fail('BV020', format('only a lead %s; %s is %s', p_what, session_user,
          coalesce('a' || CASE WHEN role_of(session_user) = 'adjudicator' THEN 'n ' ELSE ' ' END || role_of(session_user),
                   'no rater of this workspace')), session_user);
      END IF;
    END $$;

    CREATE FUNCTION require_service(p_what text) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      IF NOT is_service() THEN
        PERFORM fail('BV020', format('only the workspace''s service role %s; %s may not', p_what, session_user), session_user);
      END IF;
    END $$;

    CREATE FUNCTION append_annotation(
      p_rater bigint, p_rater_name text, p_case bigint, p_label text, p_mask_png bytea, p_mask_sha text,
      p_mask_w integer, p_mask_h integer, p_session text, p_clear integer, p_note text)
    RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
      v_w integer; v_h integer; v_sid bigint; v_closed timestamptz; v_changed integer;
      v_prev bigint; v_base_label text; v_base_mask bigint; v_label text; v_mask bigint; v_id bigint;
    BEGIN
      v_changed := coalesce(p_clear, 0) | CASE WHEN p_label IS NOT NULL THEN 1 ELSE 0 END
        | CASE WHEN p_mask_png IS NOT NULL THEN 2 ELSE 0 END;
      IF v_changed = 0 THEN
        PERFORM fail('BV008', 'nothing to record: give a label, a mask, or something to clear');
      END IF;
      SELECT c.width, c.height INTO v_w, v_h FROM "case" c WHERE c.id = p_case;
      IF NOT FOUND THEN PERFORM fail('BV007', format('no case %s', p_case), p_case::text); END IF;
      IF p_mask_png IS NOT NULL AND (p_mask_w <> v_w OR p_mask_h <> v_h) THEN
        PERFORM fail('BV012', format('mask for case %s is %s×%s, but the image is %s×%s', p_case, p_mask_w, p_mask_h, v_w, v_h),
          p_case::text, format('%s×%s|%s×%s', v_w, v_h, p_mask_w, p_mask_h));
      END IF;
      IF p_session IS NOT NULL THEN
        SELECT s.id, s.closed_at INTO v_sid, v_closed FROM session s WHERE s.name = p_session;
        IF v_sid IS NULL THEN PERFORM fail('BV001', format('no session named "%s"', p_session), p_session); END IF;
        IF v_closed IS NOT NULL THEN PERFORM fail('BV003', format('session "%s" is closed', p_session), p_session); END IF;
        IF NOT EXISTS (SELECT 1 FROM session_rater sr WHERE sr.session_id = v_sid AND sr.rater_id = p_rater) THEN
          PERFORM fail('BV004', format('rater "%s" is not a rater of session "%s"', p_rater_name, p_session), p_rater_name, p_session);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM session_case sc WHERE sc.session_id = v_sid AND sc.case_id = p_case) THEN
          PERFORM fail('BV005', format('case %s is not in session "%s"', p_case, p_session), p_case::text, p_session);
        END IF;
      END IF;
      -- One writer per (case, rater) at a time, so the chain never forks.
      PERFORM pg_advisory_xact_lock(hashtextextended('bv-annotation:' || p_case || ':' || p_rater, 0));
      SELECT ca.annotation_id, ca.label, ca.mask_id INTO v_prev, v_base_label, v_base_mask
        FROM current_annotation ca WHERE ca.case_id = p_case AND ca.rater_id = p_rater;
      IF v_sid IS NOT NULL THEN
        v_base_label := NULL; v_base_mask := NULL;
        SELECT sc.label, sc.mask_id INTO v_base_label, v_base_mask FROM session_current sc
          WHERE sc.session_id = v_sid AND sc.case_id = p_case AND sc.rater_id = p_rater;
      END IF;
      v_label := CASE WHEN p_label IS NOT NULL THEN p_label WHEN (coalesce(p_clear, 0) & 1) <> 0 THEN NULL ELSE v_base_label END;
      IF p_mask_png IS NOT NULL THEN
        INSERT INTO mask (sha256, width, height, png) VALUES (p_mask_sha, p_mask_w, p_mask_h, p_mask_png)
          ON CONFLICT (sha256) DO NOTHING;
        SELECT m.id INTO v_mask FROM mask m WHERE m.sha256 = p_mask_sha;
      ELSIF (coalesce(p_clear, 0) & 2) <> 0 THEN
        v_mask := NULL;
      ELSE
        v_mask := v_base_mask;
      END IF;
      INSERT INTO annotation (case_id, rater_id, session_id, label, mask_id, changed, supersedes, note)
        VALUES (p_case, p_rater, v_sid, v_label, v_mask, v_changed, v_prev, p_note) RETURNING id INTO v_id;
      RETURN v_id;
    END $$;

    CREATE FUNCTION annotation_rows(p_where_id bigint, p_case bigint, p_viewer bigint, p_hidden boolean)
    RETURNS TABLE (id bigint, case_id bigint, rater text, session text, label text, mask_id bigint,
                   changed integer, supersedes bigint, note text, created_at double precision)
    LANGUAGE sql STABLE AS $$
      SELECT a.id, a.case_id, r.name, s.name, a.label, a.mask_id, a.changed, a.supersedes, a.note,
             extract(epoch FROM a.created_at)::double precision
      FROM annotation a JOIN rater r ON r.id = a.rater_id LEFT JOIN session s ON s.id = a.session_id
      WHERE (p_where_id IS NULL OR a.id = p_where_id) AND (p_case IS NULL OR a.case_id = p_case)
        AND (NOT p_hidden OR a.rater_id = p_viewer)
      ORDER BY a.id
    $$;

    -- Public functions.
    CREATE FUNCTION schema_version() RETURNS SETOF text LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = blastview, pg_temp AS $$
      SELECT id FROM schema_migration ORDER BY id
    $$;

    CREATE FUNCTION whoami() RETURNS TABLE (name text, role text) LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = blastview, pg_temp AS $$
      SELECT session_user::text, CASE WHEN is_service() THEN 'service' ELSE role_of(session_user) END
    $$;

    CREATE FUNCTION rater_add(p_name text, p_role text)
    RETURNS TABLE (name text, role text, created_at double precision)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v_group text; g text; v_oid oid;
      v_owner text := (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'blastview');
    BEGIN
      PERFORM require_lead('adds raters or changes roles');
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
      INSERT INTO rater (name) VALUES (p_name) ON CONFLICT (name) DO NOTHING;
      RETURN QUERY SELECT r.name, role_of(r.name), extract(epoch FROM r.created_at)::double precision
        FROM rater r WHERE r.name = p_name;
    END $$;

    CREATE FUNCTION raters() RETURNS TABLE (name text, role text, created_at double precision)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT r.name, coalesce(role_of(r.name), 'none'), extract(epoch FROM r.created_at)::double precision
      FROM rater r ORDER BY r.id
    $$;

    CREATE FUNCTION label_classes()
    RETURNS TABLE ("position" integer, name text, key text, letter text, group_name text, aliases text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT l.position, l.name, l.key, l.letter, l.group_name, l.aliases FROM label_class l ORDER BY l.position
    $$;

    CREATE FUNCTION settings() RETURNS TABLE (key text, value text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT s.key, s.value FROM setting s ORDER BY s.key
    $$;

    CREATE FUNCTION case_add(p_path text, p_sha text, p_format text, p_w integer, p_h integer,
                             p_label text, p_split text, p_bytes bytea)
    RETURNS TABLE (id bigint, created boolean)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v_id bigint;
    BEGIN
      PERFORM require_lead('imports images');
      IF p_bytes IS NOT NULL THEN
        INSERT INTO image (sha256, bytes) VALUES (p_sha, p_bytes) ON CONFLICT (sha256) DO NOTHING;
      END IF;
      INSERT INTO "case" (path, sha256, format, width, height, reference_label, split)
        VALUES (p_path, p_sha, p_format, p_w, p_h, p_label, p_split)
        ON CONFLICT (sha256) DO NOTHING RETURNING "case".id INTO v_id;
      IF v_id IS NULL THEN
        RETURN QUERY SELECT c.id, false FROM "case" c WHERE c.sha256 = p_sha;
      ELSE
        RETURN QUERY SELECT v_id, true;
      END IF;
    END $$;

    CREATE FUNCTION resolve_case(p_text text) RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE t text := btrim(p_text); d text; v_ids bigint[]; hex text;
    BEGIN
      d := CASE WHEN left(t, 1) = '#' THEN substr(t, 2) ELSE t END;
      IF d ~ '^[0-9]{1,18}$' AND EXISTS (SELECT 1 FROM "case" c WHERE c.id = d::bigint) THEN
        RETURN d::bigint;
      END IF;
      SELECT array_agg(c.id ORDER BY c.id) INTO v_ids FROM "case" c WHERE c.path = t;
      IF cardinality(v_ids) = 1 THEN RETURN v_ids[1]; END IF;
      IF cardinality(v_ids) > 1 THEN
        PERFORM fail('BV011', format('"%s" matches several cases', p_text), array_to_string(v_ids, ','), p_text);
      END IF;
      hex := lower(t);
      IF length(hex) BETWEEN 6 AND 64 AND hex ~ '^[0-9a-f]+$' THEN
        SELECT array_agg(x.id ORDER BY x.id) INTO v_ids
          FROM (SELECT c.id FROM "case" c WHERE starts_with(c.sha256, hex) ORDER BY c.id LIMIT 20) x;
        IF cardinality(v_ids) = 1 THEN RETURN v_ids[1]; END IF;
        IF cardinality(v_ids) > 1 THEN
          PERFORM fail('BV011', format('"%s" matches several cases', p_text), array_to_string(v_ids, ','), p_text);
        END IF;
      END IF;
      PERFORM fail('BV007', format('no case matches "%s"', p_text), p_text);
      RETURN NULL;
    END $$;

    CREATE FUNCTION case_record(p_id bigint)
    RETURNS TABLE (id bigint, path text, sha256 text, format text, width integer, height integer,
                   reference_label text, split text, added_at double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id();
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM "case" c WHERE c.id = p_id) THEN
        PERFORM fail('BV007', format('no case %s', p_id), p_id::text);
      END IF;
      RETURN QUERY SELECT c.id, c.path, c.sha256, c.format, c.width, c.height,
        CASE WHEN hidden(v, c.id) THEN NULL ELSE c.reference_label END, c.split,
        extract(epoch FROM c.added_at)::double precision
      FROM "case" c WHERE c.id = p_id;
    END $$;

    CREATE FUNCTION case_image(p_id bigint) RETURNS TABLE (sha256 text, bytes bytea)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT i.sha256, i.bytes FROM "case" c JOIN image i ON i.sha256 = c.sha256 WHERE c.id = p_id
    $$;

    CREATE FUNCTION case_count() RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT count(*) FROM "case"
    $$;

    CREATE FUNCTION annotate(p_case bigint, p_label text, p_mask_png bytea, p_mask_sha text, p_mask_w integer,
                             p_mask_h integer, p_session text, p_clear integer, p_note text)
    RETURNS TABLE (id bigint, case_id bigint, rater text, session text, label text, mask_id bigint,
                   changed integer, supersedes bigint, note text, created_at double precision)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v_me bigint := me(); v_id bigint;
    BEGIN
      v_id := append_annotation(v_me, session_user, p_case, p_label, p_mask_png, p_mask_sha, p_mask_w, p_mask_h,
                                p_session, p_clear, p_note);
      RETURN QUERY SELECT * FROM annotation_rows(v_id, NULL, NULL, false);
    END $$;

    -- Writing as another rater: only the service role (migration from an embedded workspace).
    CREATE FUNCTION annotate_as(p_rater text, p_case bigint, p_label text, p_mask_png bytea, p_mask_sha text,
                                p_mask_w integer, p_mask_h integer, p_session text, p_clear integer, p_note text)
    RETURNS TABLE (id bigint, case_id bigint, rater text, session text, label text, mask_id bigint,
                   changed integer, supersedes bigint, note text, created_at double precision)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v_rater bigint; v_id bigint;
    BEGIN
      PERFORM require_service('writes annotations in another rater''s name');
      SELECT r.id INTO v_rater FROM rater r WHERE r.name = p_rater;
      IF v_rater IS NULL THEN PERFORM fail('BV010', format('no rater named "%s"', p_rater), p_rater); END IF;
      v_id := append_annotation(v_rater, p_rater, p_case, p_label, p_mask_png, p_mask_sha, p_mask_w, p_mask_h,
                                p_session, p_clear, p_note);
      RETURN QUERY SELECT * FROM annotation_rows(v_id, NULL, NULL, false);
    END $$;

    CREATE FUNCTION history(p_case bigint)
    RETURNS TABLE (id bigint, case_id bigint, rater text, session text, label text, mask_id bigint,
                   changed integer, supersedes bigint, note text, created_at double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v bigint := viewer_id();
    BEGIN
      RETURN QUERY SELECT * FROM annotation_rows(NULL, p_case, v, hidden(v, p_case));
    END $$;

    -- A mask is readable when something the viewer may see refers to it.
    CREATE FUNCTION mask_png(p_id bigint) RETURNS TABLE (sha256 text, width integer, height integer, png bytea)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id();
    BEGIN
      IF v IS NULL
         OR EXISTS (SELECT 1 FROM annotation a WHERE a.mask_id = p_id AND (a.rater_id = v OR NOT hidden(v, a.case_id)))
         OR EXISTS (SELECT 1 FROM reference_mask rm WHERE rm.mask_id = p_id AND NOT hidden(v, rm.case_id))
         OR EXISTS (SELECT 1 FROM adjudication j WHERE j.mask_id = p_id AND NOT hidden(v, j.case_id))
         OR EXISTS (SELECT 1 FROM prediction p WHERE p.mask_id = p_id AND NOT model_hidden(v, p.case_id)) THEN
        RETURN QUERY SELECT m.sha256, m.width, m.height, m.png FROM mask m WHERE m.id = p_id;
      END IF;
    END $$;

    CREATE FUNCTION session_create(p_name text, p_raters text, p_selection text, p_split text, p_class text,
                                   p_ids text, p_blinded boolean, p_hide_model boolean)
    RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v_creator bigint := me(); v_sid bigint; v_name text; v_rid bigint; v_case bigint; v_pos integer := 0; n bigint;
    BEGIN
      IF p_name IS NULL OR length(p_name) = 0 OR length(p_name) > 100 OR p_name ~ '[[:cntrl:]]' THEN
        PERFORM fail('BV021', 'session name must have 1-100 characters and no control characters');
      END IF;
      IF EXISTS (SELECT 1 FROM session s WHERE s.name = p_name) THEN
        PERFORM fail('BV002', format('a session named "%s" already exists', p_name), p_name);
      END IF;
      INSERT INTO session (name, blinded, hide_model, case_selection, created_by)
        VALUES (p_name, p_blinded, p_hide_model, p_selection, v_creator) RETURNING id INTO v_sid;
      FOR v_name IN SELECT DISTINCT t.value FROM json_array_elements_text(p_raters::json) AS t(value)
      LOOP
        IF role_of(v_name) IS NULL THEN
          PERFORM fail('BV010', format('no rater named "%s"', v_name), v_name);
        END IF;
        INSERT INTO rater (name) VALUES (v_name) ON CONFLICT (name) DO NOTHING;
        SELECT r.id INTO v_rid FROM rater r WHERE r.name = v_name;
        INSERT INTO session_rater (session_id, rater_id) VALUES (v_sid, v_rid) ON CONFLICT DO NOTHING;
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
    CREATE FUNCTION session_close(p_name text) RETURNS void
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
      UPDATE session SET closed_at = clock_timestamp() WHERE id = v_sid;
    END $$;

    CREATE FUNCTION sessions()
    RETURNS TABLE (id bigint, name text, blinded boolean, hide_model boolean, case_selection text, created_by text,
                   created_at double precision, closed_at double precision, raters text, n_cases bigint, labelled text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT s.id, s.name, s.blinded, s.hide_model, s.case_selection, r.name,
        extract(epoch FROM s.created_at)::double precision, extract(epoch FROM s.closed_at)::double precision,
        coalesce((SELECT json_agg(r2.name ORDER BY r2.name COLLATE "C") FROM session_rater sr
                  JOIN rater r2 ON r2.id = sr.rater_id WHERE sr.session_id = s.id), '[]'::json)::text,
        (SELECT count(*) FROM session_case sc WHERE sc.session_id = s.id),
        coalesce((SELECT json_object_agg(r3.name, x.n) FROM
                   (SELECT cur.rater_id, count(*) AS n FROM session_current cur
                    WHERE cur.session_id = s.id AND cur.label IS NOT NULL GROUP BY cur.rater_id) x
                  JOIN rater r3 ON r3.id = x.rater_id), '{}'::json)::text
      FROM session s JOIN rater r ON r.id = s.created_by ORDER BY s.id DESC
    $$;

    CREATE FUNCTION current_labels(p_session text) RETURNS TABLE (case_id bigint, rater text, label text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id(); v_sid bigint;
    BEGIN
      SELECT s.id INTO v_sid FROM session s WHERE s.name = p_session;
      IF v_sid IS NULL THEN PERFORM fail('BV001', format('no session named "%s"', p_session), p_session); END IF;
      RETURN QUERY SELECT cur.case_id, r.name, cur.label FROM session_current cur JOIN rater r ON r.id = cur.rater_id
        WHERE cur.session_id = v_sid AND cur.label IS NOT NULL
          AND (v IS NULL OR cur.rater_id = v OR NOT hidden(v, cur.case_id))
        ORDER BY cur.case_id, r.name COLLATE "C";
    END $$;

    CREATE FUNCTION predictions(p_case bigint)
    RETURNS TABLE (model_version bigint, label text, confidence double precision, probabilities text, mask_id bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id();
    BEGIN
      IF model_hidden(v, p_case) THEN RETURN; END IF;
      RETURN QUERY SELECT p.model_version, p.label, p.confidence, p.probabilities, p.mask_id
        FROM prediction p WHERE p.case_id = p_case ORDER BY p.model_version;
    END $$;

    -- The model's weights are withheld while the viewer has any case pending under --hide-model:
    -- running the model yourself would reveal what the session hides.
    CREATE FUNCTION model_file(p_version bigint) RETURNS TABLE (sha256 text, bytes bytea)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id();
    BEGIN
      IF v IS NOT NULL AND EXISTS (SELECT 1 FROM blind_pending bp WHERE bp.rater_id = v AND bp.hide_model) THEN
        PERFORM fail('BV022', format('the model files are hidden from %s while a session hides the model from them', session_user),
          session_user);
      END IF;
      RETURN QUERY SELECT f.sha256, f.bytes FROM model m JOIN model_file f ON f.sha256 = m.sha256 WHERE m.version = p_version;
    END $$;

    CREATE FUNCTION model_register(p_parent bigint, p_sha text, p_bytes bytea, p_tasks text, p_trained text,
                                   p_frozen text, p_metrics text, p_config text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v_version bigint;
    BEGIN
      PERFORM require_service('registers models');
      INSERT INTO model_file (sha256, bytes) VALUES (p_sha, p_bytes) ON CONFLICT (sha256) DO NOTHING;
      INSERT INTO model (parent, sha256, tasks, trained_tasks, frozen_tasks, metrics, config)
        VALUES (p_parent, p_sha, p_tasks, p_trained, p_frozen, coalesce(p_metrics, '{}'), coalesce(p_config, '{}'))
        RETURNING version INTO v_version;
      RETURN v_version;
    END $$;

    CREATE FUNCTION prediction_save(p_case bigint, p_model bigint, p_label text, p_confidence double precision,
                                    p_probabilities text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    BEGIN
      PERFORM require_service('stores predictions');
      INSERT INTO prediction (case_id, model_version, label, confidence, probabilities)
        VALUES (p_case, p_model, p_label, p_confidence, p_probabilities)
        ON CONFLICT (case_id, model_version) DO UPDATE SET label = EXCLUDED.label,
          confidence = EXCLUDED.confidence, probabilities = EXCLUDED.probabilities;
    END $$;
    """#
}
