/// Migration `pg-v6-models`: the model registry and the background retrainer on a shared
/// workspace (issue 16).
///
/// - Every role of the workspace may read the registry's metadata (`models()`,
///   `model_promotions()`): versions, lineage, the gate's verdict. The weights stay behind
///   `model_file`, which withholds them from a rater with cases pending under `--hide-model`.
/// - Only a lead (or the service role, for an automatic promotion the gate allowed) promotes or
///   rolls back (`model_promote`), and only a lead changes the validation gate
///   (`gate_setting_set`): the database refuses anyone else, whatever client they use. A
///   promotion re-checks the stored file against its SHA-256 and is sealed into the audit chain
///   by the trigger of `pg-v2-audit-chain`.
/// - Only the service role registers a model (`model_register_full`, like v1's
///   `model_register`, which it supersedes): the trainer runs as that role, so a rater cannot
///   register weights of his own making. The file's SHA-256 is checked by the table's CHECK.
/// - `training_job` gains the progress columns SQLite's has, so the trainer reports alike on
///   both backends (the service role writes the job tables directly; nobody else can).
enum PGModelsV6 {
  static let id = "pg-v6-models"

  /// Callable by the three group roles (the registering function refuses all but the service
  /// role inside).
  static let publicFunctions = [
    "models()", "model_promotions()", "model_coverage(bigint)", "model_promote(bigint, text, text)",
    "gate_setting_set(text, text)",
    "model_register_full(bigint, text, bytea, text, text, text, boolean, text, text, bigint, bigint, text)",
  ]

  /// The settings a lead may change through `gate_setting_set` (the gate's and the automatic
  /// retraining trigger's; nothing that describes the data).
  static let leadSettings = [
    "auto_promote", "gate_min_labelled", "gate_min_masked", "auto_retrain_after",
    "retrain_epochs", "retrain_patience", "retrain_batch", "retrain_lr",
  ]

  static var sql: String {
    let keys = leadSettings.map { "'\($0)'" }.joined(separator: ", ")
    return #"""
      ALTER TABLE training_job ADD COLUMN epoch integer, ADD COLUMN total_epochs integer,
        ADD COLUMN batch integer, ADD COLUMN total_batches integer, ADD COLUMN loss double precision,
        ADD COLUMN eta_seconds double precision;

      CREATE FUNCTION models()
      RETURNS TABLE (version bigint, parent bigint, sha256 text, tasks text, trained_tasks text, frozen_tasks text,
                     frozen_verified boolean, metrics text, config text, training_job_id bigint,
                     trained_through_annotation bigint, notes text, created_at double precision,
                     promoted_at double precision, is_promoted boolean)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
        SELECT m.version, m.parent, m.sha256, m.tasks, m.trained_tasks, m.frozen_tasks, m.frozen_verified, m.metrics,
          m.config, m.training_job_id, m.trained_through_annotation, m.notes, extract(epoch FROM m.created_at)::float8,
          (SELECT extract(epoch FROM max(p.promoted_at))::float8 FROM model_promotion p WHERE p.model_version = m.version),
          m.version IS NOT DISTINCT FROM promoted_version()
        FROM model m ORDER BY m.version DESC
      $$;

      CREATE FUNCTION model_promotions()
      RETURNS TABLE (id bigint, model_version bigint, promoted_by text, reason text, promoted_at double precision)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
        SELECT p.id, p.model_version, p.promoted_by, p.reason, extract(epoch FROM p.promoted_at)::float8 FROM model_promotion p ORDER BY p.id DESC
      $$;

      -- How many cases a version has predicted (a count, which no blinding rule hides).
      CREATE FUNCTION model_coverage(p_version bigint) RETURNS TABLE (predicted bigint, total bigint)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
        SELECT (SELECT count(*) FROM prediction p WHERE p.model_version = p_version), (SELECT count(*) FROM "case")
      $$;

      -- A lead promotes (or rolls back to) a version; the service role too, for a promotion the
      -- gate allowed (p_by then names the job). The stored file must still match its SHA-256.
      CREATE FUNCTION model_promote(p_version bigint, p_reason text, p_by text) RETURNS bigint
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      DECLARE v_sha text; v_ok boolean; v_id bigint;
      BEGIN
        PERFORM require_lead('promotes or rolls back a model');
        SELECT m.sha256, encode(sha256(f.bytes), 'hex') = m.sha256 INTO v_sha, v_ok
          FROM model m JOIN model_file f ON f.sha256 = m.sha256 WHERE m.version = p_version;
        IF v_sha IS NULL THEN PERFORM fail('BV030', format('no model version %s', p_version), p_version::text); END IF;
        IF NOT v_ok THEN
          PERFORM fail('BV031', format('the stored file of model v%s does not match its SHA-256', p_version),
            p_version::text, 'sha256:' || v_sha);
        END IF;
        INSERT INTO model_promotion (model_version, promoted_by, reason)
          VALUES (p_version, CASE WHEN is_service() THEN coalesce(p_by, session_user::text) ELSE session_user::text END,
                  p_reason)
          RETURNING id INTO v_id;
        RETURN v_id;
      END $$;

      CREATE FUNCTION gate_setting_set(p_key text, p_value text) RETURNS void
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      BEGIN
        PERFORM require_lead('changes the validation gate and the retraining settings');
        IF p_key IS NULL OR p_key NOT IN (\#(keys)) THEN
          PERFORM fail('BV032', format('%s is not a setting a lead changes here', coalesce(p_key, 'NULL')), coalesce(p_key, ''));
        END IF;
        INSERT INTO setting (key, value) VALUES (p_key, p_value)
          ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
      END $$;

      CREATE FUNCTION model_register_full(p_parent bigint, p_sha text, p_bytes bytea, p_tasks text, p_trained text,
                                          p_frozen text, p_frozen_verified boolean, p_metrics text, p_config text,
                                          p_job bigint, p_through bigint, p_notes text) RETURNS bigint
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      DECLARE v_version bigint;
      BEGIN
        PERFORM require_service('registers models');
        IF p_parent IS NOT NULL AND NOT EXISTS (SELECT 1 FROM model m WHERE m.version = p_parent) THEN
          PERFORM fail('BV030', format('no model version %s', p_parent), p_parent::text);
        END IF;
        INSERT INTO model_file (sha256, bytes) VALUES (p_sha, p_bytes) ON CONFLICT (sha256) DO NOTHING;
        INSERT INTO model (parent, sha256, tasks, trained_tasks, frozen_tasks, frozen_verified, metrics, config,
                           training_job_id, trained_through_annotation, notes)
          VALUES (p_parent, p_sha, p_tasks, p_trained, p_frozen, p_frozen_verified, coalesce(p_metrics, '{}'),
                  coalesce(p_config, '{}'), p_job, p_through, p_notes)
          RETURNING version INTO v_version;
        RETURN v_version;
      END $$;
      """#
  }
}
