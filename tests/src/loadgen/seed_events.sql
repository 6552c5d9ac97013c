-- $1 events spread evenly over the $2 days before now, on cameras 1..$3 picked by a hash of the row
-- number (camera group = 1 + camera % 4; gender and age from the same hash). Every 10th event is matched (dossier 1..1000, watch list 1 + dossier % 5, confidence
-- 0.75..0.95); matched events older than a day are acknowledged. Ids are UUIDv7 built from
-- `created_date` (so id order is time order, as ingest mints them), made unique by the row number.
INSERT INTO face_events (
    id, created_date, camera_id, camera_group_id, bs_type, thumbnail, fullframe, matched,
    matched_dossier_id, matched_lists, confidence, quality, frame_coords_left, frame_coords_top,
    frame_coords_right, frame_coords_bottom, detector_params, features, acknowledged,
    acknowledged_date, acknowledged_by_id, age)
SELECT
    (lpad(to_hex(floor(extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7'
        || lpad(to_hex(i % 4096), 3, '0') || '8' || lpad(to_hex(i), 15, '0'))::uuid,
    ts, camera, 1 + camera % 4, 'overall', 'events/seed/' || i || '_face.jpg', '', matched,
    CASE WHEN matched THEN dossier END,
    CASE WHEN matched THEN ARRAY[1 + dossier % 5]::bigint[] ELSE '{}' END,
    CASE WHEN matched THEN 0.75 + (i % 20) / 100.0 ELSE 0 END, -1.0, 10, 20, 110, 140, '{}',
    jsonb_build_object(
        'gender', jsonb_build_object('name', CASE WHEN h & 256 = 0 THEN 'male' ELSE 'female' END, 'confidence', 0.9),
        'age', jsonb_build_object('name', age, 'confidence', 0.8)),
    matched AND ts < now() - interval '1 day',
    CASE WHEN matched AND ts < now() - interval '1 day' THEN ts + interval '1 minute' END,
    CASE WHEN matched AND ts < now() - interval '1 day' THEN 1 END,
    age
FROM (
    SELECT i, h,
           now() - make_interval(secs => (($1 - i) * ($2 * 86400.0 / $1))::float8) AS ts,
           1 + h % $3 AS camera,
           i % 10 = 0 AS matched,
           1 + (i / 10) % 1000 AS dossier,
           18 + (h >> 12) % 60 AS age
    FROM (SELECT i, hashint8(i)::bigint & 2147483647 AS h FROM generate_series(1::bigint, $1::bigint) AS i) AS g
) AS s;
