/// Migration `pg-v3-session-agreement`: what `agree --session` and the agreement dashboard
/// read beyond the current labels, as `CaseStore+BlindLabels.swift`,
/// `CaseStore+SessionStatistics.swift` and `currentMasks` read it from SQLite, with the same
/// blinding: a viewer gets another rater's label, revision, mask or adjudication of a case
/// only once they are no longer blinded for it, and no prediction the session hides from
/// them (a hidden one is only counted).
enum PGSessionAgreementV3 {
  /// Callable by the three group roles.
  static let publicFunctions = [
    "agreement_labels(text)", "label_revisions(text)", "session_masks(text)", "session_predictions(text)",
    "session_adjudications(text)", "promoted_model()",
  ]

  static let sql = #"""
    CREATE FUNCTION session_id_of(p_session text) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
    DECLARE v_sid bigint;
    BEGIN
      SELECT s.id INTO v_sid FROM session s WHERE s.name = p_session;
      IF v_sid IS NULL THEN PERFORM fail('BV001', format('no session named "%s"', p_session), p_session); END IF;
      RETURN v_sid;
    END $$;

    -- A rater's first label of a case in the session, per (case, rater): given blind.
    CREATE FUNCTION blind_annotations(p_sid bigint) RETURNS SETOF bigint LANGUAGE sql STABLE AS $$
      SELECT min(a.id) FROM annotation a WHERE a.session_id = p_sid AND a.label IS NOT NULL
      GROUP BY a.case_id, a.rater_id
    $$;

    -- The labels that count: in a blinded session the blind label, else the current one.
    CREATE FUNCTION agreement_labels(p_session text) RETURNS TABLE (case_id bigint, rater text, label text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id(); v_sid bigint := session_id_of(p_session);
    BEGIN
      IF NOT (SELECT s.blinded FROM session s WHERE s.id = v_sid) THEN
        RETURN QUERY SELECT * FROM current_labels(p_session);
        RETURN;
      END IF;
      RETURN QUERY SELECT a.case_id, r.name, a.label FROM annotation a JOIN rater r ON r.id = a.rater_id
        WHERE a.id IN (SELECT blind_annotations(v_sid))
          AND (v IS NULL OR a.rater_id = v OR NOT hidden(v, a.case_id))
        ORDER BY a.case_id, r.name COLLATE "C";
    END $$;

    -- Labels changed after the blind one (blinded sessions only).
    CREATE FUNCTION label_revisions(p_session text)
    RETURNS TABLE (case_id bigint, rater text, blind_label text, current_label text, revisions bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id(); v_sid bigint := session_id_of(p_session);
    BEGIN
      RETURN QUERY SELECT x.case_id, x.name, x.blind_label, x.current_label, x.n FROM (
        SELECT b.case_id, r.name, b.label AS blind_label, cur.label AS current_label,
          (SELECT count(*) FROM annotation l WHERE l.session_id = b.session_id AND l.case_id = b.case_id
             AND l.rater_id = b.rater_id AND l.id > b.id AND (l.changed & 1) <> 0) AS n
        FROM annotation b JOIN rater r ON r.id = b.rater_id JOIN session s ON s.id = b.session_id
        LEFT JOIN session_current cur ON cur.session_id = b.session_id AND cur.case_id = b.case_id
          AND cur.rater_id = b.rater_id
        WHERE s.blinded AND b.id IN (SELECT blind_annotations(v_sid))
          AND (v IS NULL OR b.rater_id = v OR NOT hidden(v, b.case_id))) x
      WHERE x.n > 0 ORDER BY x.case_id, x.name COLLATE "C";
    END $$;

    CREATE FUNCTION session_masks(p_session text) RETURNS TABLE (case_id bigint, rater text, mask_id bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id(); v_sid bigint := session_id_of(p_session);
    BEGIN
      RETURN QUERY SELECT c.case_id, r.name, c.mask_id FROM session_current c JOIN rater r ON r.id = c.rater_id
        WHERE c.session_id = v_sid AND c.mask_id IS NOT NULL
          AND (v IS NULL OR c.rater_id = v OR NOT hidden(v, c.case_id))
        ORDER BY c.case_id, r.name COLLATE "C";
    END $$;

    CREATE FUNCTION promoted_model() RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT p.model_version FROM model_promotion p ORDER BY p.id DESC LIMIT 1
    $$;

    -- The promoted model's label per session case; a hidden one has no label, only the flag.
    CREATE FUNCTION session_predictions(p_session text) RETURNS TABLE (case_id bigint, label text, hidden boolean)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id(); v_sid bigint := session_id_of(p_session);
    BEGIN
      RETURN QUERY SELECT sc.case_id, CASE WHEN model_hidden(v, sc.case_id) THEN NULL ELSE p.label END,
          model_hidden(v, sc.case_id)
        FROM session_case sc JOIN prediction p ON p.case_id = sc.case_id AND p.model_version = promoted_model()
        WHERE sc.session_id = v_sid ORDER BY sc.case_id;
    END $$;

    -- The newest adjudication of each session case the viewer is not blinded for.
    CREATE FUNCTION session_adjudications(p_session text) RETURNS TABLE (case_id bigint, label text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id(); v_sid bigint := session_id_of(p_session);
    BEGIN
      RETURN QUERY SELECT sc.case_id, j.label FROM session_case sc
        JOIN adjudication j ON j.id = (SELECT max(x.id) FROM adjudication x WHERE x.case_id = sc.case_id)
        WHERE sc.session_id = v_sid AND NOT hidden(v, sc.case_id) ORDER BY sc.case_id;
    END $$;
    """#
}
