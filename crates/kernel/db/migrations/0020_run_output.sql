-- What a job's run reported it did, in a line for a person (issue 15: "every run is recorded
-- with duration, outcome and output").
ALTER TABLE job_runs ADD COLUMN output TEXT;
