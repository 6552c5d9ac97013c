DROP INDEX IF EXISTS face_events_attributes_idx;
DROP INDEX IF EXISTS face_events_male_idx;
DROP INDEX IF EXISTS face_events_female_idx;
