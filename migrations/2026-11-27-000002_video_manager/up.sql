-- The video manager sync: what each camera's job should carry, and what we know of that job.

-- Stream settings the camera carries into its video manager job (fps, ffmpeg_params, min_face_size...):
-- passed through as the job's own parameters, which win over the video manager's config file.
ALTER TABLE cameras ADD COLUMN stream_settings JSONB NOT NULL DEFAULT '{}';

-- One row per job the video manager holds (or may hold) for a camera. No foreign key: the row
-- outlives its camera until the job's DELETE has gone through.
CREATE TABLE video_manager_jobs (
    camera_id BIGINT PRIMARY KEY,
    -- The camera's modified_date last pushed successfully; NULL until the job was created.
    synced_modified TIMESTAMPTZ,
    -- The job's status as the video manager last reported it (AWAITING, INPROGRESS, ...), or the
    -- code it refused the job with (e.g. TOO_MANY_CAMERAS).
    status TEXT NOT NULL DEFAULT '',
    status_msg TEXT NOT NULL DEFAULT '',
    -- Why the last call failed (video manager unreachable...), empty after a success.
    sync_error TEXT NOT NULL DEFAULT '',
    checked_date TIMESTAMPTZ NOT NULL DEFAULT now()
);
