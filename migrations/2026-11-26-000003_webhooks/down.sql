DROP INDEX webhook_deliveries_created_date_idx;
ALTER TABLE webhook_deliveries DROP COLUMN response_body;
ALTER TABLE hooks DROP COLUMN disabled_date;
ALTER TABLE hooks DROP COLUMN disabled_reason;
ALTER TABLE hooks DROP COLUMN failing_since;
ALTER TABLE hooks DROP COLUMN failed_attempts;
ALTER TABLE hooks DROP COLUMN previous_secret_expires;
ALTER TABLE hooks DROP COLUMN previous_secret;
