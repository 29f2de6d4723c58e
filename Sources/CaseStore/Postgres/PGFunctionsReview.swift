/// Migration `pg-v5-review`: the functions the review TUI needs on a shared workspace (browse,
/// case view, mask edits, triage, adjudication), so `blastview review` works on PostgreSQL
/// with the same rules as on SQLite (`ReviewStore`).
///
/// Like every function of `PGFunctionsV1`, each public one is `SECURITY DEFINER`, takes the
/// caller from `session_user` and applies the blinding rules of `Blinding.swift` in the server:
/// a rater with `psql` gets from them exactly what the TUI shows him. Nothing here grants a
/// table. Adjudication is refused by the database to anyone without the adjudicator role.
///
/// The migration also replaces `case_record`: a blinded case's import path carries its class
/// (`images/lymphocyte/025.png`), so while the viewer is blinded for the case it reads as the
/// opaque `case-<id>`, as on SQLite (issue 15, item 10).
enum PGFunctionsReview {
  static let id = "pg-v5-review"

  /// Callable by the three group roles.
  static let publicFunctions = [
    "promoted_model()", "change_version()",
    "case_page(text, text, text, boolean, boolean, text, boolean, double precision, text, text, boolean, boolean, "
      + "boolean, double precision, bigint, integer)",
    "case_page_count(text, text, text, boolean, boolean, text, boolean, double precision, text)",
    "case_flags(bigint)", "current_annotations(bigint, text)", "case_prediction(bigint)",
    "adjudications(bigint)", "adjudicate(bigint, text, bytea, text, integer, integer, text, text)",
    "triage_candidates(text, double precision)", "mask_edit_state(bigint, text, bigint)", "image_bytes(text)",
  ]

  static let sql = #"""
    -- Internal helpers (not granted to anyone).
    CREATE FUNCTION promoted_version() RETURNS bigint LANGUAGE sql STABLE AS $$
      SELECT p.model_version FROM model_promotion p ORDER BY p.id DESC LIMIT 1
    $$;

    -- The session a viewer reads in: its raters, its creator and adjudicators may (as SQLite's
    -- viewerSessionID); anyone else is refused.
    CREATE FUNCTION viewer_session(p_viewer bigint, p_session text) RETURNS bigint
    LANGUAGE plpgsql STABLE AS $$
    DECLARE v_sid bigint;
    BEGIN
      IF p_session IS NULL THEN RETURN NULL; END IF;
      SELECT s.id INTO v_sid FROM session s WHERE s.name = p_session;
      IF v_sid IS NULL THEN PERFORM fail('BV001', format('no session named "%s"', p_session), p_session); END IF;
      IF p_viewer IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM session_rater sr WHERE sr.session_id = v_sid AND sr.rater_id = p_viewer)
         AND NOT EXISTS (SELECT 1 FROM session s WHERE s.id = v_sid AND s.created_by = p_viewer)
         AND role_of(session_user) IS DISTINCT FROM 'adjudicator' THEN
        PERFORM fail('BV004', format('rater "%s" is not a rater of session "%s"', session_user, p_session),
          session_user, p_session);
      END IF;
      RETURN v_sid;
    END $$;

    -- Every case (or the session's) as the viewer may see it, with the sort key of `p_sort`:
    -- what SQLite's case_status and CasePageQuery compute. Blinded: no other rater's labels,
    -- no disagreement, no adjudication, the opaque path; model hidden: no prediction.
    CREATE FUNCTION case_listing(p_viewer bigint, p_sid bigint, p_sort text)
    RETURNS TABLE (id bigint, path text, sha256 text, width integer, height integer, split text,
                   added_at double precision, pred_label text, pred_confidence double precision, pred_model bigint,
                   my_label text, my_mask boolean, my_time double precision, disagreement boolean, n_labels integer,
                   blinded boolean, model_hidden boolean, adjudicated boolean, real_path text, k double precision)
    LANGUAGE sql STABLE AS $$
      SELECT x.id, CASE WHEN x.bl THEN 'case-' || x.id ELSE x.path END, x.sha256, x.width, x.height, x.split, x.added,
        CASE WHEN x.mh THEN NULL ELSE x.plabel END, CASE WHEN x.mh THEN NULL ELSE x.pconf END,
        CASE WHEN x.mh THEN NULL ELSE x.pmodel END,
        x.mlabel, x.mmask IS NOT NULL, x.mtime,
        CASE WHEN x.bl THEN NULL ELSE x.dis END, CASE WHEN x.bl THEN NULL ELSE x.n END,
        x.bl, x.mh,
        CASE WHEN x.bl THEN NULL ELSE EXISTS (SELECT 1 FROM adjudication j WHERE j.case_id = x.id) END,
        x.path,
        CASE p_sort
          WHEN 'confidence' THEN CASE WHEN x.mh THEN NULL ELSE x.pconf END
          WHEN 'added' THEN x.added
          WHEN 'myLastEdit' THEN x.mtime
          WHEN 'sessionQueue' THEN (CASE WHEN x.mlabel IS NOT NULL THEN 4294967296 ELSE 0 END + x.pos)::double precision
          ELSE NULL END
      FROM (
        SELECT c.id, c.path, c.sha256, c.width, c.height, c.split,
          extract(epoch FROM c.added_at)::double precision AS added,
          hidden(p_viewer, c.id) AS bl, model_hidden(p_viewer, c.id) AS mh,
          p.label AS plabel, p.confidence AS pconf, p.model_version AS pmodel,
          CASE WHEN p_sid IS NULL THEN ca.label ELSE scur.label END AS mlabel,
          CASE WHEN p_sid IS NULL THEN ca.mask_id ELSE scur.mask_id END AS mmask,
          extract(epoch FROM CASE WHEN p_sid IS NULL THEN ca.created_at ELSE scur.created_at END)::double precision AS mtime,
          sc.position AS pos, agg.n, agg.dis
        FROM "case" c
        LEFT JOIN session_case sc ON sc.session_id = p_sid AND sc.case_id = c.id
        LEFT JOIN prediction p ON p.case_id = c.id AND p.model_version = promoted_version()
        LEFT JOIN current_annotation ca ON p_sid IS NULL AND ca.case_id = c.id AND ca.rater_id = p_viewer
        LEFT JOIN session_current scur ON scur.session_id = p_sid AND scur.case_id = c.id AND scur.rater_id = p_viewer
        CROSS JOIN LATERAL (
          SELECT count(*)::integer AS n, count(DISTINCT l.label) > 1 AS dis FROM (
            SELECT a.label FROM current_annotation a WHERE p_sid IS NULL AND a.case_id = c.id AND a.label IS NOT NULL
            UNION ALL
            SELECT s.label FROM session_current s
            WHERE s.session_id = p_sid AND s.case_id = c.id AND s.label IS NOT NULL) l) agg
        WHERE p_sid IS NULL OR sc.case_id IS NOT NULL) x
    $$;

    -- The browser's filters (CaseFilter), on what the viewer may see.
    CREATE FUNCTION case_filtered(p_viewer bigint, p_sid bigint, p_sort text, p_pred text, p_mine text,
                                  p_unreviewed boolean, p_disagreement boolean, p_split text, p_adjudicated boolean,
                                  p_conf_below double precision, p_search text)
    RETURNS TABLE (id bigint, path text, sha256 text, width integer, height integer, split text,
                   added_at double precision, pred_label text, pred_confidence double precision, pred_model bigint,
                   my_label text, my_mask boolean, my_time double precision, disagreement boolean, n_labels integer,
                   blinded boolean, model_hidden boolean, adjudicated boolean, real_path text, k double precision)
    LANGUAGE sql STABLE AS $$
      SELECT l.* FROM case_listing(p_viewer, p_sid, p_sort) l
      WHERE (p_pred IS NULL OR l.pred_label = p_pred)
        AND (p_mine IS NULL OR l.my_label = p_mine)
        AND (NOT p_unreviewed OR l.my_label IS NULL)
        AND (NOT p_disagreement OR coalesce(l.disagreement, false))
        AND (p_split IS NULL OR l.split = p_split)
        AND (NOT p_adjudicated OR coalesce(l.adjudicated, false))
        AND (p_conf_below IS NULL OR l.pred_confidence < p_conf_below)
        AND (p_search IS NULL OR CASE
          WHEN p_search ~ '^#?[0-9]{1,18}$' THEN l.id = ltrim(p_search, '#')::bigint
          ELSE (strpos(lower(l.real_path), lower(p_search)) > 0 AND NOT l.blinded)
            OR (length(p_search) >= 6 AND lower(p_search) ~ '^[0-9a-f]+$' AND starts_with(l.sha256, lower(p_search)))
          END)
    $$;

    CREATE FUNCTION annotation_mask_of(p_annotation bigint, p_rater bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
      SELECT a.mask_id FROM annotation a WHERE a.id = p_annotation AND a.rater_id = p_rater
    $$;

    -- Public functions.
    -- OR REPLACE: migration pg-v3-session-agreement defines the same function, to the letter.
    CREATE OR REPLACE FUNCTION promoted_model() RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT p.model_version FROM model_promotion p ORDER BY p.id DESC LIMIT 1
    $$;

    -- Moves whenever anything the review app shows may have changed (as SQLite's data_version):
    -- the newest annotation, adjudication, session event and promotion.
    CREATE FUNCTION change_version() RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT (SELECT coalesce(max(id), 0) FROM annotation) + (SELECT coalesce(max(id), 0) FROM adjudication)
        + (SELECT coalesce(max(id), 0) FROM session) + (SELECT count(closed_at) FROM session)
        + (SELECT coalesce(max(id), 0) FROM model_promotion) + (SELECT count(*) FROM prediction)
    $$;

    -- One page of the browser in keyset order: SQLite's order, NULL keys first ascending and
    -- last descending, ties by case id in the same direction. `p_asc` is the query's direction
    -- (already reversed by the caller when paging backward).
    CREATE FUNCTION case_page(p_session text, p_pred text, p_mine text, p_unreviewed boolean,
                              p_disagreement boolean, p_split text, p_adjudicated boolean,
                              p_conf_below double precision, p_search text, p_sort text, p_asc boolean,
                              p_has_cursor boolean, p_cursor_null boolean, p_cursor_key double precision,
                              p_cursor_id bigint, p_limit integer)
    RETURNS TABLE (id bigint, path text, sha256 text, width integer, height integer, split text,
                   added_at double precision, pred_label text, pred_confidence double precision, pred_model bigint,
                   my_label text, my_mask boolean, my_time double precision, disagreement boolean, n_labels integer,
                   blinded boolean, model_hidden boolean, adjudicated boolean, k double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v bigint := viewer_id(); v_sid bigint := viewer_session(viewer_id(), p_session);
    BEGIN
      IF p_sort = 'sessionQueue' AND v_sid IS NULL THEN
        PERFORM fail('BV021', 'the session queue order needs a session');
      END IF;
      RETURN QUERY SELECT l.id, l.path, l.sha256, l.width, l.height, l.split, l.added_at, l.pred_label,
          l.pred_confidence, l.pred_model, l.my_label, l.my_mask, l.my_time, l.disagreement, l.n_labels,
          l.blinded, l.model_hidden, l.adjudicated, l.k
        FROM case_filtered(v, v_sid, p_sort, p_pred, p_mine, p_unreviewed, p_disagreement, p_split,
                           p_adjudicated, p_conf_below, p_search) l
        WHERE NOT p_has_cursor OR CASE
          WHEN p_sort = 'id' THEN CASE WHEN p_asc THEN l.id > p_cursor_id ELSE l.id < p_cursor_id END
          WHEN p_cursor_null THEN CASE WHEN p_asc THEN (l.k IS NULL AND l.id > p_cursor_id) OR l.k IS NOT NULL
                                       ELSE l.k IS NULL AND l.id < p_cursor_id END
          WHEN p_asc THEN l.k > p_cursor_key OR (l.k = p_cursor_key AND l.id > p_cursor_id)
          ELSE l.k < p_cursor_key OR (l.k = p_cursor_key AND l.id < p_cursor_id) OR l.k IS NULL
          END
        ORDER BY CASE WHEN p_asc THEN l.k END ASC NULLS FIRST, CASE WHEN NOT p_asc THEN l.k END DESC NULLS LAST,
          CASE WHEN p_asc THEN l.id END ASC, CASE WHEN NOT p_asc THEN l.id END DESC
        LIMIT greatest(1, least(p_limit, 1001));
    END $$;

    CREATE FUNCTION case_page_count(p_session text, p_pred text, p_mine text, p_unreviewed boolean,
                                    p_disagreement boolean, p_split text, p_adjudicated boolean,
                                    p_conf_below double precision, p_search text) RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v bigint := viewer_id(); v_sid bigint := viewer_session(viewer_id(), p_session); n bigint;
    BEGIN
      SELECT count(*) INTO n FROM case_filtered(v, v_sid, 'id', p_pred, p_mine, p_unreviewed, p_disagreement,
        p_split, p_adjudicated, p_conf_below, p_search);
      RETURN n;
    END $$;

    -- What the case view needs besides annotations: whether the viewer is blinded for the case
    -- or the model is hidden from them, and the reference mask from import (nil while blinded).
    CREATE FUNCTION case_flags(p_case bigint)
    RETURNS TABLE (blinded boolean, model_hidden boolean, reference_mask bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v bigint := viewer_id();
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM "case" c WHERE c.id = p_case) THEN
        PERFORM fail('BV007', format('no case %s', p_case), p_case::text);
      END IF;
      RETURN QUERY SELECT hidden(v, p_case), model_hidden(v, p_case),
        CASE WHEN hidden(v, p_case) THEN NULL
          ELSE (SELECT rm.mask_id FROM reference_mask rm WHERE rm.case_id = p_case) END;
    END $$;

    -- Every rater's current annotation of the case (in the session when given), the viewer's
    -- own always, others' only while blinding allows.
    CREATE FUNCTION current_annotations(p_case bigint, p_session text)
    RETURNS TABLE (id bigint, case_id bigint, rater text, session text, label text, mask_id bigint,
                   changed integer, supersedes bigint, note text, created_at double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v bigint := viewer_id(); v_sid bigint := viewer_session(viewer_id(), p_session);
      v_hidden boolean := hidden(viewer_id(), p_case);
    BEGIN
      RETURN QUERY SELECT a.id, a.case_id, r.name, s.name, a.label, a.mask_id, a.changed, a.supersedes, a.note,
          extract(epoch FROM a.created_at)::double precision
        FROM annotation a JOIN rater r ON r.id = a.rater_id LEFT JOIN session s ON s.id = a.session_id
        WHERE a.id IN (SELECT ca.annotation_id FROM current_annotation ca WHERE v_sid IS NULL AND ca.case_id = p_case
                       UNION ALL
                       SELECT sc.annotation_id FROM session_current sc WHERE sc.session_id = v_sid AND sc.case_id = p_case)
          AND (NOT v_hidden OR a.rater_id = v)
        ORDER BY r.name COLLATE "C";
    END $$;

    -- The promoted model's prediction of the case; nothing while the model is hidden from the viewer.
    CREATE FUNCTION case_prediction(p_case bigint)
    RETURNS TABLE (model_version bigint, label text, confidence double precision, probabilities text,
                   p_malignant double precision, mask_id bigint, detections text, colour_distance double precision,
                   colour_unusual boolean, created_at double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v bigint := viewer_id();
    BEGIN
      IF model_hidden(v, p_case) THEN RETURN; END IF;
      RETURN QUERY SELECT p.model_version, p.label, p.confidence, p.probabilities, p.p_malignant, p.mask_id,
          p.detections, p.colour_distance, p.colour_unusual, extract(epoch FROM p.created_at)::double precision
        FROM prediction p WHERE p.case_id = p_case AND p.model_version = promoted_version();
    END $$;

    -- The case's adjudications, oldest first; none while the viewer is blinded for it.
    CREATE FUNCTION adjudications(p_case bigint)
    RETURNS TABLE (id bigint, case_id bigint, label text, mask_id bigint, adjudicator text, session text,
                   reason text, supersedes bigint, created_at double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v bigint := viewer_id();
    BEGIN
      IF hidden(v, p_case) THEN RETURN; END IF;
      RETURN QUERY SELECT j.id, j.case_id, j.label, j.mask_id, r.name, s.name, j.reason, j.supersedes,
          extract(epoch FROM j.created_at)::double precision
        FROM adjudication j JOIN rater r ON r.id = j.adjudicator_id LEFT JOIN session s ON s.id = j.session_id
        WHERE j.case_id = p_case ORDER BY j.id;
    END $$;

    -- A final label. Only a member of blastview_adjudicator may (the database refuses anyone
    -- else, whatever client they use); a reason is required; the newest is the final label.
    CREATE FUNCTION adjudicate(p_case bigint, p_label text, p_mask_png bytea, p_mask_sha text, p_mask_w integer,
                               p_mask_h integer, p_reason text, p_session text)
    RETURNS TABLE (id bigint, case_id bigint, label text, mask_id bigint, adjudicator text, session text,
                   reason text, supersedes bigint, created_at double precision)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v_me bigint; v_w integer; v_h integer; v_sid bigint; v_mask bigint; v_prev bigint; v_id bigint;
    BEGIN
      IF role_of(session_user) IS DISTINCT FROM 'adjudicator' THEN
        PERFORM fail('BV009', format('rater "%s" does not have the adjudicator role', session_user), session_user);
      END IF;
      v_me := me();
      IF p_reason IS NULL OR length(btrim(p_reason)) = 0 THEN
        PERFORM fail('BV021', 'an adjudication needs a reason');
      END IF;
      IF NOT EXISTS (SELECT 1 FROM label_class lc WHERE lc.name = p_label) THEN
        PERFORM fail('BV021', format('unknown label "%s"', p_label));
      END IF;
      SELECT c.width, c.height INTO v_w, v_h FROM "case" c WHERE c.id = p_case;
      IF NOT FOUND THEN PERFORM fail('BV007', format('no case %s', p_case), p_case::text); END IF;
      IF p_mask_png IS NOT NULL AND (p_mask_w <> v_w OR p_mask_h <> v_h) THEN
        PERFORM fail('BV012', format('mask for case %s is %s×%s, but the image is %s×%s', p_case, p_mask_w, p_mask_h, v_w, v_h),
          p_case::text, format('%s×%s|%s×%s', v_w, v_h, p_mask_w, p_mask_h));
      END IF;
      IF p_session IS NOT NULL THEN
        SELECT s.id INTO v_sid FROM session s WHERE s.name = p_session;
        IF v_sid IS NULL THEN PERFORM fail('BV001', format('no session named "%s"', p_session), p_session); END IF;
      END IF;
      IF p_mask_png IS NOT NULL THEN
        INSERT INTO mask (sha256, width, height, png) VALUES (p_mask_sha, p_mask_w, p_mask_h, p_mask_png)
          ON CONFLICT (sha256) DO NOTHING;
        SELECT m.id INTO v_mask FROM mask m WHERE m.sha256 = p_mask_sha;
      END IF;
      -- One adjudicator at a time per case, so the chain never forks.
      PERFORM pg_advisory_xact_lock(hashtextextended('bv-adjudication:' || p_case, 0));
      SELECT max(j.id) INTO v_prev FROM adjudication j WHERE j.case_id = p_case;
      INSERT INTO adjudication (case_id, label, mask_id, adjudicator_id, session_id, reason, supersedes)
        VALUES (p_case, p_label, v_mask, v_me, v_sid, btrim(p_reason), v_prev) RETURNING adjudication.id INTO v_id;
      RETURN QUERY SELECT j.id, j.case_id, j.label, j.mask_id, r.name, s.name, j.reason, j.supersedes,
          extract(epoch FROM j.created_at)::double precision
        FROM adjudication j JOIN rater r ON r.id = j.adjudicator_id LEFT JOIN session s ON s.id = j.session_id
        WHERE j.id = v_id;
    END $$;

    -- Triage candidates (SQLite's triageQueue query): labelled or low-confidence cases without an
    -- adjudication that the viewer is not blinded for, with every visible rater label (JSON
    -- object rater → label). The caller ranks them (CaseStore.triageItems).
    CREATE FUNCTION triage_candidates(p_session text, p_conf_below double precision)
    RETURNS TABLE (case_id bigint, pred_label text, pred_confidence double precision, labels text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v bigint := viewer_id(); v_sid bigint;
    BEGIN
      IF p_session IS NOT NULL THEN
        SELECT s.id INTO v_sid FROM session s WHERE s.name = p_session;
        IF v_sid IS NULL THEN PERFORM fail('BV001', format('no session named "%s"', p_session), p_session); END IF;
      END IF;
      RETURN QUERY SELECT x.id,
          CASE WHEN x.mh THEN NULL ELSE x.plabel END, CASE WHEN x.mh THEN NULL ELSE x.pconf END, x.labels
        FROM (
          SELECT c.id, model_hidden(v, c.id) AS mh, p.label AS plabel, p.confidence AS pconf,
            (SELECT json_object_agg(r.name, l.label)::text FROM (
               SELECT a.rater_id, a.label FROM current_annotation a
               WHERE v_sid IS NULL AND a.case_id = c.id AND a.label IS NOT NULL
               UNION ALL
               SELECT s.rater_id, s.label FROM session_current s
               WHERE s.session_id = v_sid AND s.case_id = c.id AND s.label IS NOT NULL) l
             JOIN rater r ON r.id = l.rater_id) AS labels
          FROM "case" c
          LEFT JOIN prediction p ON p.case_id = c.id AND p.model_version = promoted_version()
          WHERE (v_sid IS NULL OR EXISTS (SELECT 1 FROM session_case sc WHERE sc.session_id = v_sid AND sc.case_id = c.id))
            AND NOT EXISTS (SELECT 1 FROM adjudication j WHERE j.case_id = c.id)
            AND NOT hidden(v, c.id)) x
        WHERE x.labels IS NOT NULL OR (x.pconf < p_conf_below AND NOT x.mh)
        ORDER BY x.id;
    END $$;

    -- Where a mask edit of the caller's lands, under the same per-(case, rater) lock as
    -- `annotate` (held to the end of the caller's transaction, so the merge and the insert
    -- that follow see no other save in between): the current annotation and its mask, and the
    -- mask of the caller's own annotation the edit was based on.
    CREATE FUNCTION mask_edit_state(p_case bigint, p_session text, p_base bigint)
    RETURNS TABLE (current_id bigint, current_mask bigint, base_mask bigint)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v_me bigint := me(); v_sid bigint;
    BEGIN
      IF p_session IS NOT NULL THEN
        SELECT s.id INTO v_sid FROM session s WHERE s.name = p_session;
        IF v_sid IS NULL THEN PERFORM fail('BV001', format('no session named "%s"', p_session), p_session); END IF;
      END IF;
      PERFORM pg_advisory_xact_lock(hashtextextended('bv-annotation:' || p_case || ':' || v_me, 0));
      IF v_sid IS NULL THEN
        RETURN QUERY SELECT (SELECT ca.annotation_id FROM current_annotation ca WHERE ca.case_id = p_case AND ca.rater_id = v_me),
          (SELECT ca.mask_id FROM current_annotation ca WHERE ca.case_id = p_case AND ca.rater_id = v_me),
          annotation_mask_of(p_base, v_me);
      ELSE
        RETURN QUERY SELECT
          (SELECT sc.annotation_id FROM session_current sc WHERE sc.session_id = v_sid AND sc.case_id = p_case AND sc.rater_id = v_me),
          (SELECT sc.mask_id FROM session_current sc WHERE sc.session_id = v_sid AND sc.case_id = p_case AND sc.rater_id = v_me),
          annotation_mask_of(p_base, v_me);
      END IF;
    END $$;

    -- A case's image by its SHA-256 (the browser's content address); images are not blinded.
    CREATE FUNCTION image_bytes(p_sha text) RETURNS bytea
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT i.bytes FROM image i WHERE i.sha256 = p_sha AND EXISTS (SELECT 1 FROM "case" c WHERE c.sha256 = p_sha)
    $$;

    DROP FUNCTION case_record(bigint);
    CREATE FUNCTION case_record(p_id bigint)
    RETURNS TABLE (id bigint, path text, sha256 text, format text, width integer, height integer,
                   reference_label text, split text, added_at double precision, blinded boolean)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id();
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM "case" c WHERE c.id = p_id) THEN
        PERFORM fail('BV007', format('no case %s', p_id), p_id::text);
      END IF;
      RETURN QUERY SELECT c.id, CASE WHEN hidden(v, c.id) THEN 'case-' || c.id ELSE c.path END, c.sha256, c.format,
        c.width, c.height, CASE WHEN hidden(v, c.id) THEN NULL ELSE c.reference_label END, c.split,
        extract(epoch FROM c.added_at)::double precision, hidden(v, c.id)
      FROM "case" c WHERE c.id = p_id;
    END $$;
    """#
}
