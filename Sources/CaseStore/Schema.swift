import GRDB

/// The workspace database schema (DESIGN §3), built by `DatabaseMigrator` so older
/// workspaces upgrade in place and newer ones are refused.
///
/// Tables, in dependency order:
/// - `setting`: key/value workspace settings (label schema name, image root, split seed).
/// - `label_class`: the label schema; annotations reference its names.
/// - `case`: one image, deduplicated by SHA-256, with its fixed split and reference label.
/// - `mask`: content-addressed PNG blobs (annotation, reference and prediction masks), so
///   an annotation that only changes the label does not copy its mask.
/// - `reference_mask`: masks that came with the import.
/// - `rater`, `session`, `session_rater`, `session_case`.
/// - `annotation`: append-only (triggers refuse UPDATE and DELETE); each row is the full
///   state (label, mask) of one rater on one case after an edit, `supersedes` links it to
///   the previous one, and a trigger refuses any row that does not supersede exactly the
///   current one, so concurrent writers can never fork or lose history.
/// - `adjudication`: append-only final labels with reasons.
/// - `model`, `model_promotion`, `prediction`, `training_job`, `training_log`.
/// - `audit_event` (session and role events, written by triggers) and `audit_chain` (the
///   SHA-256 chain over every annotation, adjudication, promotion and audit event;
///   `AuditChain.swift`), from migration `v3-audit-chain`.
///
/// Derived tables, maintained by triggers in the writing transaction (never out of date,
/// rebuildable from the append-only tables): `current_annotation` (newest per case and
/// rater), `session_current` (newest per session, case and rater), `case_status`
/// (per-case counts, disagreement, promoted prediction for the browser's indexes) and
/// `blind_pending` (which rater may not yet see which case's other annotations or
/// predictions; see `Blinding.swift`).
enum Schema {
  /// `PRAGMA application_id` of a BlastView workspace ("BlVw"): tells our databases from
  /// any other SQLite file.
  static let applicationID: Int32 = 0x426C_5677

  static var migrator: DatabaseMigrator {
    var m = DatabaseMigrator()
    m.registerMigration("v1-workspace") { db in try createVersion1(db) }
    // Issue 10: the model's colour check travels with each prediction (nullable: models
    // without a colour reference, and predictions stored before this migration, have none).
    m.registerMigration("v2-prediction-colour") { db in
      try db.execute(
        sql: """
          ALTER TABLE prediction ADD COLUMN colour_distance REAL;
          ALTER TABLE prediction ADD COLUMN colour_unusual INTEGER;
          """)
    }
    // Issue 16: the tamper-evident audit chain (`AuditChain.swift`); existing rows are
    // sealed in order, so a workspace from before keeps its whole history, now chained.
    m.registerMigration("v3-audit-chain") { db in try createAuditChain(db) }
    // Issue 16: the browser's adjudicated and possibly-malignant filters from indexes.
    m.registerMigration("v4-browser-filters") { db in try createBrowserFilters(db) }
    return m
  }

  /// `case_status` gains whether a case is adjudicated and the promoted model's P(malignant),
  /// each with an index, so those filters can drive a page when few cases match (before,
  /// a page of them walked the sort order and probed every case: 100,000 probes when none
  /// match). Filled from the existing rows; the prediction triggers are recreated to keep
  /// P(malignant) in step.
  private static func createBrowserFilters(_ db: Database) throws {
    try db.execute(
      sql: """
        ALTER TABLE case_status ADD COLUMN adjudicated INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE case_status ADD COLUMN p_malignant REAL;
        UPDATE case_status SET adjudicated = 1
        WHERE case_id IN (SELECT case_id FROM adjudication);
        UPDATE case_status SET p_malignant = (
          SELECT p.p_malignant FROM prediction p
          WHERE p.case_id = case_status.case_id AND p.model_version = case_status.pred_model)
        WHERE pred_model IS NOT NULL;
        CREATE INDEX case_status_adjudicated ON case_status(case_id) WHERE adjudicated;
        CREATE INDEX case_status_p_malignant ON case_status(p_malignant, case_id);

        CREATE TRIGGER case_status_adjudicated AFTER INSERT ON adjudication
        BEGIN
          UPDATE case_status SET adjudicated = 1 WHERE case_id = NEW.case_id;
        END;

        DROP TRIGGER IF EXISTS prediction_insert;
        DROP TRIGGER IF EXISTS prediction_update;
        DROP TRIGGER IF EXISTS model_promoted;
        CREATE TRIGGER prediction_insert AFTER INSERT ON prediction
        WHEN NEW.model_version = (SELECT model_version FROM model_promotion ORDER BY id DESC LIMIT 1)
        BEGIN
          UPDATE case_status SET pred_label = NEW.label, pred_confidence = NEW.confidence,
            pred_model = NEW.model_version, p_malignant = NEW.p_malignant
          WHERE case_id = NEW.case_id;
        END;
        CREATE TRIGGER prediction_update AFTER UPDATE ON prediction
        WHEN NEW.model_version = (SELECT model_version FROM model_promotion ORDER BY id DESC LIMIT 1)
        BEGIN
          UPDATE case_status SET pred_label = NEW.label, pred_confidence = NEW.confidence,
            pred_model = NEW.model_version, p_malignant = NEW.p_malignant
          WHERE case_id = NEW.case_id;
        END;
        CREATE TRIGGER model_promoted AFTER INSERT ON model_promotion
        BEGIN
          UPDATE case_status SET pred_label = NULL, pred_confidence = NULL, pred_model = NULL, p_malignant = NULL
          WHERE pred_model IS NOT NEW.model_version AND pred_model IS NOT NULL;
          UPDATE case_status SET pred_label = p.label, pred_confidence = p.confidence,
            pred_model = p.model_version, p_malignant = p.p_malignant
          FROM (SELECT case_id, label, confidence, model_version, p_malignant FROM prediction
                WHERE model_version = NEW.model_version) AS p
          WHERE case_status.case_id = p.case_id;
        END;
        """)
  }

  /// The audit chain's tables and the triggers that turn session and role changes into
  /// events, then the back-fill: events for the sessions and roles that exist, and every
  /// existing row sealed.
  private static func createAuditChain(_ db: Database) throws {
    let now = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    try db.execute(
      sql: """
        CREATE TABLE audit_event (
          id INTEGER PRIMARY KEY,
          kind TEXT NOT NULL CHECK (kind IN ('session_create', 'session_rater', 'session_close', 'role_change')),
          session_id INTEGER REFERENCES session(id),
          rater_id INTEGER REFERENCES rater(id),
          detail TEXT,
          at TEXT NOT NULL);
        CREATE TABLE audit_chain (
          seq INTEGER PRIMARY KEY,
          source TEXT NOT NULL,
          source_id INTEGER NOT NULL,
          payload TEXT NOT NULL,
          hash TEXT NOT NULL CHECK (length(hash) = 64),
          UNIQUE (source, source_id));

        -- Back-fill, in time order: sessions (created, their raters, closed) and roles.
        INSERT INTO audit_event (kind, session_id, rater_id, detail, at)
        SELECT kind, session_id, rater_id, detail, at FROM (
          SELECT 'session_create' AS kind, id AS session_id, created_by AS rater_id, NULL AS detail,
            created_at AS at, 0 AS o, id AS k FROM session
          UNION ALL
          SELECT 'session_rater', sr.session_id, sr.rater_id, NULL, s.created_at, 1, sr.rater_id
            FROM session_rater sr JOIN session s ON s.id = sr.session_id
          UNION ALL
          SELECT 'session_close', id, NULL, NULL, closed_at, 2, id FROM session WHERE closed_at IS NOT NULL
          UNION ALL
          SELECT 'role_change', NULL, id, role, created_at, 3, id FROM rater WHERE role IS NOT 'rater')
        ORDER BY at, session_id, o, k;

        CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
        CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
        CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
        BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;
        CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
        BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;
        CREATE TRIGGER model_promotion_no_update BEFORE UPDATE ON model_promotion
        BEGIN SELECT RAISE(ABORT, 'promotions are append-only'); END;
        CREATE TRIGGER model_promotion_no_delete BEFORE DELETE ON model_promotion
        BEGIN SELECT RAISE(ABORT, 'promotions are append-only'); END;

        CREATE TRIGGER audit_session_create AFTER INSERT ON session
        BEGIN
          INSERT INTO audit_event (kind, session_id, rater_id, at)
          VALUES ('session_create', NEW.id, NEW.created_by, NEW.created_at);
        END;
        CREATE TRIGGER audit_session_rater AFTER INSERT ON session_rater
        BEGIN
          INSERT INTO audit_event (kind, session_id, rater_id, at)
          VALUES ('session_rater', NEW.session_id, NEW.rater_id,
                  (SELECT created_at FROM session WHERE id = NEW.session_id));
        END;
        CREATE TRIGGER audit_session_close AFTER UPDATE OF closed_at ON session
        WHEN NEW.closed_at IS NOT NULL AND OLD.closed_at IS NULL
        BEGIN
          INSERT INTO audit_event (kind, session_id, at) VALUES ('session_close', NEW.id, NEW.closed_at);
        END;
        CREATE TRIGGER audit_role_insert AFTER INSERT ON rater WHEN NEW.role IS NOT 'rater'
        BEGIN
          INSERT INTO audit_event (kind, rater_id, detail, at) VALUES ('role_change', NEW.id, NEW.role, NEW.created_at);
        END;
        CREATE TRIGGER audit_role_update AFTER UPDATE OF role ON rater WHEN NEW.role IS NOT OLD.role
        BEGIN
          INSERT INTO audit_event (kind, rater_id, detail, at) VALUES ('role_change', NEW.id, NEW.role, \(now));
        END;
        """)
    try AuditChain.seal(db)
  }

  private static func createVersion1(_ db: Database) throws {
    try db.execute(sql: "PRAGMA application_id = \(applicationID)")
    try createCaseTables(db)
    try createRaterAndSessionTables(db)
    try createAnnotationTables(db)
    try createAdjudicationAndModelTables(db)
    try createStatusAndTrainingTables(db)
    try createTriggers(db)
  }

  /// Settings, label classes, cases and masks. Part of version 1; statements run in their original order.
  private static func createCaseTables(_ db: Database) throws {
    try db.execute(
      sql: """
        CREATE TABLE setting (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;

        CREATE TABLE label_class (
          position INTEGER PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          key TEXT NOT NULL UNIQUE,
          letter TEXT NOT NULL,
          group_name TEXT,
          aliases TEXT NOT NULL DEFAULT '[]');

        CREATE TABLE "case" (
          id INTEGER PRIMARY KEY,
          path TEXT NOT NULL,
          path_is_relative INTEGER NOT NULL CHECK (path_is_relative IN (0, 1)),
          sha256 TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),
          format TEXT NOT NULL,
          width INTEGER NOT NULL CHECK (width > 0),
          height INTEGER NOT NULL CHECK (height > 0),
          reference_label TEXT REFERENCES label_class(name),
          split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
          added_at TEXT NOT NULL);
        CREATE INDEX case_path ON "case"(path);
        -- Substring search on image paths for the browser (trigram index; 3+ characters).
        CREATE VIRTUAL TABLE case_path_search USING fts5(path, content='case', content_rowid='id', tokenize='trigram');

        CREATE TABLE mask (
          id INTEGER PRIMARY KEY,
          sha256 TEXT NOT NULL UNIQUE,
          width INTEGER NOT NULL,
          height INTEGER NOT NULL,
          png BLOB NOT NULL);

        CREATE TABLE reference_mask (
          case_id INTEGER PRIMARY KEY REFERENCES "case"(id),
          mask_id INTEGER NOT NULL REFERENCES mask(id),
          source TEXT);
        """)
  }

  /// Raters, sessions and the cases and raters each session holds. Part of version 1; statements run in their original order.
  private static func createRaterAndSessionTables(_ db: Database) throws {
    try db.execute(
      sql: """
        CREATE TABLE rater (
          id INTEGER PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          role TEXT NOT NULL DEFAULT 'rater' CHECK (role IN ('rater', 'adjudicator')),
          created_at TEXT NOT NULL);

        CREATE TABLE session (
          id INTEGER PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          blinded INTEGER NOT NULL CHECK (blinded IN (0, 1)),
          hide_model INTEGER NOT NULL CHECK (hide_model IN (0, 1)),
          case_selection TEXT NOT NULL,
          created_by INTEGER NOT NULL REFERENCES rater(id),
          created_at TEXT NOT NULL,
          closed_at TEXT);
        CREATE TABLE session_rater (
          session_id INTEGER NOT NULL REFERENCES session(id),
          rater_id INTEGER NOT NULL REFERENCES rater(id),
          PRIMARY KEY (session_id, rater_id)) WITHOUT ROWID;
        CREATE TABLE session_case (
          session_id INTEGER NOT NULL REFERENCES session(id),
          case_id INTEGER NOT NULL REFERENCES "case"(id),
          position INTEGER NOT NULL,
          n_labels INTEGER NOT NULL DEFAULT 0,
          disagreement INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (session_id, case_id)) WITHOUT ROWID;
        CREATE UNIQUE INDEX session_case_position ON session_case(session_id, position);
        """)
  }

  /// The append-only annotation log and its current-value projections. Part of version 1; statements run in their original order.
  private static func createAnnotationTables(_ db: Database) throws {
    try db.execute(
      sql: """
        CREATE TABLE annotation (
          id INTEGER PRIMARY KEY,
          case_id INTEGER NOT NULL REFERENCES "case"(id),
          rater_id INTEGER NOT NULL REFERENCES rater(id),
          session_id INTEGER REFERENCES session(id),
          label TEXT REFERENCES label_class(name),
          mask_id INTEGER REFERENCES mask(id),
          changed INTEGER NOT NULL CHECK (changed BETWEEN 1 AND 3),
          supersedes INTEGER UNIQUE REFERENCES annotation(id),
          note TEXT,
          created_at TEXT NOT NULL);
        CREATE INDEX annotation_case_rater ON annotation(case_id, rater_id, id);
        CREATE INDEX annotation_session ON annotation(session_id, case_id, rater_id, id)
          WHERE session_id IS NOT NULL;

        CREATE TABLE current_annotation (
          case_id INTEGER NOT NULL,
          rater_id INTEGER NOT NULL,
          annotation_id INTEGER NOT NULL,
          label TEXT,
          mask_id INTEGER,
          session_id INTEGER,
          created_at TEXT NOT NULL,
          PRIMARY KEY (case_id, rater_id)) WITHOUT ROWID;
        CREATE INDEX current_annotation_rater_label ON current_annotation(rater_id, label, created_at, case_id);
        CREATE INDEX current_annotation_rater_time ON current_annotation(rater_id, created_at, case_id);

        CREATE TABLE session_current (
          session_id INTEGER NOT NULL,
          case_id INTEGER NOT NULL,
          rater_id INTEGER NOT NULL,
          annotation_id INTEGER NOT NULL,
          label TEXT,
          mask_id INTEGER,
          created_at TEXT NOT NULL,
          PRIMARY KEY (session_id, case_id, rater_id)) WITHOUT ROWID;
        CREATE INDEX session_current_rater ON session_current(session_id, rater_id, label, case_id);

        CREATE TABLE blind_pending (
          rater_id INTEGER NOT NULL,
          case_id INTEGER NOT NULL,
          session_id INTEGER NOT NULL,
          hide_annotations INTEGER NOT NULL,
          hide_model INTEGER NOT NULL,
          PRIMARY KEY (rater_id, case_id, session_id)) WITHOUT ROWID;
        CREATE INDEX blind_pending_session ON blind_pending(session_id, rater_id, case_id);
        """)
  }

  /// Adjudications, model versions, promotions and predictions. Part of version 1; statements run in their original order.
  private static func createAdjudicationAndModelTables(_ db: Database) throws {
    try db.execute(
      sql: """
        CREATE TABLE adjudication (
          id INTEGER PRIMARY KEY,
          case_id INTEGER NOT NULL REFERENCES "case"(id),
          label TEXT NOT NULL REFERENCES label_class(name),
          mask_id INTEGER REFERENCES mask(id),
          adjudicator_id INTEGER NOT NULL REFERENCES rater(id),
          session_id INTEGER REFERENCES session(id),
          reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
          supersedes INTEGER UNIQUE REFERENCES adjudication(id),
          created_at TEXT NOT NULL);
        CREATE INDEX adjudication_case ON adjudication(case_id, id);

        CREATE TABLE model (
          version INTEGER PRIMARY KEY,
          parent INTEGER REFERENCES model(version),
          file TEXT NOT NULL,
          sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
          tasks TEXT NOT NULL,
          trained_tasks TEXT NOT NULL,
          frozen_tasks TEXT NOT NULL,
          frozen_verified INTEGER,
          metrics TEXT NOT NULL DEFAULT '{}',
          config TEXT NOT NULL DEFAULT '{}',
          training_job_id INTEGER,
          trained_through_annotation INTEGER,
          notes TEXT,
          created_at TEXT NOT NULL);
        CREATE TABLE model_promotion (
          id INTEGER PRIMARY KEY,
          model_version INTEGER NOT NULL REFERENCES model(version),
          promoted_by TEXT,
          reason TEXT,
          promoted_at TEXT NOT NULL);

        CREATE TABLE prediction (
          case_id INTEGER NOT NULL REFERENCES "case"(id),
          model_version INTEGER NOT NULL REFERENCES model(version),
          label TEXT NOT NULL REFERENCES label_class(name),
          confidence REAL NOT NULL,
          probabilities TEXT NOT NULL,
          p_malignant REAL,
          mask_id INTEGER REFERENCES mask(id),
          detections TEXT NOT NULL DEFAULT '[]',
          created_at TEXT NOT NULL,
          PRIMARY KEY (case_id, model_version)) WITHOUT ROWID;
        CREATE INDEX prediction_model ON prediction(model_version, case_id);
        """)
  }

  /// The browser's denormalised case status and the training job queue. Part of version 1; statements run in their original order.
  private static func createStatusAndTrainingTables(_ db: Database) throws {
    try db.execute(
      sql: """
        CREATE TABLE case_status (
          case_id INTEGER PRIMARY KEY REFERENCES "case"(id),
          split TEXT NOT NULL,
          added_at TEXT NOT NULL,
          n_labels INTEGER NOT NULL DEFAULT 0,
          disagreement INTEGER NOT NULL DEFAULT 0,
          last_annotated_at TEXT,
          pred_label TEXT,
          pred_confidence REAL,
          pred_model INTEGER);
        CREATE INDEX case_status_split ON case_status(split, case_id);
        CREATE INDEX case_status_added ON case_status(added_at, case_id);
        CREATE INDEX case_status_confidence ON case_status(pred_confidence, case_id);
        CREATE INDEX case_status_pred_label ON case_status(pred_label, pred_confidence, case_id);
        -- Equality filter + sort order pairs, so a common filter never forces a sort.
        CREATE INDEX case_status_pred_label_id ON case_status(pred_label, case_id);
        CREATE INDEX case_status_pred_label_added ON case_status(pred_label, added_at, case_id);
        CREATE INDEX case_status_split_confidence ON case_status(split, pred_confidence, case_id);
        CREATE INDEX case_status_split_added ON case_status(split, added_at, case_id);
        CREATE INDEX case_status_disagreement ON case_status(disagreement, case_id) WHERE disagreement;

        CREATE TABLE training_job (
          id INTEGER PRIMARY KEY,
          status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
          tasks TEXT NOT NULL,
          trigger TEXT NOT NULL,
          parent_model INTEGER REFERENCES model(version),
          result_model INTEGER REFERENCES model(version),
          progress REAL NOT NULL DEFAULT 0,
          epoch INTEGER,
          total_epochs INTEGER,
          batch INTEGER,
          total_batches INTEGER,
          loss REAL,
          eta_seconds REAL,
          message TEXT,
          pid INTEGER,
          created_at TEXT NOT NULL,
          started_at TEXT,
          heartbeat_at TEXT,
          finished_at TEXT,
          error TEXT);
        -- One trainer per workspace: at most one job is queued or running.
        CREATE UNIQUE INDEX training_job_one_active ON training_job((status IN ('queued', 'running')))
          WHERE status IN ('queued', 'running');
        CREATE TABLE training_log (
          id INTEGER PRIMARY KEY,
          job_id INTEGER NOT NULL REFERENCES training_job(id),
          epoch INTEGER,
          train_loss REAL,
          val_loss REAL,
          val_metric REAL,
          message TEXT,
          at TEXT NOT NULL);
        CREATE INDEX training_log_job ON training_log(job_id, id);
        """)
  }

  private static func createTriggers(_ db: Database) throws {
    try db.execute(
      sql: """
        -- The audit trail: annotations, adjudications and masks are never changed or removed.
        CREATE TRIGGER annotation_no_update BEFORE UPDATE ON annotation
        BEGIN SELECT RAISE(ABORT, 'annotations are append-only: history is never rewritten'); END;
        CREATE TRIGGER annotation_no_delete BEFORE DELETE ON annotation
        BEGIN SELECT RAISE(ABORT, 'annotations are append-only: history is never rewritten'); END;
        CREATE TRIGGER adjudication_no_update BEFORE UPDATE ON adjudication
        BEGIN SELECT RAISE(ABORT, 'adjudications are append-only'); END;
        CREATE TRIGGER adjudication_no_delete BEFORE DELETE ON adjudication
        BEGIN SELECT RAISE(ABORT, 'adjudications are append-only'); END;
        CREATE TRIGGER mask_no_update BEFORE UPDATE ON mask
        BEGIN SELECT RAISE(ABORT, 'masks are immutable'); END;
        CREATE TRIGGER case_no_delete BEFORE DELETE ON "case"
        BEGIN SELECT RAISE(ABORT, 'cases are never deleted'); END;
        CREATE TRIGGER case_fixed BEFORE UPDATE OF sha256, split ON "case"
        BEGIN SELECT RAISE(ABORT, 'a case''s SHA-256 and split never change'); END;
        CREATE TRIGGER session_no_reopen BEFORE UPDATE OF closed_at ON session WHEN OLD.closed_at IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'a closed session stays closed'); END;

        -- History is a chain per (case, rater): each annotation supersedes exactly the current one.
        CREATE TRIGGER annotation_chain BEFORE INSERT ON annotation
        WHEN NEW.supersedes IS NOT
          (SELECT annotation_id FROM current_annotation WHERE case_id = NEW.case_id AND rater_id = NEW.rater_id)
        BEGIN SELECT RAISE(ABORT, 'annotation must supersede the current annotation of its rater and case'); END;

        CREATE TRIGGER adjudication_chain BEFORE INSERT ON adjudication
        WHEN NEW.supersedes IS NOT (SELECT max(id) FROM adjudication WHERE case_id = NEW.case_id)
        BEGIN SELECT RAISE(ABORT, 'adjudication must supersede the current adjudication of its case'); END;

        CREATE TRIGGER case_status_insert AFTER INSERT ON "case"
        BEGIN
          INSERT INTO case_status (case_id, split, added_at) VALUES (NEW.id, NEW.split, NEW.added_at);
          INSERT INTO case_path_search (rowid, path) VALUES (NEW.id, NEW.path);
        END;
        CREATE TRIGGER case_path_update AFTER UPDATE OF path ON "case"
        BEGIN
          INSERT INTO case_path_search (case_path_search, rowid, path) VALUES ('delete', OLD.id, OLD.path);
          INSERT INTO case_path_search (rowid, path) VALUES (NEW.id, NEW.path);
        END;

        CREATE TRIGGER annotation_derive AFTER INSERT ON annotation
        BEGIN
          INSERT INTO current_annotation (case_id, rater_id, annotation_id, label, mask_id, session_id, created_at)
          VALUES (NEW.case_id, NEW.rater_id, NEW.id, NEW.label, NEW.mask_id, NEW.session_id, NEW.created_at)
          ON CONFLICT (case_id, rater_id) DO UPDATE SET
            annotation_id = excluded.annotation_id, label = excluded.label, mask_id = excluded.mask_id,
            session_id = excluded.session_id, created_at = excluded.created_at;

          UPDATE case_status SET
            n_labels = (SELECT count(*) FROM current_annotation
                        WHERE case_id = NEW.case_id AND label IS NOT NULL),
            disagreement = (SELECT count(DISTINCT label) > 1 FROM current_annotation
                            WHERE case_id = NEW.case_id AND label IS NOT NULL),
            last_annotated_at = NEW.created_at
          WHERE case_id = NEW.case_id;

          INSERT INTO session_current (session_id, case_id, rater_id, annotation_id, label, mask_id, created_at)
          SELECT NEW.session_id, NEW.case_id, NEW.rater_id, NEW.id, NEW.label, NEW.mask_id, NEW.created_at
          WHERE NEW.session_id IS NOT NULL
          ON CONFLICT (session_id, case_id, rater_id) DO UPDATE SET
            annotation_id = excluded.annotation_id, label = excluded.label, mask_id = excluded.mask_id,
            created_at = excluded.created_at;

          UPDATE session_case SET
            n_labels = (SELECT count(*) FROM session_current
                        WHERE session_id = NEW.session_id AND case_id = NEW.case_id AND label IS NOT NULL),
            disagreement = (SELECT count(DISTINCT label) > 1 FROM session_current
                            WHERE session_id = NEW.session_id AND case_id = NEW.case_id AND label IS NOT NULL)
          WHERE NEW.session_id IS NOT NULL AND session_id = NEW.session_id AND case_id = NEW.case_id;

          -- Labelling a case in a session lifts that rater's blinding for it in that session.
          DELETE FROM blind_pending
          WHERE NEW.session_id IS NOT NULL AND NEW.label IS NOT NULL
            AND rater_id = NEW.rater_id AND case_id = NEW.case_id AND session_id = NEW.session_id;
        END;

        -- Closing a session lifts its blinding.
        CREATE TRIGGER session_close AFTER UPDATE OF closed_at ON session WHEN NEW.closed_at IS NOT NULL
        BEGIN
          DELETE FROM blind_pending WHERE session_id = NEW.id;
        END;

        -- The browser shows the promoted model's prediction; keep case_status in step.
        CREATE TRIGGER prediction_insert AFTER INSERT ON prediction
        WHEN NEW.model_version = (SELECT model_version FROM model_promotion ORDER BY id DESC LIMIT 1)
        BEGIN
          UPDATE case_status SET pred_label = NEW.label, pred_confidence = NEW.confidence,
            pred_model = NEW.model_version
          WHERE case_id = NEW.case_id;
        END;
        CREATE TRIGGER prediction_update AFTER UPDATE ON prediction
        WHEN NEW.model_version = (SELECT model_version FROM model_promotion ORDER BY id DESC LIMIT 1)
        BEGIN
          UPDATE case_status SET pred_label = NEW.label, pred_confidence = NEW.confidence,
            pred_model = NEW.model_version
          WHERE case_id = NEW.case_id;
        END;
        CREATE TRIGGER model_promoted AFTER INSERT ON model_promotion
        BEGIN
          UPDATE case_status SET pred_label = NULL, pred_confidence = NULL, pred_model = NULL
          WHERE pred_model IS NOT NEW.model_version AND pred_model IS NOT NULL;
          UPDATE case_status SET pred_label = p.label, pred_confidence = p.confidence,
            pred_model = p.model_version
          FROM (SELECT case_id, label, confidence, model_version FROM prediction
                WHERE model_version = NEW.model_version) AS p
          WHERE case_status.case_id = p.case_id;
        END;
        """)
  }
}
