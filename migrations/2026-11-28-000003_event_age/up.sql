-- The event age as a column, so that `age_gte` / `age_lte` counts are index-only scans of
-- `(age, id)`: with the age inside `features` even an expression index had to read the table for
-- every matching row (~255 ms per 1M events for a range of 10 years; docs/events-queries.md).
--
-- `age` is what routes/events.rs compared before, the AGE expression of 2026-11-28-000002
-- (`features.age.name` when a JSON number, else NULL), and what the recorder now writes
-- (FaceEventRow::from_event). double precision, not real: the live feed's in-memory filter
-- (EventListFilters::matches) compares the f64 of the JSON, and a real would store 30.1 as
-- 30.100000381 and make `age_lte=30.1` disagree with it; the index entry is 32 bytes either way
-- (8 header + 8 + 16 uuid, aligned).
--
-- Indexes rebuilt below, dropped first so that the rewrite of the table does not build them twice.
-- The attributes index loses its age column (nothing emits the AGE expression any more) but stays
-- for the five class attributes: ANALYZE keeps statistics for each indexed expression, and without
-- them the planner takes any class filter for 0.5 % of the events (see 2026-11-28-000002).
DROP INDEX face_events_attributes_idx;
DROP INDEX face_events_female_idx;
DROP INDEX face_events_male_idx;

-- Backfill: added as a stored generated column, which fills it in one rewrite of the table and its
-- indexes, then made a plain column (DROP EXPRESSION keeps the values) for the recorder to write.
-- An UPDATE of every row was measured first: twice as slow (51 s per 1M events against 24 s for
-- this whole migration, plus 18 s of VACUUM), and it left the table and every index twice their
-- size, the id-ordered indexes for good (their half-empty pages are never refilled). face_events
-- stays locked meanwhile (the recorder's inserts and the list wait; faces queue on the broker):
-- fine at the sizes deployed so far, a larger table would want a batched backfill outside the
-- migration's transaction. On the partitioned parent, so every partition gets it.
ALTER TABLE face_events ADD COLUMN age double precision GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(features -> 'age' -> 'name') = 'number' THEN (features -> 'age' ->> 'name')::float8 END
) STORED;
ALTER TABLE face_events ALTER COLUMN age DROP EXPRESSION;

-- Age ranges: counts as index-only scans of the range.
CREATE INDEX face_events_age_idx ON face_events (age, id);

CREATE INDEX face_events_attributes_idx ON face_events (
    (features -> 'gender' ->> 'name'),
    (features -> 'emotions' ->> 'name'),
    (features -> 'beard' ->> 'name'),
    (features -> 'glasses' ->> 'name'),
    (features -> 'liveness' ->> 'name'));

-- The gender indexes as in 2026-11-28-000002, now carrying the age: a gender with an age range
-- is counted from the gender's index alone (its ages filtered there) instead of reading the
-- table for every event of the age range. 8 bytes more per entry, no more index per insert.
CREATE INDEX face_events_female_idx ON face_events (camera_id, id) INCLUDE (age)
    WHERE (features -> 'gender' ->> 'name') = 'female';
CREATE INDEX face_events_male_idx ON face_events (camera_id, id) INCLUDE (age)
    WHERE (features -> 'gender' ->> 'name') = 'male';

-- Statistics for the new column and the rebuilt index's expressions now rather than at the next
-- autovacuum: without them the planner misjudges every attribute filter. The rewritten table has
-- no visibility map yet, so index-only scans still visit the table until a VACUUM (not possible
-- in a transaction; autovacuum's comes after 20 % new events): run `VACUUM face_events` after
-- upgrading (docs/events-queries.md).
ANALYZE face_events;
