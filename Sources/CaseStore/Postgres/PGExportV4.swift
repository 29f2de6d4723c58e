/// Migration `pg-v4-export`: what `export --format csv|masks` reads on a shared workspace,
/// with the blinding of `CaseStore.exportAnnotationRows` and `currentMasks`: the exporting
/// rater gets another rater's annotation or mask of a case only once they are no longer
/// blinded for it, and their own annotations of a case they are still blinded for without
/// the case's path (which can carry the class).
enum PGExportV4 {
  static let publicFunctions = ["export_annotations(text, boolean)", "export_masks(text)"]

  static let sql = #"""
    CREATE FUNCTION export_annotations(p_session text, p_current_only boolean)
    RETURNS TABLE (id bigint, case_id bigint, rater text, session text, label text, mask_id bigint,
                   changed integer, supersedes bigint, note text, created_at double precision,
                   path text, sha256 text, path_hidden boolean)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id(); v_sid bigint := CASE WHEN p_session IS NULL THEN NULL ELSE session_id_of(p_session) END;
    BEGIN
      RETURN QUERY SELECT a.id, a.case_id, r.name, s.name, a.label, a.mask_id, a.changed, a.supersedes, a.note,
          extract(epoch FROM a.created_at)::double precision, c.path, c.sha256, hidden(v, a.case_id)
        FROM annotation a JOIN rater r ON r.id = a.rater_id LEFT JOIN session s ON s.id = a.session_id
        JOIN "case" c ON c.id = a.case_id
        WHERE (v_sid IS NULL OR a.session_id = v_sid)
          AND (NOT p_current_only OR a.id IN (
                 SELECT cur.annotation_id FROM current_annotation cur WHERE v_sid IS NULL
                 UNION ALL
                 SELECT sc.annotation_id FROM session_current sc WHERE sc.session_id = v_sid))
          AND (v IS NULL OR a.rater_id = v OR NOT hidden(v, a.case_id))
        ORDER BY a.id;
    END $$;

    -- Current masks (in the session, or workspace-wide), as the viewer may see them.
    CREATE FUNCTION export_masks(p_session text) RETURNS TABLE (case_id bigint, rater text, mask_id bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v bigint := viewer_id();
    BEGIN
      IF p_session IS NOT NULL THEN
        RETURN QUERY SELECT * FROM session_masks(p_session);
        RETURN;
      END IF;
      RETURN QUERY SELECT c.case_id, r.name, c.mask_id FROM current_annotation c JOIN rater r ON r.id = c.rater_id
        WHERE c.mask_id IS NOT NULL AND (v IS NULL OR c.rater_id = v OR NOT hidden(v, c.case_id))
        ORDER BY c.case_id, r.name COLLATE "C";
    END $$;
    """#
}
