DROP TABLE genetec_alarms;
ALTER TABLE cameras DROP COLUMN genetec_camera;
