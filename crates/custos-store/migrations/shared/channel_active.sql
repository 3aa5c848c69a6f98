-- A notification channel can be paused (issue 33): a paused channel keeps its settings and
-- its delivery log but nothing is queued for it, and what was pending when it was paused is
-- marked `cancelled` (never sent, also not on resuming).
ALTER TABLE notification_channels ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
