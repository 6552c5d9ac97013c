DROP INDEX IF EXISTS face_events_age_idx;
DROP INDEX IF EXISTS face_events_attributes_idx;
DROP INDEX IF EXISTS face_events_female_idx;
DROP INDEX IF EXISTS face_events_male_idx;
ALTER TABLE face_events DROP COLUMN IF EXISTS age;
-- As 2026-11-28-000002 made them.
CREATE INDEX face_events_female_idx ON face_events (camera_id, id)
    WHERE (features -> 'gender' ->> 'name') = 'female';
CREATE INDEX face_events_male_idx ON face_events (camera_id, id)
    WHERE (features -> 'gender' ->> 'name') = 'male';
CREATE INDEX face_events_attributes_idx ON face_events (
    (CASE WHEN jsonb_typeof(features -> 'age' -> 'name') = 'number' THEN (features -> 'age' ->> 'name')::float8 END),
    (features -> 'gender' ->> 'name'),
    (features -> 'emotions' ->> 'name'),
    (features -> 'beard' ->> 'name'),
    (features -> 'glasses' ->> 'name'),
    (features -> 'liveness' ->> 'name'));
