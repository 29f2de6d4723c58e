/// Migration `pg-v6-perf-browser`: the review browser's page query on a shared workspace from
/// indexes (issue 16: on 100,000 cases under 10 ms and within 2x of SQLite). Before it, each
/// page computed every case's listing row (blinding, labels, prediction) and then filtered and
/// sorted all of them: 26-66 ms in id order, 1.2 s for the sorted "unreviewed" view.
///
/// What it adds, as SQLite's workspace has (`Schema.swift`, `CasePager.swift`):
/// - `case_status`: per case, what the browser filters and sorts on (split, import time as the
///   epoch seconds the page returns as its key, disagreement, adjudicated, the promoted model's
///   label, confidence and P(malignant)), kept in step by triggers in the writing transaction
///   and filled from the existing rows when the migration runs;
/// - indexes for each sort order alone and with the equality filters (split, predicted label);
///   the confidence key is `coalesce(pred_confidence, -Infinity)`, so a case without a
///   prediction sorts first ascending and last descending (SQLite's NULL order) within one index;
///   the viewer's edits by time and by label; path search by trigram (`pg_trgm`, when the
///   server has it) and SHA-256 prefixes;
/// - `case_page_for`: finds a page's ids with one keyset query built for the request (no OFFSET;
///   the planner walks the sort order's index, or a selective filter's), then reads those rows,
///   and only those, with v5's `case_listing` values and blinding, column for column.
///   Session views, and the confidence order for a viewer from whom some predictions are hidden
///   (the key itself is blinded), use v5's query over the listing, whose cost grows with the
///   session, as SQLite's general query does.
/// - The "possibly malignant" filter (P(malignant) at or above the screening operating point),
///   which v5's functions lacked: `case_page` and `case_page_count` gain `p_pmal`. The v5
///   signatures stay, as wrappers, so a client built before this migration keeps working.
/// - `case_page_as` and `case_page_count_as`: the service role reads a page as a given rater
///   would see it (as `annotate_as` writes), so `bench store --database` times the rater's query
///   on the server without a login per rater. Granted to nobody.
///
/// Every value a caller passes reaches the dynamic SQL as a bound parameter (`EXECUTE ...
/// USING`); only fixed fragments chosen by the code are concatenated.
enum PGBrowserIndexesV6 {
  static let id = "pg-v6-perf-browser"

  /// Callable by the three group roles.
  static let publicFunctions = [
    "case_page(text, text, text, boolean, boolean, text, boolean, double precision, text, double precision, text, "
      + "boolean, boolean, boolean, double precision, bigint, integer)",
    "case_page_count(text, text, text, boolean, boolean, text, boolean, double precision, text, double precision)",
  ]

  static let sql = #"""
    -- What the browser filters and sorts on, per case (SQLite's case_status).
    CREATE TABLE case_status (
      case_id bigint PRIMARY KEY REFERENCES "case"(id),
      split text NOT NULL,
      added double precision NOT NULL,
      disagreement boolean NOT NULL DEFAULT false,
      adjudicated boolean NOT NULL DEFAULT false,
      pred_label text,
      pred_confidence double precision,
      pred_model bigint,
      p_malignant double precision);

    INSERT INTO case_status (case_id, split, added, disagreement, adjudicated, pred_label, pred_confidence,
                             pred_model, p_malignant)
    SELECT c.id, c.split, extract(epoch FROM c.added_at)::double precision, coalesce(a.dis, false),
      EXISTS (SELECT 1 FROM adjudication j WHERE j.case_id = c.id),
      p.label, p.confidence, p.model_version, p.p_malignant
    FROM "case" c
    LEFT JOIN (SELECT ca.case_id, count(DISTINCT ca.label) > 1 AS dis FROM current_annotation ca
               WHERE ca.label IS NOT NULL GROUP BY ca.case_id) a ON a.case_id = c.id
    LEFT JOIN prediction p ON p.case_id = c.id AND p.model_version = promoted_version();

    CREATE FUNCTION case_status_case() RETURNS trigger LANGUAGE plpgsql SET search_path = blastview, pg_temp AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO case_status (case_id, split, added)
          VALUES (NEW.id, NEW.split, extract(epoch FROM NEW.added_at)::double precision);
      ELSE
        UPDATE case_status SET added = extract(epoch FROM NEW.added_at)::double precision WHERE case_id = NEW.id;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER case_status_case AFTER INSERT OR UPDATE OF added_at ON "case"
      FOR EACH ROW EXECUTE FUNCTION case_status_case();

    -- Raters disagree when their current labels differ (case_listing's count(DISTINCT label) > 1,
    -- as min <> max: count(DISTINCT) sorts, at about 0.2 ms a call).
    CREATE FUNCTION case_status_labels() RETURNS trigger LANGUAGE plpgsql SET search_path = blastview, pg_temp AS $$
    BEGIN
      UPDATE case_status SET disagreement = (
        SELECT coalesce(min(ca.label) <> max(ca.label), false) FROM current_annotation ca
        WHERE ca.case_id = NEW.case_id AND ca.label IS NOT NULL)
      WHERE case_id = NEW.case_id;
      RETURN NULL;
    END $$;
    CREATE TRIGGER case_status_labels AFTER INSERT OR UPDATE ON current_annotation
      FOR EACH ROW EXECUTE FUNCTION case_status_labels();

    CREATE FUNCTION case_status_adjudicated() RETURNS trigger LANGUAGE plpgsql
    SET search_path = blastview, pg_temp AS $$
    BEGIN
      UPDATE case_status SET adjudicated = true WHERE case_id = NEW.case_id AND NOT adjudicated;
      RETURN NULL;
    END $$;
    CREATE TRIGGER case_status_adjudicated AFTER INSERT ON adjudication
      FOR EACH ROW EXECUTE FUNCTION case_status_adjudicated();

    -- The promoted model's prediction (promoted_version(): the newest promotion).
    CREATE FUNCTION case_status_prediction() RETURNS trigger LANGUAGE plpgsql
    SET search_path = blastview, pg_temp AS $$
    BEGIN
      IF NEW.model_version = promoted_version() THEN
        UPDATE case_status SET pred_label = NEW.label, pred_confidence = NEW.confidence,
          pred_model = NEW.model_version, p_malignant = NEW.p_malignant
        WHERE case_id = NEW.case_id;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER case_status_prediction AFTER INSERT OR UPDATE ON prediction
      FOR EACH ROW EXECUTE FUNCTION case_status_prediction();

    CREATE FUNCTION case_status_promotion() RETURNS trigger LANGUAGE plpgsql
    SET search_path = blastview, pg_temp AS $$
    BEGIN
      UPDATE case_status SET pred_label = NULL, pred_confidence = NULL, pred_model = NULL, p_malignant = NULL
      WHERE pred_model IS NOT NULL AND pred_model <> NEW.model_version;
      UPDATE case_status cs SET pred_label = p.label, pred_confidence = p.confidence, pred_model = p.model_version,
        p_malignant = p.p_malignant
      FROM prediction p WHERE p.model_version = NEW.model_version AND cs.case_id = p.case_id;
      RETURN NULL;
    END $$;
    CREATE TRIGGER case_status_promotion AFTER INSERT ON model_promotion
      FOR EACH ROW EXECUTE FUNCTION case_status_promotion();

    -- Each sort order (id: the primary key), alone and after an equality filter, so a common
    -- filter never forces a sort; the confidence key puts a missing prediction first ascending.
    CREATE INDEX case_status_split ON case_status (split, case_id);
    CREATE INDEX case_status_added ON case_status (added, case_id);
    CREATE INDEX case_status_confidence
      ON case_status ((coalesce(pred_confidence, '-Infinity'::double precision)), case_id);
    CREATE INDEX case_status_pred_label_id ON case_status (pred_label, case_id);
    CREATE INDEX case_status_pred_label_confidence
      ON case_status (pred_label, (coalesce(pred_confidence, '-Infinity'::double precision)), case_id);
    CREATE INDEX case_status_pred_label_added ON case_status (pred_label, added, case_id);
    CREATE INDEX case_status_split_confidence
      ON case_status (split, (coalesce(pred_confidence, '-Infinity'::double precision)), case_id);
    CREATE INDEX case_status_split_added ON case_status (split, added, case_id);
    CREATE INDEX case_status_disagreement ON case_status (case_id) WHERE disagreement;
    CREATE INDEX case_status_adjudicated ON case_status (case_id) WHERE adjudicated;
    CREATE INDEX case_status_p_malignant ON case_status (p_malignant, case_id);
    -- The viewer's own edits, by time (my-last-edit order) and by label (my-label filter).
    CREATE INDEX current_annotation_rater_time ON current_annotation (rater_id, created_at, case_id);
    CREATE INDEX current_annotation_rater_label ON current_annotation (rater_id, label, created_at, case_id);
    -- Search: a SHA-256 prefix (LIKE 'abc%'), and a substring of the path by trigram where the
    -- server has pg_trgm (Debian's postgresql package does; it is a trusted extension, so the
    -- database's owner may create it). Without it the search reads the case table.
    CREATE INDEX case_sha256_prefix ON "case" (sha256 text_pattern_ops);
    DO $trgm$
    DECLARE v_schema text;
    BEGIN
      BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA blastview;
      EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pg_trgm is not available (%): path search will read the case table', SQLERRM;
      END;
      SELECT n.nspname INTO v_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
      WHERE e.extname = 'pg_trgm';
      IF v_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX case_path_trigram ON "case" USING gin (lower(path) %I.gin_trgm_ops)', v_schema);
      END IF;
    END $trgm$;

    -- The filters as SQL over case_status cs (with mine: the viewer's current annotation, and
    -- c: the case, joined by the caller when needed). Parameters: $1 viewer, $2 predicted label,
    -- $3 my label, $4 split, $5 confidence below, $6 path LIKE pattern, $7 search text,
    -- $8 P(malignant) at least, $9 searched case id, $10 SHA-256 LIKE prefix.
    CREATE FUNCTION browse_filter_sql(p_hides_ann boolean, p_hides_model boolean, p_pred text, p_mine text,
                                      p_unreviewed boolean, p_disagreement boolean, p_split text,
                                      p_adjudicated boolean, p_conf_below double precision, p_search text,
                                      p_pmal double precision) RETURNS text
    LANGUAGE plpgsql IMMUTABLE AS $$
    DECLARE
      w text := 'true';
      not_blinded text := CASE WHEN p_hides_ann THEN ' AND NOT EXISTS (SELECT 1 FROM blind_pending bp WHERE '
        || 'bp.rater_id = $1 AND bp.case_id = cs.case_id AND bp.hide_annotations)' ELSE '' END;
      model_shown text := CASE WHEN p_hides_model THEN ' AND NOT EXISTS (SELECT 1 FROM blind_pending bp WHERE '
        || 'bp.rater_id = $1 AND bp.case_id = cs.case_id AND bp.hide_model)' ELSE '' END;
    BEGIN
      IF p_pred IS NOT NULL THEN w := w || ' AND cs.pred_label = $2' || model_shown; END IF;
      IF p_mine IS NOT NULL THEN w := w || ' AND mine.label = $3'; END IF;
      -- Unreviewed: no label of mine. As NOT EXISTS (an anti-join), not as `mine.label IS NULL`
      -- over a LEFT JOIN, which the planner estimates at one row and answers by sorting every case.
      IF p_unreviewed THEN
        w := w || ' AND NOT EXISTS (SELECT 1 FROM current_annotation u WHERE u.case_id = cs.case_id'
          || ' AND u.rater_id = $1 AND u.label IS NOT NULL)';
      END IF;
      IF p_disagreement THEN w := w || ' AND cs.disagreement' || not_blinded; END IF;
      IF p_split IS NOT NULL THEN w := w || ' AND cs.split = $4'; END IF;
      IF p_adjudicated THEN w := w || ' AND cs.adjudicated' || not_blinded; END IF;
      IF p_conf_below IS NOT NULL THEN w := w || ' AND cs.pred_confidence < $5' || model_shown; END IF;
      IF p_pmal IS NOT NULL THEN w := w || ' AND cs.p_malignant >= $8' || model_shown; END IF;
      IF p_search IS NOT NULL THEN
        IF p_search ~ '^#?[0-9]{1,18}$' THEN
          w := w || ' AND cs.case_id = $9';
        ELSE
          -- A blinded case's path is not searchable: it carries the class (issue 15, item 10).
          w := w || ' AND ((lower(c.path) LIKE $6 AND strpos(lower(c.path), lower($7)) > 0' || not_blinded || ')';
          IF length(p_search) >= 6 AND lower(p_search) ~ '^[0-9a-f]+$' THEN
            w := w || ' OR c.sha256 LIKE $10';
          END IF;
          w := w || ')';
        END IF;
      END IF;
      RETURN w;
    END $$;

    -- One page for viewer v (NULL: the service role) in session v_sid (NULL: the global view):
    -- v5's case_page to the row, found from indexes. p_asc is the query's direction.
    CREATE FUNCTION case_page_for(v bigint, v_sid bigint, p_pred text, p_mine text, p_unreviewed boolean,
                                  p_disagreement boolean, p_split text, p_adjudicated boolean,
                                  p_conf_below double precision, p_search text, p_pmal double precision,
                                  p_sort text, p_asc boolean, p_has_cursor boolean, p_cursor_null boolean,
                                  p_cursor_key double precision, p_cursor_id bigint, p_limit integer)
    RETURNS TABLE (id bigint, path text, sha256 text, width integer, height integer, split text,
                   added_at double precision, pred_label text, pred_confidence double precision, pred_model bigint,
                   my_label text, my_mask boolean, my_time double precision, disagreement boolean, n_labels integer,
                   blinded boolean, model_hidden boolean, adjudicated boolean, k double precision)
    LANGUAGE plpgsql STABLE SET search_path = blastview, pg_temp AS $$
    DECLARE
      v_limit integer := greatest(1, least(p_limit, 1001));
      v_hides_ann boolean := v IS NOT NULL
        AND EXISTS (SELECT 1 FROM blind_pending bp WHERE bp.rater_id = v AND bp.hide_annotations);
      v_hides_model boolean := v IS NOT NULL
        AND EXISTS (SELECT 1 FROM blind_pending bp WHERE bp.rater_id = v AND bp.hide_model);
      v_dir text := CASE WHEN p_asc THEN 'ASC' ELSE 'DESC' END;
      v_cmp text := CASE WHEN p_asc THEN '>' ELSE '<' END;
      v_key double precision := CASE WHEN p_cursor_null THEN NULL ELSE p_cursor_key END;
      v_search_id bigint;
      v_like text;
      v_sha text;
      v_where text;
      v_from text := 'case_status cs';
      v_case_join text := '';
      v_cursor text := '';
      v_order text;
      v_ids bigint[] := '{}';
      v_more bigint[];
      v_cursor_ts timestamptz;
      v_few bigint[];
      v_never_edited text := 'NOT EXISTS (SELECT 1 FROM current_annotation e WHERE e.case_id = cs.case_id '
        || 'AND e.rater_id = $1) AND ';
    BEGIN
      IF v_sid IS NOT NULL OR p_sort NOT IN ('id', 'confidence', 'added', 'myLastEdit')
         OR (v_hides_model AND p_sort = 'confidence') THEN
        -- v5's query over the listing (sessions; a blinded sort key), with the P(malignant) filter.
        RETURN QUERY SELECT l.id, l.path, l.sha256, l.width, l.height, l.split, l.added_at, l.pred_label,
            l.pred_confidence, l.pred_model, l.my_label, l.my_mask, l.my_time, l.disagreement, l.n_labels,
            l.blinded, l.model_hidden, l.adjudicated, l.k
          FROM case_filtered(v, v_sid, p_sort, p_pred, p_mine, p_unreviewed, p_disagreement, p_split,
                             p_adjudicated, p_conf_below, p_search) l
          WHERE (p_pmal IS NULL OR EXISTS (SELECT 1 FROM prediction p WHERE p.case_id = l.id
                                          AND p.model_version = l.pred_model AND p.p_malignant >= p_pmal))
            AND (NOT p_has_cursor OR CASE
              WHEN p_sort = 'id' THEN CASE WHEN p_asc THEN l.id > p_cursor_id ELSE l.id < p_cursor_id END
              WHEN p_cursor_null THEN CASE WHEN p_asc THEN (l.k IS NULL AND l.id > p_cursor_id) OR l.k IS NOT NULL
                                           ELSE l.k IS NULL AND l.id < p_cursor_id END
              WHEN p_asc THEN l.k > p_cursor_key OR (l.k = p_cursor_key AND l.id > p_cursor_id)
              ELSE l.k < p_cursor_key OR (l.k = p_cursor_key AND l.id < p_cursor_id) OR l.k IS NULL
              END)
          ORDER BY CASE WHEN p_asc THEN l.k END ASC NULLS FIRST, CASE WHEN NOT p_asc THEN l.k END DESC NULLS LAST,
            CASE WHEN p_asc THEN l.id END ASC, CASE WHEN NOT p_asc THEN l.id END DESC
          LIMIT v_limit;
        RETURN;
      END IF;

      IF p_search ~ '^#?[0-9]{1,18}$' THEN
        v_search_id := ltrim(p_search, '#')::bigint;
      ELSIF p_search IS NOT NULL THEN
        v_like := '%' || replace(replace(replace(lower(p_search), '\', '\\'), '%', '\%'), '_', '\_') || '%';
        v_sha := lower(p_search) || '%';
        v_case_join := ' JOIN "case" c ON c.id = cs.case_id';
      END IF;
      v_where := browse_filter_sql(v_hides_ann, v_hides_model, p_pred, p_mine, p_unreviewed, p_disagreement,
                                   p_split, p_adjudicated, p_conf_below, p_search, p_pmal);
      -- A filter that few cases pass (a file-name search, adjudicated) gives its cases first,
      -- from its own index: walking a sort order's index from a cursor and rejecting nearly every
      -- case cost 12-90 ms a page on 100,000 cases. Up to 5,000 of them are read (a superset of
      -- the page's: the full filter still applies) and sorted; more, and the sort index is walked.
      IF v_like IS NOT NULL THEN
        v_few := ARRAY(SELECT c.id FROM "case" c WHERE lower(c.path) LIKE v_like
                         OR (length(p_search) >= 6 AND lower(p_search) ~ '^[0-9a-f]+$' AND c.sha256 LIKE v_sha)
                       LIMIT 5001);
      ELSIF p_adjudicated THEN
        v_few := ARRAY(SELECT cs.case_id FROM case_status cs WHERE cs.adjudicated LIMIT 5001);
      END IF;
      IF cardinality(v_few) <= 5000 THEN
        -- OFFSET 0 keeps the planner from folding the few cases back into an index walk.
        v_from := '(SELECT * FROM case_status WHERE case_id = ANY($15) OFFSET 0) cs';
      ELSE
        v_few := NULL;
      END IF;
      IF p_mine IS NOT NULL THEN
        v_from := v_from || ' JOIN current_annotation mine ON mine.case_id = cs.case_id AND mine.rater_id = $1';
      END IF;
      v_from := v_from || v_case_join;

      IF p_sort IN ('id', 'confidence', 'added') THEN
        IF p_sort = 'id' THEN
          v_order := 'cs.case_id ' || v_dir;
          IF p_has_cursor THEN v_cursor := ' AND cs.case_id ' || v_cmp || ' $12'; END IF;
        ELSIF p_sort = 'confidence' THEN
          v_order := 'coalesce(cs.pred_confidence, ''-Infinity''::double precision) ' || v_dir || ', cs.case_id ' || v_dir;
          IF p_has_cursor THEN
            v_cursor := ' AND (coalesce(cs.pred_confidence, ''-Infinity''::double precision), cs.case_id) ' || v_cmp
              || ' (coalesce($11, ''-Infinity''::double precision), $12)';
          END IF;
          IF p_conf_below IS NOT NULL THEN
            -- The filter as a range of the sort index (a missing prediction is -Infinity there).
            v_cursor := v_cursor || ' AND coalesce(cs.pred_confidence, ''-Infinity''::double precision) > '
              || '''-Infinity''::double precision AND coalesce(cs.pred_confidence, ''-Infinity''::double precision) < $5';
          END IF;
        ELSE
          v_order := 'cs.added ' || v_dir || ', cs.case_id ' || v_dir;
          IF p_has_cursor AND p_cursor_null THEN
            -- Import times are never NULL: after a NULL cursor ascending comes every case, descending none.
            IF NOT p_asc THEN v_cursor := ' AND false'; END IF;
          ELSIF p_has_cursor THEN
            v_cursor := ' AND (cs.added, cs.case_id) ' || v_cmp || ' ($11, $12)';
          END IF;
        END IF;
        EXECUTE 'SELECT ARRAY(SELECT cs.case_id FROM ' || v_from || ' WHERE ' || v_where || v_cursor
          || ' ORDER BY ' || v_order || ' LIMIT $13)'
          INTO v_ids
          USING v, p_pred, p_mine, p_split, p_conf_below, v_like, p_search, p_pmal, v_search_id, v_sha, v_key,
            p_cursor_id, v_limit, NULL::timestamptz, v_few;
      ELSE
        -- My last edit: cases I never edited (NULL key, in id order), first ascending and last
        -- descending, and my edits by time from the viewer's own index. The cursor bound on
        -- created_at (widened by a millisecond) lets the index start near the cursor; the exact
        -- key comparison decides.
        IF p_asc AND p_mine IS NULL AND NOT (p_has_cursor AND NOT p_cursor_null) THEN
          EXECUTE 'SELECT ARRAY(SELECT cs.case_id FROM ' || v_from || ' WHERE ' || v_never_edited || v_where
            || CASE WHEN p_has_cursor THEN ' AND cs.case_id > $12' ELSE '' END
            || ' ORDER BY cs.case_id ASC LIMIT $13)'
            INTO v_ids
            USING v, p_pred, p_mine, p_split, p_conf_below, v_like, p_search, p_pmal, v_search_id, v_sha, v_key,
              p_cursor_id, v_limit, NULL::timestamptz, v_few;
        END IF;
        IF cardinality(v_ids) < v_limit AND NOT (NOT p_asc AND p_has_cursor AND p_cursor_null) THEN
          IF p_has_cursor AND NOT p_cursor_null THEN
            -- The cursor's own edit gives its exact time when it is unchanged: the index then
            -- starts at the cursor, however many edits share its time (a labels import, one
            -- transaction). An epoch as a double does not always convert back to the same
            -- microsecond, so otherwise the bound is widened and the exact key decides.
            SELECT ca.created_at INTO v_cursor_ts FROM current_annotation ca
            WHERE ca.case_id = p_cursor_id AND ca.rater_id = v
              AND extract(epoch FROM ca.created_at)::double precision = p_cursor_key;
            IF v_cursor_ts IS NOT NULL THEN
              v_cursor := ' AND (mine.created_at, mine.case_id) ' || v_cmp || ' ($14, $12)';
            ELSE
              v_cursor := CASE WHEN p_asc THEN ' AND mine.created_at >= to_timestamp($11) - interval ''1 millisecond'''
                               ELSE ' AND mine.created_at <= to_timestamp($11) + interval ''1 millisecond''' END
                || ' AND (extract(epoch FROM mine.created_at)::double precision, mine.case_id) ' || v_cmp || ' ($11, $12)';
            END IF;
          END IF;
          -- Unreviewed: of my edits only those without a label (masks, notes), from the
          -- (rater, label) index rather than every edit of mine in time order.
          EXECUTE 'SELECT ARRAY(SELECT cs.case_id FROM current_annotation mine JOIN case_status cs ON cs.case_id = mine.case_id'
            || v_case_join || ' WHERE mine.rater_id = $1 AND '
            || CASE WHEN p_unreviewed THEN 'mine.label IS NULL AND ' ELSE '' END
            || CASE WHEN v_few IS NOT NULL THEN 'mine.case_id = ANY($15) AND ' ELSE '' END || v_where || v_cursor
            || ' ORDER BY mine.created_at ' || v_dir || ', mine.case_id ' || v_dir || ' LIMIT $13)'
            INTO v_more
            USING v, p_pred, p_mine, p_split, p_conf_below, v_like, p_search, p_pmal, v_search_id, v_sha, v_key,
              p_cursor_id, v_limit - cardinality(v_ids), v_cursor_ts, v_few;
          v_ids := v_ids || v_more;
        END IF;
        IF cardinality(v_ids) < v_limit AND NOT p_asc AND p_mine IS NULL THEN
          EXECUTE 'SELECT ARRAY(SELECT cs.case_id FROM ' || v_from || ' WHERE ' || v_never_edited || v_where
            || CASE WHEN p_has_cursor AND p_cursor_null THEN ' AND cs.case_id < $12' ELSE '' END
            || ' ORDER BY cs.case_id DESC LIMIT $13)'
            INTO v_more
            USING v, p_pred, p_mine, p_split, p_conf_below, v_like, p_search, p_pmal, v_search_id, v_sha, v_key,
              p_cursor_id, v_limit - cardinality(v_ids), NULL::timestamptz, v_few;
          v_ids := v_ids || v_more;
        END IF;
      END IF;

      -- Only the page's rows, read in full: v5's case_listing to the column, from case_status,
      -- with each blinding test made once per row (the listing's SQL functions run several
      -- times a row) and the disagreement as min <> max (count(DISTINCT) sorts, about 0.2 ms a
      -- row on a loaded server). Static SQL: its plan (driven by the ids) is cached.
      RETURN QUERY
        SELECT c.id, CASE WHEN b.bl THEN 'case-' || c.id ELSE c.path END, c.sha256, c.width, c.height, c.split,
          cs.added, CASE WHEN b.mh THEN NULL ELSE cs.pred_label END,
          CASE WHEN b.mh THEN NULL ELSE cs.pred_confidence END, CASE WHEN b.mh THEN NULL ELSE cs.pred_model END,
          ca.label, ca.mask_id IS NOT NULL, extract(epoch FROM ca.created_at)::double precision,
          CASE WHEN b.bl THEN NULL ELSE agg.dis END, CASE WHEN b.bl THEN NULL ELSE agg.n END, b.bl, b.mh,
          CASE WHEN b.bl THEN NULL ELSE cs.adjudicated END,
          CASE p_sort WHEN 'confidence' THEN CASE WHEN b.mh THEN NULL ELSE cs.pred_confidence END
                      WHEN 'added' THEN cs.added
                      WHEN 'myLastEdit' THEN extract(epoch FROM ca.created_at)::double precision END
        FROM unnest(v_ids) WITH ORDINALITY AS o(oid, n)
        JOIN "case" c ON c.id = o.oid
        JOIN case_status cs ON cs.case_id = o.oid
        LEFT JOIN current_annotation ca ON ca.case_id = o.oid AND ca.rater_id = v
        CROSS JOIN LATERAL (
          SELECT v IS NOT NULL AND EXISTS (SELECT 1 FROM blind_pending bp WHERE bp.rater_id = v
                                           AND bp.case_id = o.oid AND bp.hide_annotations) AS bl,
            v IS NOT NULL AND EXISTS (SELECT 1 FROM blind_pending bp WHERE bp.rater_id = v
                                      AND bp.case_id = o.oid AND bp.hide_model) AS mh
          OFFSET 0) b
        CROSS JOIN LATERAL (
          SELECT count(*)::integer AS n, coalesce(min(a.label) <> max(a.label), false) AS dis
          FROM current_annotation a WHERE a.case_id = o.oid AND a.label IS NOT NULL) agg
        ORDER BY o.n;
    END $$;

    -- How many cases match (the browser header's count), from case_status outside sessions.
    CREATE FUNCTION case_count_for(v bigint, v_sid bigint, p_pred text, p_mine text, p_unreviewed boolean,
                                   p_disagreement boolean, p_split text, p_adjudicated boolean,
                                   p_conf_below double precision, p_search text, p_pmal double precision)
    RETURNS bigint LANGUAGE plpgsql STABLE SET search_path = blastview, pg_temp AS $$
    DECLARE
      n bigint;
      v_hides_ann boolean := v IS NOT NULL
        AND EXISTS (SELECT 1 FROM blind_pending bp WHERE bp.rater_id = v AND bp.hide_annotations);
      v_hides_model boolean := v IS NOT NULL
        AND EXISTS (SELECT 1 FROM blind_pending bp WHERE bp.rater_id = v AND bp.hide_model);
      v_search_id bigint;
      v_like text;
      v_sha text;
      v_from text := 'case_status cs';
    BEGIN
      IF v_sid IS NOT NULL THEN
        SELECT count(*) INTO n FROM case_filtered(v, v_sid, 'id', p_pred, p_mine, p_unreviewed, p_disagreement,
          p_split, p_adjudicated, p_conf_below, p_search) l
        WHERE p_pmal IS NULL OR EXISTS (SELECT 1 FROM prediction p WHERE p.case_id = l.id
                                        AND p.model_version = l.pred_model AND p.p_malignant >= p_pmal);
        RETURN n;
      END IF;
      IF p_search ~ '^#?[0-9]{1,18}$' THEN
        v_search_id := ltrim(p_search, '#')::bigint;
      ELSIF p_search IS NOT NULL THEN
        v_like := '%' || replace(replace(replace(lower(p_search), '\', '\\'), '%', '\%'), '_', '\_') || '%';
        v_sha := lower(p_search) || '%';
        v_from := v_from || ' JOIN "case" c ON c.id = cs.case_id';
      END IF;
      IF p_mine IS NOT NULL THEN
        v_from := v_from || ' JOIN current_annotation mine ON mine.case_id = cs.case_id AND mine.rater_id = $1';
      END IF;
      EXECUTE 'SELECT count(*) FROM ' || v_from || ' WHERE '
        || browse_filter_sql(v_hides_ann, v_hides_model, p_pred, p_mine, p_unreviewed, p_disagreement, p_split,
                             p_adjudicated, p_conf_below, p_search, p_pmal)
        INTO n USING v, p_pred, p_mine, p_split, p_conf_below, v_like, p_search, p_pmal, v_search_id, v_sha;
      RETURN n;
    END $$;

    -- Public: as v5's, with the P(malignant) filter after the search text.
    CREATE FUNCTION case_page(p_session text, p_pred text, p_mine text, p_unreviewed boolean,
                              p_disagreement boolean, p_split text, p_adjudicated boolean,
                              p_conf_below double precision, p_search text, p_pmal double precision, p_sort text,
                              p_asc boolean, p_has_cursor boolean, p_cursor_null boolean,
                              p_cursor_key double precision, p_cursor_id bigint, p_limit integer)
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
      RETURN QUERY SELECT * FROM case_page_for(v, v_sid, p_pred, p_mine, p_unreviewed, p_disagreement, p_split,
        p_adjudicated, p_conf_below, p_search, p_pmal, p_sort, p_asc, p_has_cursor, p_cursor_null, p_cursor_key,
        p_cursor_id, p_limit);
    END $$;

    CREATE FUNCTION case_page_count(p_session text, p_pred text, p_mine text, p_unreviewed boolean,
                                    p_disagreement boolean, p_split text, p_adjudicated boolean,
                                    p_conf_below double precision, p_search text, p_pmal double precision)
    RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    BEGIN
      RETURN case_count_for(viewer_id(), viewer_session(viewer_id(), p_session), p_pred, p_mine, p_unreviewed,
        p_disagreement, p_split, p_adjudicated, p_conf_below, p_search, p_pmal);
    END $$;

    -- v5's signatures, for clients from before this migration (no P(malignant) filter).
    CREATE OR REPLACE FUNCTION case_page(p_session text, p_pred text, p_mine text, p_unreviewed boolean,
                              p_disagreement boolean, p_split text, p_adjudicated boolean,
                              p_conf_below double precision, p_search text, p_sort text, p_asc boolean,
                              p_has_cursor boolean, p_cursor_null boolean, p_cursor_key double precision,
                              p_cursor_id bigint, p_limit integer)
    RETURNS TABLE (id bigint, path text, sha256 text, width integer, height integer, split text,
                   added_at double precision, pred_label text, pred_confidence double precision, pred_model bigint,
                   my_label text, my_mask boolean, my_time double precision, disagreement boolean, n_labels integer,
                   blinded boolean, model_hidden boolean, adjudicated boolean, k double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    BEGIN
      RETURN QUERY SELECT * FROM case_page(p_session, p_pred, p_mine, p_unreviewed, p_disagreement, p_split,
        p_adjudicated, p_conf_below, p_search, NULL::double precision, p_sort, p_asc, p_has_cursor, p_cursor_null,
        p_cursor_key, p_cursor_id, p_limit);
    END $$;

    CREATE OR REPLACE FUNCTION case_page_count(p_session text, p_pred text, p_mine text, p_unreviewed boolean,
                                    p_disagreement boolean, p_split text, p_adjudicated boolean,
                                    p_conf_below double precision, p_search text) RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    BEGIN
      RETURN case_page_count(p_session, p_pred, p_mine, p_unreviewed, p_disagreement, p_split, p_adjudicated,
        p_conf_below, p_search, NULL::double precision);
    END $$;

    -- The service role reads as a rater would see it (granted to nobody; as annotate_as).
    CREATE FUNCTION case_page_as(p_rater text, p_session text, p_pred text, p_mine text, p_unreviewed boolean,
                                 p_disagreement boolean, p_split text, p_adjudicated boolean,
                                 p_conf_below double precision, p_search text, p_pmal double precision, p_sort text,
                                 p_asc boolean, p_has_cursor boolean, p_cursor_null boolean,
                                 p_cursor_key double precision, p_cursor_id bigint, p_limit integer)
    RETURNS TABLE (id bigint, path text, sha256 text, width integer, height integer, split text,
                   added_at double precision, pred_label text, pred_confidence double precision, pred_model bigint,
                   my_label text, my_mask boolean, my_time double precision, disagreement boolean, n_labels integer,
                   blinded boolean, model_hidden boolean, adjudicated boolean, k double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v bigint;
    BEGIN
      PERFORM require_service('reads as another rater');
      v := coalesce((SELECT r.id FROM rater r WHERE r.name = p_rater), -1);
      RETURN QUERY SELECT * FROM case_page_for(v, viewer_session(v, p_session), p_pred, p_mine, p_unreviewed,
        p_disagreement, p_split, p_adjudicated, p_conf_below, p_search, p_pmal, p_sort, p_asc, p_has_cursor,
        p_cursor_null, p_cursor_key, p_cursor_id, p_limit);
    END $$;

    CREATE FUNCTION case_page_count_as(p_rater text, p_session text, p_pred text, p_mine text,
                                       p_unreviewed boolean, p_disagreement boolean, p_split text,
                                       p_adjudicated boolean, p_conf_below double precision, p_search text,
                                       p_pmal double precision) RETURNS bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    DECLARE v bigint;
    BEGIN
      PERFORM require_service('reads as another rater');
      v := coalesce((SELECT r.id FROM rater r WHERE r.name = p_rater), -1);
      RETURN case_count_for(v, viewer_session(v, p_session), p_pred, p_mine, p_unreviewed, p_disagreement, p_split,
        p_adjudicated, p_conf_below, p_search, p_pmal);
    END $$;
    """#
}
