/// Migration `pg-v1-shared-workspace`: the tables of the SQLite workspace (docs/casestore.md)
/// in schema `blastview`, images and model files stored in the database by SHA-256, and the
/// functions through which every role but the owner reaches them.
///
/// Access control (issue 16): the schema and its tables belong to the service role that ran
/// `init` (the trainer's role). Raters, adjudicators and leads (members of the group roles
/// `blastview_rater`, `blastview_adjudicator`, `blastview_lead`) have no right on any table,
/// view or sequence: they may only call the functions below, which are `SECURITY DEFINER`
/// and take the caller from `session_user` (the authenticated login, which a non-superuser
/// cannot change), so the blinding rules, the append-only history and the role checks are
/// applied by PostgreSQL whatever client the rater uses, `psql` included.
enum PGSchemaV1 {
  static let tables = #"""
    CREATE TABLE setting (key text PRIMARY KEY, value text NOT NULL);

    CREATE TABLE label_class (
      position integer PRIMARY KEY,
      name text NOT NULL UNIQUE,
      key text NOT NULL UNIQUE,
      letter text NOT NULL,
      group_name text,
      aliases text NOT NULL DEFAULT '[]');

    -- Content-addressed blobs: the CHECK recomputes the SHA-256 of what is stored.
    CREATE TABLE image (
      sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      bytes bytea NOT NULL,
      CHECK (encode(sha256(bytes), 'hex') = sha256));

    CREATE TABLE "case" (
      id bigserial PRIMARY KEY,
      path text NOT NULL,
      sha256 text NOT NULL UNIQUE REFERENCES image(sha256),
      format text NOT NULL,
      width integer NOT NULL CHECK (width > 0),
      height integer NOT NULL CHECK (height > 0),
      reference_label text REFERENCES label_class(name),
      split text NOT NULL CHECK (split IN ('train', 'val', 'test')),
      added_at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE INDEX case_path ON "case"(path);

    CREATE TABLE mask (
      id bigserial PRIMARY KEY,
      sha256 text NOT NULL UNIQUE,
      width integer NOT NULL,
      height integer NOT NULL,
      png bytea NOT NULL,
      CHECK (encode(sha256(png), 'hex') = sha256));

    CREATE TABLE reference_mask (
      case_id bigint PRIMARY KEY REFERENCES "case"(id),
      mask_id bigint NOT NULL REFERENCES mask(id),
      source text);

    -- The workspace's raters: database roles (name = role name) that were added to it.
    -- Their role (rater, adjudicator, lead) is their group-role membership, not a column.
    CREATE TABLE rater (
      id bigserial PRIMARY KEY,
      name text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp());

    CREATE TABLE session (
      id bigserial PRIMARY KEY,
      name text NOT NULL UNIQUE,
      blinded boolean NOT NULL,
      hide_model boolean NOT NULL,
      case_selection text NOT NULL,
      created_by bigint NOT NULL REFERENCES rater(id),
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      closed_at timestamptz);
    CREATE TABLE session_rater (
      session_id bigint NOT NULL REFERENCES session(id),
      rater_id bigint NOT NULL REFERENCES rater(id),
      PRIMARY KEY (session_id, rater_id));
    CREATE TABLE session_case (
      session_id bigint NOT NULL REFERENCES session(id),
      case_id bigint NOT NULL REFERENCES "case"(id),
      position integer NOT NULL,
      PRIMARY KEY (session_id, case_id),
      UNIQUE (session_id, position));

    CREATE TABLE annotation (
      id bigserial PRIMARY KEY,
      case_id bigint NOT NULL REFERENCES "case"(id),
      rater_id bigint NOT NULL REFERENCES rater(id),
      session_id bigint REFERENCES session(id),
      label text REFERENCES label_class(name),
      mask_id bigint REFERENCES mask(id),
      changed integer NOT NULL CHECK (changed BETWEEN 1 AND 3),
      supersedes bigint UNIQUE REFERENCES annotation(id),
      note text,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE INDEX annotation_case_rater ON annotation(case_id, rater_id, id);
    CREATE INDEX annotation_session ON annotation(session_id, case_id, rater_id, id)
      WHERE session_id IS NOT NULL;

    CREATE TABLE current_annotation (
      case_id bigint NOT NULL,
      rater_id bigint NOT NULL,
      annotation_id bigint NOT NULL,
      label text,
      mask_id bigint,
      session_id bigint,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (case_id, rater_id));

    CREATE TABLE session_current (
      session_id bigint NOT NULL,
      case_id bigint NOT NULL,
      rater_id bigint NOT NULL,
      annotation_id bigint NOT NULL,
      label text,
      mask_id bigint,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (session_id, case_id, rater_id));

    CREATE TABLE blind_pending (
      rater_id bigint NOT NULL,
      case_id bigint NOT NULL,
      session_id bigint NOT NULL,
      hide_annotations boolean NOT NULL,
      hide_model boolean NOT NULL,
      PRIMARY KEY (rater_id, case_id, session_id));
    CREATE INDEX blind_pending_session ON blind_pending(session_id, rater_id, case_id);

    CREATE TABLE adjudication (
      id bigserial PRIMARY KEY,
      case_id bigint NOT NULL REFERENCES "case"(id),
      label text NOT NULL REFERENCES label_class(name),
      mask_id bigint REFERENCES mask(id),
      adjudicator_id bigint NOT NULL REFERENCES rater(id),
      session_id bigint REFERENCES session(id),
      reason text NOT NULL CHECK (length(trim(reason)) > 0),
      supersedes bigint UNIQUE REFERENCES adjudication(id),
      created_at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE INDEX adjudication_case ON adjudication(case_id, id);

    CREATE TABLE model_file (
      sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      bytes bytea NOT NULL,
      CHECK (encode(sha256(bytes), 'hex') = sha256));
    CREATE TABLE model (
      version bigserial PRIMARY KEY,
      parent bigint REFERENCES model(version),
      sha256 text NOT NULL REFERENCES model_file(sha256),
      tasks text NOT NULL,
      trained_tasks text NOT NULL,
      frozen_tasks text NOT NULL,
      frozen_verified boolean,
      metrics text NOT NULL DEFAULT '{}',
      config text NOT NULL DEFAULT '{}',
      training_job_id bigint,
      trained_through_annotation bigint,
      notes text,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE TABLE model_promotion (
      id bigserial PRIMARY KEY,
      model_version bigint NOT NULL REFERENCES model(version),
      promoted_by text,
      reason text,
      promoted_at timestamptz NOT NULL DEFAULT clock_timestamp());

    CREATE TABLE prediction (
      case_id bigint NOT NULL REFERENCES "case"(id),
      model_version bigint NOT NULL REFERENCES model(version),
      label text NOT NULL REFERENCES label_class(name),
      confidence double precision NOT NULL,
      probabilities text NOT NULL,
      p_malignant double precision,
      mask_id bigint REFERENCES mask(id),
      detections text NOT NULL DEFAULT '[]',
      colour_distance double precision,
      colour_unusual boolean,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (case_id, model_version));
    CREATE INDEX prediction_model ON prediction(model_version, case_id);

    CREATE TABLE training_job (
      id bigserial PRIMARY KEY,
      status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
      tasks text NOT NULL,
      trigger text NOT NULL,
      parent_model bigint REFERENCES model(version),
      result_model bigint REFERENCES model(version),
      progress double precision NOT NULL DEFAULT 0,
      message text,
      pid integer,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      started_at timestamptz,
      heartbeat_at timestamptz,
      finished_at timestamptz,
      error text);
    CREATE UNIQUE INDEX training_job_one_active ON training_job((status IN ('queued', 'running')))
      WHERE status IN ('queued', 'running');
    CREATE TABLE training_log (
      id bigserial PRIMARY KEY,
      job_id bigint NOT NULL REFERENCES training_job(id),
      epoch integer,
      train_loss double precision,
      val_loss double precision,
      val_metric double precision,
      message text,
      at timestamptz NOT NULL DEFAULT clock_timestamp());
    """#

  /// The append-only rules and the derived tables, as in SQLite's `Schema.createTriggers`.
  /// They hold for the owner too: not even the service role rewrites history.
  static let triggers = #"""
    CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION USING ERRCODE = 'BV100', MESSAGE = TG_ARGV[0];
    END $$;
    CREATE TRIGGER annotation_append_only BEFORE UPDATE OR DELETE ON annotation
      FOR EACH ROW EXECUTE FUNCTION refuse('annotations are append-only: history is never rewritten');
    CREATE TRIGGER annotation_no_truncate BEFORE TRUNCATE ON annotation
      FOR EACH STATEMENT EXECUTE FUNCTION refuse('annotations are append-only: history is never rewritten');
    CREATE TRIGGER adjudication_append_only BEFORE UPDATE OR DELETE ON adjudication
      FOR EACH ROW EXECUTE FUNCTION refuse('adjudications are append-only');
    CREATE TRIGGER adjudication_no_truncate BEFORE TRUNCATE ON adjudication
      FOR EACH STATEMENT EXECUTE FUNCTION refuse('adjudications are append-only');
    CREATE TRIGGER mask_immutable BEFORE UPDATE OR DELETE ON mask
      FOR EACH ROW EXECUTE FUNCTION refuse('masks are immutable');
    CREATE TRIGGER image_immutable BEFORE UPDATE OR DELETE ON image
      FOR EACH ROW EXECUTE FUNCTION refuse('images are immutable');
    CREATE TRIGGER model_file_immutable BEFORE UPDATE OR DELETE ON model_file
      FOR EACH ROW EXECUTE FUNCTION refuse('model files are immutable');
    CREATE TRIGGER case_no_delete BEFORE DELETE ON "case"
      FOR EACH ROW EXECUTE FUNCTION refuse('cases are never deleted');
    CREATE TRIGGER case_fixed BEFORE UPDATE OF sha256, split ON "case"
      FOR EACH ROW EXECUTE FUNCTION refuse('a case''s SHA-256 and split never change');
    CREATE TRIGGER session_no_reopen BEFORE UPDATE OF closed_at ON session
      FOR EACH ROW WHEN (OLD.closed_at IS NOT NULL) EXECUTE FUNCTION refuse('a closed session stays closed');

    -- History is one chain per (case, rater): each annotation supersedes exactly the current one.
    CREATE FUNCTION annotation_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.supersedes IS DISTINCT FROM (SELECT annotation_id FROM current_annotation
                                          WHERE case_id = NEW.case_id AND rater_id = NEW.rater_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'BV101',
          MESSAGE = 'annotation must supersede the current annotation of its rater and case';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER annotation_chain BEFORE INSERT ON annotation
      FOR EACH ROW EXECUTE FUNCTION annotation_chain();

    CREATE FUNCTION annotation_derive() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO current_annotation (case_id, rater_id, annotation_id, label, mask_id, session_id, created_at)
      VALUES (NEW.case_id, NEW.rater_id, NEW.id, NEW.label, NEW.mask_id, NEW.session_id, NEW.created_at)
      ON CONFLICT (case_id, rater_id) DO UPDATE SET annotation_id = EXCLUDED.annotation_id,
        label = EXCLUDED.label, mask_id = EXCLUDED.mask_id, session_id = EXCLUDED.session_id,
        created_at = EXCLUDED.created_at;
      IF NEW.session_id IS NOT NULL THEN
        INSERT INTO session_current (session_id, case_id, rater_id, annotation_id, label, mask_id, created_at)
        VALUES (NEW.session_id, NEW.case_id, NEW.rater_id, NEW.id, NEW.label, NEW.mask_id, NEW.created_at)
        ON CONFLICT (session_id, case_id, rater_id) DO UPDATE SET annotation_id = EXCLUDED.annotation_id,
          label = EXCLUDED.label, mask_id = EXCLUDED.mask_id, created_at = EXCLUDED.created_at;
        -- Labelling a case in a session lifts that rater's blinding for it in that session.
        IF NEW.label IS NOT NULL THEN
          DELETE FROM blind_pending
          WHERE rater_id = NEW.rater_id AND case_id = NEW.case_id AND session_id = NEW.session_id;
        END IF;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER annotation_derive AFTER INSERT ON annotation
      FOR EACH ROW EXECUTE FUNCTION annotation_derive();

    CREATE FUNCTION adjudication_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.supersedes IS DISTINCT FROM (SELECT max(id) FROM adjudication WHERE case_id = NEW.case_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'BV102',
          MESSAGE = 'adjudication must supersede the current adjudication of its case';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER adjudication_chain BEFORE INSERT ON adjudication
      FOR EACH ROW EXECUTE FUNCTION adjudication_chain();

    -- Closing a session lifts its blinding.
    CREATE FUNCTION session_close_unblind() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM blind_pending WHERE session_id = NEW.id;
      RETURN NULL;
    END $$;
    CREATE TRIGGER session_close AFTER UPDATE OF closed_at ON session
      FOR EACH ROW WHEN (NEW.closed_at IS NOT NULL) EXECUTE FUNCTION session_close_unblind();
    """#
}
