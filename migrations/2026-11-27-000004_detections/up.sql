-- POST /detect/ results, kept DETECTION_TTL seconds so that later calls (verify, looks_like,
-- create_from) can name a face by `detection:<id>`. They live here rather than in one gateway's
-- memory so that any replica behind a balancer resolves an id another replica handed out.

-- The uploaded photo, once per upload however many faces it holds; its faces go with it.
CREATE TABLE detection_photos (
    id UUID PRIMARY KEY,
    photo BYTEA NOT NULL,
    created_date TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX detection_photos_expires_at_idx ON detection_photos (expires_at);

CREATE TABLE detections (
    id UUID PRIMARY KEY,
    photo_id UUID NOT NULL REFERENCES detection_photos (id) ON DELETE CASCADE,
    embedding REAL[] NOT NULL,
    detection_score REAL NOT NULL,
    quality REAL NOT NULL,
    bbox_left INTEGER NOT NULL,
    bbox_top INTEGER NOT NULL,
    bbox_right INTEGER NOT NULL,
    bbox_bottom INTEGER NOT NULL
);
CREATE INDEX detections_photo_id_idx ON detections (photo_id);
