# The risk domain: fraud checks, the review queue, allow and block lists.
risk-setting-decline-at = Give a score from 0 (never decline outright) to 100.
risk-setting-stale = Give a number of minutes from 5 to 10080.
risk-setting-unknown = There is no such setting.
risk-settings-object = Give the settings to change as an object.
risk-high-risk-alert = Order { $number } scored { $score } in the fraud check ({ $status }).
risk-stale-alert = Order { $number } (fraud score { $score }) has waited for a review too long: escalated.
risk-review-action = Choose approve or decline.
risk-already-decided = This order's fraud check is already decided.
risk-label = A label is fraud or legit.
risk-label-source = The source of a label is chargeback or manual.
risk-status = Choose a status: approved, review, escalated or declined.
risk-list-list = Choose a list: block or allow.
risk-list-kind = Choose a kind: email, domain, ip, device, card or address.
risk-list-value = Give a value of at most 300 characters.
risk-list-email = That is not an e-mail address.
risk-list-domain = That is not a domain name.
risk-list-cidr = Give an IP address or a CIDR range, such as 203.0.113.0/24.
risk-list-device = A device is a browser's visitor id.
risk-list-card = Give a card as brand:last4 (visa:4242) or its fingerprint.
risk-list-address = Give an address as JSON with at least line1.
risk-list-reason = Give a reason of at most 500 characters.
risk-list-expiry = An expiry must be in the future and within ten years.
risk-list-exists = That entry is already on the list.
risk-not-held = The fraud check approved this order: it is not held for a review.
risk-unknown-reason = There is no reason code { $code }.
risk-unknown-model = There is no such model version.
risk-not-enough-labels = A model needs at least { $min } labelled fraud orders and { $min } honest ones.
risk-train-orders = Give from 1000 to 200000 generated orders.
summary-risk-title = Fraud detections
summary-risk-checked = Orders checked
summary-risk-flagged = Held or declined
summary-risk-declined = Declined
summary-risk-review = { $count ->
    [one] 1 fraud case under review
   *[other] { $count } fraud cases under review
}
