DROP INDEX IF EXISTS face_events_matched_idx;
DROP INDEX IF EXISTS face_events_camera_group_idx;
