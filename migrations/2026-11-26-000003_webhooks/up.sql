-- Webhook delivery, complete: secret rotation, auto-disable bookkeeping, a fuller delivery log.

-- The secret replaced by the last rotation keeps signing (beside the new one) until it expires.
ALTER TABLE hooks ADD COLUMN previous_secret TEXT;
ALTER TABLE hooks ADD COLUMN previous_secret_expires TIMESTAMPTZ;
-- Failure streak, shared by every dispatcher replica: reset by a success.
ALTER TABLE hooks ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hooks ADD COLUMN failing_since TIMESTAMPTZ;
-- Why and when the dispatcher switched the hook off (empty while it is on or was switched off by hand).
ALTER TABLE hooks ADD COLUMN disabled_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE hooks ADD COLUMN disabled_date TIMESTAMPTZ;

ALTER TABLE webhook_deliveries ADD COLUMN response_body TEXT NOT NULL DEFAULT '';
CREATE INDEX webhook_deliveries_created_date_idx ON webhook_deliveries (created_date);
