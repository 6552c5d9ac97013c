#!/bin/bash
# event-inserts.sh DB [ROWS] [BATCH]: the recorder's insert rate into face_events — multi-row
# `INSERT ... ON CONFLICT (id, created_date) DO NOTHING RETURNING id`, one statement (and commit)
# per batch of BATCH rows (default 10 000 rows in batches of 100), ids UUIDv7 of now as ingest
# mints them, the features of the default EVENTS_FEATURES (gender, age, emotions, beard, glasses),
# and the age also in its column (migration 2026-11-28-000003), as FaceEventRow carries it.
# Prints rows/s.
# docs/events-queries.md compares the rate before and after the attribute indexes.
set -euo pipefail
db=$1; rows=${2:-10000}; batch=${3:-100}
sql=$(mktemp /tmp/event-inserts.XXXXXX.sql)
trap 'rm -f "$sql"' EXIT
python3 - "$rows" "$batch" > "$sql" <<'PY'
import random, sys, time, uuid
rows, batch = int(sys.argv[1]), int(sys.argv[2])
emotions = ["neutral", "happy", "sad", "surprise", "angry"]
ms = int(time.time() * 1000)
cols = ("id, created_date, camera_id, camera_group_id, bs_type, thumbnail, matched, matched_lists, "
        "frame_coords_left, frame_coords_top, frame_coords_right, frame_coords_bottom, features, age")
for start in range(0, rows, batch):
    values = []
    for i in range(start, min(start + batch, rows)):
        ms += 1
        raw = (ms << 80) | (0x7 << 76) | (random.getrandbits(12) << 64) | (0b10 << 62) | random.getrandbits(62)
        camera = random.randint(1, 20)
        age = random.randint(18, 77)
        features = ('{"gender": {"name": "%s", "confidence": 0.9}, "age": {"name": %d, "confidence": 0.8}, '
                    '"emotions": {"name": "%s", "confidence": 0.7}, "beard": {"name": "%s", "confidence": 0.6}, '
                    '"glasses": {"name": "%s", "confidence": 0.8}}'
                    % (random.choice(["male", "female"]), age, random.choice(emotions),
                       random.choice(["beard", "none"]), random.choice(["none", "eye", "sun"])))
        values.append("('%s', to_timestamp(%f), %d, %d, 'overall', 'events/bench/%d.jpg', false, '{}', "
                      "10, 20, 110, 140, '%s', %d)" % (uuid.UUID(int=raw), ms / 1000, camera, 1 + camera % 4, i, features, age))
    print("INSERT INTO face_events (%s) VALUES\n%s\nON CONFLICT (id, created_date) DO NOTHING RETURNING id;"
          % (cols, ",\n".join(values)))
PY
# The sum of the statements' round trips (psql's \timing), so reading the file does not count.
{ echo '\timing on'; cat "$sql"; } |
  psql -h 127.0.0.1 -U postgres -d "$db" -qX -v ON_ERROR_STOP=1 -f - |
  awk -v rows="$rows" -v batch="$batch" '/^Time: / { ms += $2 }
    END { printf "%d rows in batches of %d: %.0f ms, %.0f rows/s\n", rows, batch, ms, rows * 1000 / ms }'
