/// Migration `pg-v8-import-masks`: `import --masks` and `import --manifest` on a shared
/// workspace. Until now a shared import took image files and folder labels only, so an
/// expert's reference masks (the segmentation column's best data) could reach a shared
/// workspace only through `migrate --from-sqlite`.
///
/// `case_reference_mask` gives a case its reference mask, in the import's transaction, as the
/// embedded importer does for a case it creates: a lead's (or the service role's) right, the
/// mask's size checked against the case's image, the PNG's hash checked by the table, and a
/// case that has a reference mask keeps it (a re-import never replaces what raters saw).
enum PGImportMasksV8 {
  static let id = "pg-v8-import-masks"

  /// Callable by the three group roles (the function itself refuses all but leads).
  static let publicFunctions = ["case_reference_mask(bigint, text, integer, integer, bytea, text)"]

  static let sql = #"""
    CREATE FUNCTION case_reference_mask(p_case bigint, p_sha text, p_w integer, p_h integer, p_png bytea,
                                        p_source text)
    RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v_w integer; v_h integer; v_mask bigint;
    BEGIN
      PERFORM require_lead('imports reference masks');
      SELECT c.width, c.height INTO v_w, v_h FROM "case" c WHERE c.id = p_case;
      IF NOT FOUND THEN PERFORM fail('BV007', format('no case %s', p_case), p_case::text); END IF;
      IF p_w <> v_w OR p_h <> v_h THEN
        PERFORM fail('BV012', format('mask for case %s is %s×%s, but the image is %s×%s', p_case, p_w, p_h, v_w, v_h),
          p_case::text, format('%s×%s|%s×%s', v_w, v_h, p_w, p_h));
      END IF;
      INSERT INTO mask (sha256, width, height, png) VALUES (p_sha, p_w, p_h, p_png) ON CONFLICT (sha256) DO NOTHING;
      SELECT m.id INTO v_mask FROM mask m WHERE m.sha256 = p_sha;
      INSERT INTO reference_mask (case_id, mask_id, source) VALUES (p_case, v_mask, p_source)
        ON CONFLICT (case_id) DO NOTHING;
      RETURN FOUND;
    END $$;
    """#
}
