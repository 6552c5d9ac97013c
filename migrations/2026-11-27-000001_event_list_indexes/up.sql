-- Indexes for the event list's main filters (measured plans over 1M events: docs/events-queries.md).
-- Each walks in id order, so "newest first, after this cursor" reads one index in order and stops
-- after a page. Every index costs the recorder an insert, so there are few:
-- - camera groups, like cameras (face_events_camera_idx);
-- - matched events, the operator's alert list: few rows, and covering the columns that filters
--   combine with `matched` (the list adds `matched = true` whenever a dossier or watch list is
--   asked for), so their pages and counts never touch the table.
-- The `features` attributes (gender, age, ...) get none: they narrow an indexed walk.
CREATE INDEX face_events_camera_group_idx ON face_events (camera_group_id, id);
CREATE INDEX face_events_matched_idx ON face_events (id)
    INCLUDE (camera_id, camera_group_id, matched_dossier_id, matched_lists, acknowledged) WHERE matched;
