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
