/// Migration `pg-v9-retrain-requests`: `T` in the review app on a shared workspace. On an
/// embedded workspace `T` queues a job and starts a trainer; on a shared one only the service
/// role trains (it reads every label, blinded or not), so a rater's `T` records a request, and
/// the service trainer (`train --watch`) turns pending requests into one job. The rater's
/// status line then follows that job as on an embedded workspace.
///
/// - `retrain_request_add(reason)`: any rater of the workspace; one pending request per role
///   (pressing `T` again returns the pending one, so a rater cannot flood the table).
/// - `retrain_request_mine()`: the caller's newest request and what became of it (the job,
///   or why none was queued).
/// - `training_jobs_visible()`: the active job and the newest finished one, as every rater may
///   see them: progress and outcome, no server pid, and of the trigger only its reason and who
///   asked (not the correction counts).
/// - `change_version()` now also moves with training jobs and requests, so an open review app
///   re-reads the status when a job advances or ends.
enum PGRetrainRequestsV9 {
  static let id = "pg-v9-retrain-requests"

  static let publicFunctions = [
    "retrain_request_add(text)", "retrain_request_mine()", "training_jobs_visible()",
  ]

  static let sql = #"""
    CREATE TABLE retrain_request (
      id bigserial PRIMARY KEY,
      requested_by text NOT NULL,
      reason text NOT NULL,
      requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      handled_at timestamptz,
      job_id bigint REFERENCES training_job(id),
      outcome text);
    CREATE UNIQUE INDEX retrain_request_one_pending ON retrain_request (requested_by) WHERE handled_at IS NULL;

    CREATE FUNCTION retrain_request_add(p_reason text) RETURNS TABLE (id bigint, created boolean)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
    #variable_conflict use_column
    DECLARE v_id bigint;
    BEGIN
      PERFORM me();  -- a rater of this workspace, or BV010
      INSERT INTO retrain_request (requested_by, reason)
        VALUES (session_user, left(btrim(coalesce(p_reason, '')), 200))
        ON CONFLICT (requested_by) WHERE handled_at IS NULL DO NOTHING
        RETURNING retrain_request.id INTO v_id;
      IF v_id IS NOT NULL THEN
        RETURN QUERY SELECT v_id, true;
      ELSE
        RETURN QUERY SELECT r.id, false FROM retrain_request r
          WHERE r.requested_by = session_user AND r.handled_at IS NULL;
      END IF;
    END $$;

    CREATE FUNCTION retrain_request_mine()
    RETURNS TABLE (id bigint, handled boolean, job_id bigint, outcome text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT r.id, r.handled_at IS NOT NULL, r.job_id, r.outcome FROM retrain_request r
      WHERE r.requested_by = session_user ORDER BY r.id DESC LIMIT 1
    $$;

    CREATE FUNCTION training_jobs_visible()
    RETURNS TABLE (id bigint, status text, tasks text, trigger text, parent_model bigint, result_model bigint,
                   progress double precision, epoch integer, total_epochs integer, batch integer,
                   total_batches integer, loss double precision, eta_seconds double precision, message text,
                   pid integer, created_at double precision, started_at double precision,
                   heartbeat_at double precision, finished_at double precision, error text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT j.id, j.status, j.tasks,
        jsonb_strip_nulls(jsonb_build_object('reason', j.trigger::jsonb -> 'reason', 'by', j.trigger::jsonb -> 'by'))::text,
        j.parent_model, j.result_model, j.progress, j.epoch, j.total_epochs, j.batch, j.total_batches, j.loss,
        j.eta_seconds, j.message, NULL::integer, extract(epoch FROM j.created_at)::float8,
        extract(epoch FROM j.started_at)::float8, extract(epoch FROM j.heartbeat_at)::float8,
        extract(epoch FROM j.finished_at)::float8, j.error
      FROM training_job j
      WHERE j.status IN ('queued', 'running')
        OR j.id = (SELECT max(f.id) FROM training_job f WHERE f.status NOT IN ('queued', 'running'))
      ORDER BY j.id DESC
    $$;

    CREATE OR REPLACE FUNCTION change_version() RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = blastview, pg_temp AS $$
      SELECT (SELECT coalesce(max(id), 0) FROM annotation) + (SELECT coalesce(max(id), 0) FROM adjudication)
        + (SELECT coalesce(max(id), 0) FROM session) + (SELECT count(closed_at) FROM session)
        + (SELECT coalesce(max(id), 0) FROM model_promotion) + (SELECT count(*) FROM prediction)
        + 1000 * (SELECT coalesce(max(id), 0) FROM training_job)
        + 1000 * (SELECT count(*) FROM training_job WHERE status NOT IN ('queued', 'running'))
        + (SELECT coalesce(sum(100000 * coalesce(epoch, 0) + coalesce(batch, 0)
                                + CASE status WHEN 'running' THEN 1 ELSE 0 END), 0)
           FROM training_job WHERE status IN ('queued', 'running'))
        + (SELECT count(*) FROM retrain_request) + (SELECT count(handled_at) FROM retrain_request)
    $$;
    """#
}
