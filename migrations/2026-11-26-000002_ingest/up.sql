-- A watch list may demand its own similarity for a match; NULL = the camera's override, else
-- CONFIDENCE_THRESHOLD.
ALTER TABLE dossier_lists ADD COLUMN confidence_threshold REAL
    CHECK (confidence_threshold IS NULL OR (confidence_threshold >= 0 AND confidence_threshold <= 1));
-- The gallery loads active faces in id order, page by page.
CREATE INDEX dossier_faces_active_id_idx ON dossier_faces (id) WHERE active;
