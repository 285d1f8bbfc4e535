-- A person's controls over each schedule (issue 15): a cron expression that replaces the code's
-- (NULL: the code's), and whether the task is autonomous (it runs only when ENABLE_AUTONOMOUS is
-- true; safety jobs such as reservation expiry run whatever it says).
ALTER TABLE schedules ADD COLUMN cron_override TEXT;
ALTER TABLE schedules ADD COLUMN autonomous BIGINT NOT NULL DEFAULT 0;
