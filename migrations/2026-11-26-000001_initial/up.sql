-- ffsec initial schema. Conventions: ids are BIGSERIAL for operator-managed objects, UUIDv7 for
-- events (minted by ingest, so the id is the idempotency key through every hop).

CREATE TABLE camera_groups (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_date TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_date TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- FindFace always has a default group: cameras created without one land here.
INSERT INTO camera_groups (id, name, comment) VALUES (1, 'Default', 'Created by the initial migration');
SELECT setval('camera_groups_id_seq', 1);

CREATE TABLE cameras (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT TRUE,
    group_id BIGINT NOT NULL DEFAULT 1 REFERENCES camera_groups (id),
    -- Per-camera secret for external detectors (POST /events/faces/add/).
    external_detector_token TEXT NOT NULL,
    -- Overrides CONFIDENCE_THRESHOLD for this camera when set.
    confidence_threshold REAL,
    roi TEXT NOT NULL DEFAULT '',
    created_date TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_date TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX cameras_group_id_idx ON cameras (group_id);

CREATE TABLE dossier_lists (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    color TEXT NOT NULL DEFAULT 'ffffff',
    active BOOLEAN NOT NULL DEFAULT TRUE,
    notify BOOLEAN NOT NULL DEFAULT FALSE,
    created_date TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_date TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE dossiers (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_date TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_date TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A dossier can sit on several watch lists.
CREATE TABLE dossier_list_members (
    dossier_id BIGINT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    list_id BIGINT NOT NULL REFERENCES dossier_lists (id) ON DELETE CASCADE,
    PRIMARY KEY (dossier_id, list_id)
);
CREATE INDEX dossier_list_members_list_id_idx ON dossier_list_members (list_id);

CREATE TABLE dossier_faces (
    id BIGSERIAL PRIMARY KEY,
    dossier_id BIGINT NOT NULL REFERENCES dossiers (id) ON DELETE CASCADE,
    -- Media paths relative to MEDIA_ROOT; empty when the face was enrolled from a vector only.
    source_photo TEXT NOT NULL DEFAULT '',
    thumbnail TEXT NOT NULL DEFAULT '',
    -- L2-normalised feature vector, so cosine similarity is a dot product.
    embedding REAL[] NOT NULL,
    quality REAL NOT NULL DEFAULT 0,
    source_coords_left INTEGER,
    source_coords_top INTEGER,
    source_coords_right INTEGER,
    source_coords_bottom INTEGER,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_date TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_date TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX dossier_faces_dossier_id_idx ON dossier_faces (dossier_id);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    -- argon2id PHC string
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_date TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_login TIMESTAMPTZ
);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the token: a leaked table does not leak usable tokens.
    token_hash TEXT NOT NULL UNIQUE,
    created_date TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_date TIMESTAMPTZ NOT NULL
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

CREATE TABLE hooks (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT TRUE,
    url TEXT NOT NULL,
    batch_size INTEGER NOT NULL DEFAULT 1 CHECK (batch_size >= 1),
    send_attempts INTEGER NOT NULL DEFAULT 5 CHECK (send_attempts >= 0),
    filters JSONB NOT NULL DEFAULT '{}',
    -- Standard Webhooks secret, "whsec_<base64>".
    secret TEXT NOT NULL,
    created_date TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_date TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Face events, partitioned by creation day so retention drops partitions instead of deleting rows.
-- No foreign keys: events outlive the cameras and dossiers they name, and the table must shard by
-- camera group later.
CREATE TABLE face_events (
    id UUID NOT NULL,
    created_date TIMESTAMPTZ NOT NULL,
    camera_id BIGINT NOT NULL,
    camera_group_id BIGINT NOT NULL,
    bs_type TEXT NOT NULL,
    thumbnail TEXT NOT NULL,
    fullframe TEXT NOT NULL DEFAULT '',
    matched BOOLEAN NOT NULL,
    matched_dossier_id BIGINT,
    matched_face_id BIGINT,
    matched_lists BIGINT[] NOT NULL DEFAULT '{}',
    confidence REAL NOT NULL DEFAULT 0,
    quality REAL NOT NULL DEFAULT 0,
    frame_coords_left INTEGER NOT NULL,
    frame_coords_top INTEGER NOT NULL,
    frame_coords_right INTEGER NOT NULL,
    frame_coords_bottom INTEGER NOT NULL,
    detector_params JSONB NOT NULL DEFAULT '{}',
    features JSONB NOT NULL DEFAULT '{}',
    acknowledged BOOLEAN NOT NULL DEFAULT FALSE,
    acknowledged_date TIMESTAMPTZ,
    acknowledged_by_id BIGINT,
    recorded_date TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_date)
) PARTITION BY RANGE (created_date);
-- Daily partitions are created ahead by retention; the default partition catches everything else.
CREATE TABLE face_events_default PARTITION OF face_events DEFAULT;
CREATE INDEX face_events_camera_idx ON face_events (camera_id, id);
CREATE INDEX face_events_matched_dossier_idx ON face_events (matched_dossier_id, id) WHERE matched_dossier_id IS NOT NULL;
CREATE INDEX face_events_created_date_idx ON face_events (created_date);

CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    hook_id BIGINT NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
    -- The Standard Webhooks message id ("webhook-id"), stable across retries.
    message_id TEXT NOT NULL,
    event_ids UUID[] NOT NULL,
    attempt INTEGER NOT NULL,
    success BOOLEAN NOT NULL,
    response_status INTEGER,
    error TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL,
    created_date TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (hook_id, id);
