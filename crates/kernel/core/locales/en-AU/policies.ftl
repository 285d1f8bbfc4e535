# Policies as data (issue 15, item 3).

## Refusals of a condition
policy-empty = Write a condition, such as amount <= 500 AND creator_tier >= 'silver'.
policy-invalid = The condition is not a valid expression: { $detail }
policy-incomplete = the expression ends before it is complete
policy-unsupported = Conditions cannot use { $what } values.
policy-too-long = The condition is { $length } characters long; at most { $max } are allowed.
policy-unknown-fact = { $fact } is not a fact of this policy (its facts: { $facts }).
policy-unknown-member = '{ $value }' is not one of { $members }.
policy-unknown-function = { $function } is not a function a condition may use.
policy-type-mismatch = { $op } cannot be applied to a { $left } and a { $right }.
policy-not-boolean = The condition must be true or false, but it gives a { $type }.
policy-threshold-range = The escalation threshold is a number from { $min } to { $max } ({ $fact }).
policy-failed = The policy could not be evaluated: { $detail }

## Refusals of facts
policy-facts-object = The facts are an object of each fact's value.
policy-missing-fact = The fact { $fact } is missing.
policy-fact-range = { $fact } must be a number from { $min } to { $max }.
policy-fact-text = { $fact } must be text of at most { $max } characters.
policy-fact-bool = { $fact } must be true or false.
policy-fact-member = { $fact } must be one of { $members }.

## The task an escalation opens
policy-task-title = A person decides { $action } for { $subject } ({ $policy })
policy-task-detail = Version { $version } of the policy escalated this decision ({ $decision }) with the facts { $facts }.
policy-approval-flag = approval_required is true or false.

## Admin: the policies page
admin-nav-policies = Policies
admin-policies-heading = Policies, their versions and the newest decisions
admin-col-policy = Policy
admin-col-condition = Condition
admin-policy = { $policy } (decides { $action })
admin-policy-escalation = A person decides when { $fact } { $when } { $threshold }
admin-policy-version = Version { $version } in force (newest { $latest })
admin-policy-version-row = { $policy } version { $version }
admin-policy-in-force = In force
admin-policy-activate = Put in force
admin-policy-dry-run = Dry run against recent decisions
admin-policy-decision = Decision of { $policy } version { $version }
admin-policy-outcome-allow = Allowed
admin-policy-outcome-deny = Denied
admin-policy-outcome-escalate = Escalated to a person
admin-policy-test = Test
admin-policy-form = Save a new version, or dry-run a condition
admin-policy-threshold = Escalation threshold (empty: keep the current one)
admin-policy-note = Note (why)
admin-policy-dry-run-field = Only dry-run it against the recent decisions
admin-policy-button = Save or dry-run
admin-policy-unknown = There is no policy of that name.
admin-policy-dry-run-result = Replayed { $cases } recent decisions: { $changed } would change ({ $skipped } could not be replayed).
admin-notice-policy-saved = New policy version saved and in force.
admin-notice-policy-activated = Policy version put in force.
