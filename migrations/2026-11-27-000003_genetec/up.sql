-- Genetec Security Center: which cameras are linked, and the log of alarms raised.

-- Logical ID of the Security Center camera this camera is (the alarm's source); NULL = not linked
-- (unless its camera group is GENETEC.CAMERA_GROUP).
ALTER TABLE cameras ADD COLUMN genetec_camera INTEGER;
CREATE UNIQUE INDEX cameras_genetec_camera_idx ON cameras (genetec_camera) WHERE genetec_camera IS NOT NULL;

-- One row per attempt (or decision not to call), like webhook_deliveries.
CREATE TABLE genetec_alarms (
    id BIGSERIAL PRIMARY KEY,
    event_id UUID NOT NULL,
    camera_id BIGINT NOT NULL,
    dossier_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    -- sent, failed (will retry), gave_up, rate_limited
    outcome TEXT NOT NULL,
    response_status INTEGER,
    error TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL DEFAULT 0,
    created_date TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX genetec_alarms_event_idx ON genetec_alarms (event_id);
CREATE INDEX genetec_alarms_created_date_idx ON genetec_alarms (created_date);
