-- Feature vectors of past events, for "where was this person seen?" (`looks_like` on
-- GET /events/faces/). A table of their own rather than a column of face_events: the event list
-- scans face_events all the time and would drag half a kilobyte per row through the cache, and
-- vectors may be kept for less time than their events (EVENT_SEARCH.VECTORS_MAX_AGE).
-- No foreign key, like face_events itself (partitioned, and purged in batches): the retention job
-- deletes an event's vector in the same statement as the event.
CREATE TABLE event_vectors (
    event_id UUID PRIMARY KEY,
    -- The event's detection time: what the age limits and the date filters compare.
    created_date TIMESTAMPTZ NOT NULL,
    matched BOOLEAN NOT NULL,
    embedding REAL[] NOT NULL,
    -- When the recorder stored it: every gateway replica keeps an in-memory index of these rows and
    -- catches up on what it missed during a broker outage by this column.
    recorded_date TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX event_vectors_created_date_idx ON event_vectors (created_date);
CREATE INDEX event_vectors_recorded_date_idx ON event_vectors (recorded_date, event_id);
