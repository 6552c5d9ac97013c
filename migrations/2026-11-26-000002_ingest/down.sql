DROP INDEX IF EXISTS dossier_faces_active_id_idx;
ALTER TABLE dossier_lists DROP COLUMN confidence_threshold;
