-- EXPLAIN (ANALYZE, BUFFERS) of the event list's attribute filters (gender, age; emotions, beard,
-- glasses and liveness are built like gender), with the SQL text routes/events.rs emits (the
-- expression indexes of migration 2026-11-28-000002 match it; the age is a column since
-- 2026-11-28-000003). Included by explain-events.sql;
-- alone: psql -h 127.0.0.1 -U postgres -d ffsec_evbench -f scripts/explain-event-attributes.sql
\set cols 'id, created_date, camera_id, matched, matched_dossier_id, acknowledged'
SELECT id AS cursor FROM face_events ORDER BY id DESC OFFSET 1000 LIMIT 1 \gset
\echo '### gender=female: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE (features -> 'gender' ->> 'name') = ANY('{female}') AND id < :'cursor' ORDER BY id DESC LIMIT 21;
\echo '### gender=female: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events WHERE (features -> 'gender' ->> 'name') = ANY('{female}');
\echo '### gender=female,male: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events WHERE (features -> 'gender' ->> 'name') = ANY('{female,male}');
\echo '### age 30..40: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE age >= 30 AND age <= 40 AND id < :'cursor' ORDER BY id DESC LIMIT 21;
\echo '### age 30..40: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events WHERE age >= 30 AND age <= 40;
\echo '### age >= 70: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events WHERE age >= 70;
\echo '### cameras=3&gender=male: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE camera_id = ANY('{3}') AND (features -> 'gender' ->> 'name') = ANY('{male}') AND id < :'cursor' ORDER BY id DESC LIMIT 21;
\echo '### cameras=3&gender=male: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events WHERE camera_id = ANY('{3}') AND (features -> 'gender' ->> 'name') = ANY('{male}');
\echo '### gender=female&age 30..40: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE (features -> 'gender' ->> 'name') = ANY('{female}') AND age >= 30 AND age <= 40 ORDER BY id DESC LIMIT 21;
\echo '### gender=female&age 30..40: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events WHERE (features -> 'gender' ->> 'name') = ANY('{female}') AND age >= 30 AND age <= 40;
