# Monitoring, alerts, incidents and tasks (issue 15, items 5–7).

## Notifications (Slack, e-mail, SMS)
alert-severity-info = Info
alert-severity-warning = Warning
alert-severity-critical = Critical
alert-notification = { $severity }: { $title }
alert-escalated = Escalated, nobody has acknowledged it: { $title }
alert-occurrences = Seen { $count } times. { $link }
alert-threshold-title = { $metric } is { $value } (threshold { $limit })
alert-threshold-detail = { $metric } measured { $value } against a threshold of { $limit }.
alert-rate-limit-title = Callers are being rate-limited on { $route }
alert-provider-title = { $provider } keeps failing: its circuit breaker is open

## Metrics
metric-error_rate = Error rate
metric-response_time_p95 = Response time (p95)
metric-database_connections = Database connections
metric-memory_usage = Memory usage
metric-cpu_usage = CPU usage
metric-failed_payments = Failed payments
metric-fraud_detections = Fraud detections

## Refusals
ops-alert-not-firing = That alert is not firing (or is acknowledged already).
ops-incident-resolved = That incident is resolved; only notes and the post-mortem can be added.
ops-invalid-message = Write a message of up to 3,000 characters.
ops-invalid-subject = Write a subject of up to 200 characters on one line.
ops-invalid-priority = Choose a severity: P0, P1, P2 or P3.
ops-invalid-recipient = Enter a valid e-mail address.
ops-invalid-severity = Choose a severity: info, warning or critical.
ops-invalid-silence = Silence for 1 minute to 30 days.
ops-invalid-silence-reason = Say why (up to 500 characters).
ops-invalid-text = Write up to { $max } characters.
ops-metric-needed = Input needs a "metric".
ops-postmortem-written = Post-mortem written.
ops-task-closed = That task is closed already.
ops-threshold-number = A level is a number (or empty to turn it off).
ops-threshold-order = The warning level must be below the critical level.
ops-threshold-range = A level is from 0 to { $max }.
ops-unknown-alert-type = There is no such alert type.
ops-unknown-metric = There is no threshold for { $metric }.
ops-unknown-owner = That is not a staff member.

## Admin: navigation and notices
admin-nav-alerts = Alerts
admin-nav-thresholds = Thresholds
admin-nav-incidents = Incidents
admin-nav-tasks = Tasks
admin-notice-alert-changed = Alert updated.
admin-notice-alert-silenced = Silence set.
admin-notice-threshold-saved = Threshold saved.
admin-notice-incident-changed = Incident updated.
admin-notice-task-changed = Task updated.

## Admin: alerts
admin-alerts-heading = Alerts, silences, deliveries and the sandbox
admin-col-alert = Alert
admin-empty-alerts = No alerts yet.
admin-alert-firing = Firing
admin-alert-resolved = Resolved
admin-alert-acknowledged = Acknowledged by { $by }
admin-alert-count = seen { $count }, notified { $sent }
admin-alert-acknowledge = Acknowledge
admin-alert-resolve = Resolve
admin-alert-silence = Silence for an hour
admin-silence = Silence: { $type }
admin-silence-until = until { $when }
admin-silence-hour = Silenced for an hour from the alerts page
admin-silence-heading = Silence an alert type
admin-silence-type = Alert type
admin-silence-minutes = Minutes
admin-silence-reason = Reason
admin-silence-button = Silence
admin-delivery = Delivery: { $channel }
admin-delivery-status = { $status } after { $attempts } attempts
admin-sandbox = Sandbox: { $provider }

## Admin: thresholds
admin-thresholds-heading = Monitoring thresholds
admin-col-metric = Metric
admin-col-levels = Levels
admin-col-reading = Last reading
admin-threshold-levels = warning over { $warning }, critical over { $critical }, over { $window } min
admin-threshold-off = off
admin-threshold-form = Change a threshold
admin-threshold-warning = Warning level (empty: off)
admin-threshold-critical = Critical level (empty: off)
admin-threshold-button = Save threshold
admin-level-ok = ok
admin-level-warning = warning
admin-level-critical = critical
admin-level-unmeasured = not measured yet

## Admin: incidents
admin-incidents-heading = Incidents
admin-col-incident = Incident
admin-col-due = Response due
admin-empty-incidents = No incidents.
admin-incident-open = Open an incident
admin-incident-title = Title
admin-incident-severity = Severity (P0, P1, P2 or P3)
admin-incident-open-button = Open incident
admin-incident-respond-by = respond by { $when }
admin-incident-owner = Owner: { $owner }
admin-incident-no-owner = nobody yet
admin-incident-update = Update the incident
admin-incident-owner-field = Owner (a staff member's e-mail)
admin-incident-note = Timeline note
admin-incident-resolution = Resolution
admin-incident-postmortem = Post-mortem
admin-incident-save = Save
admin-incident-status-open = Open
admin-incident-status-resolved = Resolved
admin-incident-event-opened = Opened
admin-incident-event-assigned = Assigned
admin-incident-event-note = Note
admin-incident-event-resolved = Resolved
admin-incident-event-postmortem = Post-mortem

## Admin: tasks
admin-tasks-heading = Tasks for people
admin-col-task = Task
admin-empty-tasks = No tasks.
admin-task-mine = Open, yours
admin-task-assigned = Open, assigned
admin-task-open = Open
admin-task-done = Done
admin-task-dismissed = Dismissed
admin-task-done-action = Done
admin-task-take = Assign to me
admin-task-dismiss = Dismiss

## The autonomy dashboard (/admin/autonomy) and self-healing

admin-nav-autonomy = Autonomy
autonomy-mode-on = Autonomous tasks run (ENABLE_AUTONOMOUS is on); safety jobs always run.
autonomy-mode-off = Autonomous tasks are off (ENABLE_AUTONOMOUS is not set); safety jobs still run.
autonomy-col-what = What
autonomy-col-detail = Detail
autonomy-col-state = State
autonomy-col-when = When
autonomy-tasks = Scheduled tasks
autonomy-healing = Self-healing events
autonomy-breakers = Circuit breakers
autonomy-workflows = Workflow activity
autonomy-waits = Workflows waiting for a person
autonomy-decisions = Policy decisions (escalations first)
autonomy-alerts = Alerts firing and open incidents
autonomy-person = Waiting for a person
autonomy-empty-tasks = No scheduled tasks.
autonomy-empty-healing = Nothing has needed healing yet.
autonomy-empty-breakers = No provider has failed: every circuit breaker is closed.
autonomy-empty-workflows = No workflow runs.
autonomy-empty-waits = No workflow is waiting for a person.
autonomy-empty-decisions = No policy decisions yet.
autonomy-empty-alerts = No alert is firing and no incident is open.
autonomy-empty-person = Nothing is waiting for a person.
autonomy-never = never run
autonomy-paused = Paused
autonomy-enabled = Enabled
autonomy-needs-autonomous = Waits for ENABLE_AUTONOMOUS
autonomy-last = Last: { $outcome } · { $cron }
autonomy-next = Next: { $when }
autonomy-breaker-failures = { $count } failures { $error }
autonomy-runs-by-status = Runs by status
autonomy-run-failed = Failed
autonomy-run-compensating = Undoing its steps
autonomy-wait-step = Waits at { $step }
autonomy-wait-until = Times out { $when }
autonomy-decision-allow = Allowed
autonomy-decision-deny = Denied
autonomy-decision-escalate = Escalated to a person
autonomy-incident-open = Open incident
autonomy-owned = Has an owner
autonomy-unowned = Nobody has it yet
breaker-closed = Closed
breaker-open = Open: calls fail fast
breaker-half_open = Half-open: probing
healing-action-breaker_opened = circuit breaker opened
healing-action-breaker_half_open = probe after the cool-down
healing-action-breaker_closed = circuit breaker closed
healing-action-fallback = fell back to the backup
healing-action-reconnected = reconnected
healing-action-resumed = interrupted work resumed
healing-action-cleaned = cleaned up
healing-outcome-healed = Healed
healing-outcome-degraded = Degraded
healing-outcome-probing = Probing
healing-outcome-failed = Failed
healing-outcome-done = Done
