-- EXPLAIN (ANALYZE, BUFFERS) of the SQL `GET /events/faces/` runs for its main filters: the page
-- (newest first, 21 rows = limit 20 + 1, after a cursor) and the `count`. Run against a database
-- seeded by `ffsec-loadgen seed-events` (docs/events-queries.md):
--   psql -h 127.0.0.1 -U postgres -d ffsec_evbench -f scripts/explain-events.sql
\set cols 'id, created_date, camera_id, matched, matched_dossier_id, acknowledged'
-- A cursor 1000 events deep, as after 50 pages.
SELECT id AS cursor FROM face_events ORDER BY id DESC OFFSET 1000 LIMIT 1 \gset
SELECT (now() - interval '1 day') AS day_ago, (now() - interval '1 hour') AS hour_ago,
       (now() - interval '7 days') AS week_ago \gset
\echo '### no filter: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE id < :'cursor' ORDER BY id DESC LIMIT 21;
\echo '### no filter: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events;
\echo '### cameras=3: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE camera_id = ANY('{3}') AND id < :'cursor' ORDER BY id DESC LIMIT 21;
\echo '### cameras=3: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events WHERE camera_id = ANY('{3}');
\echo '### cameras=3,4,5: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE camera_id = ANY('{3,4,5}') AND id < :'cursor' ORDER BY id DESC LIMIT 21;
\echo '### camera_groups=2: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE camera_group_id = ANY('{2}') AND id < :'cursor' ORDER BY id DESC LIMIT 21;
\echo '### matched=true: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE matched = true AND id < :'cursor' ORDER BY id DESC LIMIT 21;
\echo '### matched=true: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events WHERE matched = true;
\echo '### matched_dossier=17: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE matched_dossier_id = ANY('{17}') AND matched = true ORDER BY id DESC LIMIT 21;
\echo '### matched_lists=2: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE matched_lists && '{2}' AND matched = true AND id < :'cursor' ORDER BY id DESC LIMIT 21;
\echo '### matched_lists=2: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events WHERE matched_lists && '{2}' AND matched = true;
\echo '### acknowledged=false&matched=true: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE matched = true AND acknowledged = false ORDER BY id DESC LIMIT 21;
\echo '### acknowledged=false&matched=true: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events WHERE matched = true AND acknowledged = false;
\echo '### created_date in [day ago, hour ago]: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE created_date >= :'day_ago' AND created_date <= :'hour_ago' ORDER BY id DESC LIMIT 21;
\echo '### created_date in [day ago, hour ago]: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events WHERE created_date >= :'day_ago' AND created_date <= :'hour_ago';
\echo '### cameras=3&matched=true: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE camera_id = ANY('{3}') AND matched = true AND id < :'cursor' ORDER BY id DESC LIMIT 21;
\echo '### cameras=3&matched=true: count'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM face_events WHERE camera_id = ANY('{3}') AND matched = true;
\echo '### cameras=3&created_date in [week ago, day ago]: page'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT :cols FROM face_events WHERE camera_id = ANY('{3}') AND created_date >= :'week_ago' AND created_date <= :'day_ago' ORDER BY id DESC LIMIT 21;
-- The attribute filters (gender, age, ...): scripts/explain-event-attributes.sql.
\ir explain-event-attributes.sql
