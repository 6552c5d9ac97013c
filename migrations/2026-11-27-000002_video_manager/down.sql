DROP TABLE video_manager_jobs;
ALTER TABLE cameras DROP COLUMN stream_settings;
