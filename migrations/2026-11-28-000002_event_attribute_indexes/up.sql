-- Indexes for the event list's attribute filters (gender, age, emotions, beard, glasses, liveness:
-- `features -> '<attr>' ->> 'name'` and the `AGE` expression of routes/events.rs). Plans and
-- timings over 1M events: docs/events-queries.md.
--
-- PostgreSQL matches an expression index only to the very same expression, so the expressions
-- below are those routes/events.rs emits; change one there and here together (the e2e test
-- gateway_event_indexes fails when the list stops using them).
--
-- An index-only scan cannot evaluate an expression over `features` (the planner then wants the
-- column itself), so an expression index still reads the table for a count. A partial index
-- whose predicate the query implies needs no such check: the two gender indexes make
-- `count` with gender=female|male (and with a camera) an index-only scan.
--
-- Cost per insert: every event goes into two more indexes (its gender's, unless it has none, and
-- the attributes one) besides the six it already went into, ~8 us of the recorder's time per event:
-- its multi-row inserts store ~10 % fewer events per second (14.7k -> 13.2k/s in batches of 100,
-- scripts/bench/event-inserts.sh). The gender indexes take 19 MB and the attributes one 39 MB per
-- million events (with gender and age only; more with the other attributes). Built without
-- CONCURRENTLY (not possible on a partitioned table, nor in a migration's transaction): the
-- recorder's inserts wait while they are built (~4 s for the three per million events here), and the
-- accepted faces queue on the broker meanwhile.

-- gender=female or male: the count (alone or with cameras) and the page with one camera, as
-- index-only or ordered index scans. Known values only: other genders scan like other attributes.
CREATE INDEX face_events_female_idx ON face_events (camera_id, id)
    WHERE (features -> 'gender' ->> 'name') = 'female';
CREATE INDEX face_events_male_idx ON face_events (camera_id, id)
    WHERE (features -> 'gender' ->> 'name') = 'male';

-- Age ranges (first column) with any class attribute narrowing them inside the index, and above all
-- the statistics ANALYZE keeps for each indexed expression: without them the planner takes
-- gender=female for 0.5 % of the events instead of half and sorts the whole table for a page.
CREATE INDEX face_events_attributes_idx ON face_events (
    (CASE WHEN jsonb_typeof(features -> 'age' -> 'name') = 'number' THEN (features -> 'age' ->> 'name')::float8 END),
    (features -> 'gender' ->> 'name'),
    (features -> 'emotions' ->> 'name'),
    (features -> 'beard' ->> 'name'),
    (features -> 'glasses' ->> 'name'),
    (features -> 'liveness' ->> 'name'));
