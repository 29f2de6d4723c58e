/// Migration `pg-v6-app-exports-screening`: what the rest of the app and the CLI read on a
/// shared workspace (issues 16 and 18): the workspace-wide reads of `export --format json|coco`,
/// `--final`, `--include-reference` and `cases.csv`, the screening operating point of the
/// promoted model (from its checkpoint's header, not its weights), and triage's P(malignant).
/// (The browser's screening filter is `p_pmal` of `pg-v6-perf-browser`'s `case_page`.)
///
/// As every public function before it: `SECURITY DEFINER`, the caller from `session_user`, the
/// blinding of `Blinding.swift` applied in the server (no prediction while the model is hidden
/// from the viewer for the case), and no table granted. Self-contained: it defines only new
/// functions and uses only those of migrations v1-v5.
enum PGAppV6 {
  static let id = "pg-v6-app-exports-screening"

  /// Callable by the three group roles.
  static let publicFunctions = [
    "export_case_ids(text)", "export_session_cases()", "export_raters()", "export_models()",
    "export_predictions()", "export_training_jobs()", "model_metadata(bigint)",
    "triage_candidates_screened(text, double precision)",
  ]

  static let sql = #"""
    -- The cases an export or a study report covers: the session's, else every case (case ids
    -- are not blinded; what is known of each case is).
    CREATE FUNCTION export_case_ids(p_session text) RETURNS SETOF bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v_sid bigint;
    BEGIN
      IF p_session IS NULL THEN
        RETURN QUERY SELECT c.id FROM "case" c ORDER BY c.id;
        RETURN;
      END IF;
      v_sid := session_id_of(p_session);
      RETURN QUERY SELECT sc.case_id FROM session_case sc WHERE sc.session_id = v_sid ORDER BY sc.case_id;
    END $$;

    -- Every session's cases in session order (the JSON dump's `sessionCases`).
    CREATE FUNCTION export_session_cases() RETURNS TABLE (session text, case_id bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT s.name, sc.case_id FROM session_case sc JOIN session s ON s.id = sc.session_id
      ORDER BY s.id, sc.position
    $$;

    CREATE FUNCTION export_raters() RETURNS TABLE (id bigint, name text, role text, created_at double precision)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT r.id, r.name, coalesce(role_of(r.name), 'none'), extract(epoch FROM r.created_at)::double precision
      FROM rater r ORDER BY r.id
    $$;

    -- The model registry without the weights (those stay behind model_file's hide-model rule).
    CREATE FUNCTION export_models()
    RETURNS TABLE (version bigint, parent bigint, sha256 text, tasks text, trained_tasks text, frozen_tasks text,
                   frozen_verified boolean, metrics text, config text, training_job_id bigint,
                   trained_through_annotation bigint, notes text, created_at double precision, promoted boolean,
                   promoted_at double precision)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT m.version, m.parent, m.sha256, m.tasks, m.trained_tasks, m.frozen_tasks, m.frozen_verified, m.metrics,
        m.config, m.training_job_id, m.trained_through_annotation, m.notes,
        extract(epoch FROM m.created_at)::double precision,
        m.version IS NOT DISTINCT FROM promoted_version(),
        (SELECT extract(epoch FROM max(p.promoted_at))::double precision FROM model_promotion p
          WHERE p.model_version = m.version)
      FROM model m ORDER BY m.version
    $$;

    -- Every prediction of every model, none the session hides from the viewer.
    CREATE FUNCTION export_predictions()
    RETURNS TABLE (case_id bigint, model_version bigint, label text, confidence double precision, probabilities text,
                   p_malignant double precision, mask_id bigint, detections text, colour_distance double precision,
                   colour_unusual boolean, created_at double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v bigint := viewer_id();
    BEGIN
      RETURN QUERY SELECT p.case_id, p.model_version, p.label, p.confidence, p.probabilities, p.p_malignant,
          p.mask_id, p.detections, p.colour_distance, p.colour_unusual,
          extract(epoch FROM p.created_at)::double precision
        FROM prediction p WHERE NOT model_hidden(v, p.case_id) ORDER BY p.model_version, p.case_id;
    END $$;

    CREATE FUNCTION export_training_jobs()
    RETURNS TABLE (id bigint, status text, tasks text, trigger text, parent_model bigint, result_model bigint,
                   progress double precision, message text, created_at double precision, started_at double precision,
                   heartbeat_at double precision, finished_at double precision, error text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT j.id, j.status, j.tasks, j.trigger, j.parent_model, j.result_model, j.progress, j.message,
        extract(epoch FROM j.created_at)::double precision, extract(epoch FROM j.started_at)::double precision,
        extract(epoch FROM j.heartbeat_at)::double precision, extract(epoch FROM j.finished_at)::double precision,
        j.error
      FROM training_job j ORDER BY j.id DESC
    $$;

    -- A registered checkpoint's `__metadata__` (its format, configuration, training record and
    -- screening operating point), read from the safetensors header: the 8-byte little-endian
    -- header length, then the header's JSON. Not the weights, so not withheld under
    -- --hide-model: nothing in it is a prediction of a case. NULL for a file that is no
    -- safetensors checkpoint (the app then shows no operating point; nothing is invented).
    CREATE FUNCTION model_metadata(p_version bigint) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE b bytea; n bigint := 0; i integer; h json;
    BEGIN
      SELECT substring(f.bytes FROM 1 FOR 8) INTO b FROM model m JOIN model_file f ON f.sha256 = m.sha256
        WHERE m.version = p_version;
      IF b IS NULL OR length(b) < 8 THEN RETURN NULL; END IF;
      FOR i IN REVERSE 7..0 LOOP n := n * 256 + get_byte(b, i); END LOOP;
      IF n <= 0 OR n > 100000000 THEN RETURN NULL; END IF;
      BEGIN
        SELECT convert_from(substring(f.bytes FROM 9 FOR n::integer), 'UTF8')::json INTO h
          FROM model m JOIN model_file f ON f.sha256 = m.sha256 WHERE m.version = p_version;
      EXCEPTION WHEN others THEN RETURN NULL;
      END;
      RETURN (h -> '__metadata__')::text;
    END $$;

    -- triage_candidates with the promoted model's P(malignant) (none while the model is hidden
    -- from the viewer for the case), for the screening rule's first severity.
    CREATE FUNCTION triage_candidates_screened(p_session text, p_conf_below double precision)
    RETURNS TABLE (case_id bigint, pred_label text, pred_confidence double precision, labels text,
                   p_malignant double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v bigint := viewer_id();
    BEGIN
      RETURN QUERY SELECT t.case_id, t.pred_label, t.pred_confidence, t.labels,
          CASE WHEN model_hidden(v, t.case_id) THEN NULL ELSE (
            SELECT p.p_malignant FROM prediction p
            WHERE p.case_id = t.case_id AND p.model_version = promoted_version()) END
        FROM triage_candidates(p_session, p_conf_below) t ORDER BY t.case_id;
    END $$;
    """#
}
