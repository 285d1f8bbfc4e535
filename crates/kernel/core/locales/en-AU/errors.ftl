# The domains' messages to users, English (Australia): validation messages (one per field),
# refusals and the texts a live room shows. fluent-templates loads every .ftl file of a locale's
# directory, so another language adds its own errors.ftl beside this one; a message it lacks
# falls back to this file. A key here must not also be in main.ftl (a bundle refuses a message
# it already has).

## Money
money-bounded = a whole number of cents from { $min } to { $max } ({ $amount })

## Catalog
catalog-duplicate = That { $what } is already used by another product.
catalog-status = use draft, active or archived
catalog-tags = at most 30 tags of 40 characters, no commas
catalog-sku = 1 to 64 letters, digits, '-', '_' or '.'
catalog-price = a price in cents from 0 to 100000000
catalog-options = up to 5 options such as {"{"}"size": "M"{"}"}
catalog-too-long = at most { $max } characters
catalog-limit = a number from 1 to 10000, or null
catalog-needs-letters = needs letters or digits
catalog-title = 1 to 200 characters
catalog-variants = 1 to 100 variants
catalog-skus-differ = SKUs must differ
catalog-cursor = not a cursor from a previous page
catalog-images-max = at most 100 images
catalog-images-order = name each of the product's { $count } images exactly once

## Identity
identity-invalid-credentials = Email or password is incorrect.
identity-busy = Too many sign-ins at once. Try again in a moment.
identity-not-verified = Confirm your email address first: we sent you a link.
identity-invalid-token = This link is invalid, has expired or was already used.
identity-conflict = That conflicts with the current state.
identity-oauth-failed = Sign-in with the identity provider failed. Try again.
identity-oauth-disabled = OAuth sign-in is not configured.
identity-password-short = use at least 10 characters
identity-password-long = use at most 1024 characters
identity-password-blank = password cannot be blank
identity-password-max = at most 4096 characters
identity-password-wrong = that is not your current password
identity-setting-key = use 1 to 100 letters, digits, '_', '.', '-'
identity-key-name = give the key a name of 1 to 100 characters
identity-key-scopes = choose one or more of: { $scopes }
identity-name = give a name of 1 to 100 characters
identity-role-unknown = unknown role { $role } (customer, creator, admin, owner)
identity-own-role = You cannot change your own role.
identity-register-sent = If the address can be used, a confirmation link is on its way.
identity-reset-sent = If the address has an account, a reset link is on its way.
identity-key-note = Store this key now: it is not shown again.
identity-csrf = This request is missing its security token. Reload the page and try again.
identity-form-too-large = The form is too large.

## Commerce: stock, amounts and products
commerce-out-of-stock-of = Only { $available } left of { $variant }.
commerce-unknown-bin = There is no bin { $bin }.
commerce-bad-quantity = Quantity must be a positive whole number.
commerce-amount-out-of-range = That comes to more than an order can hold.
commerce-duplicate = That { $what } is already used.
commerce-provider-unavailable = The payment provider did not answer. Your order is saved: try paying again in a moment.
commerce-too-long = at most { $max } characters
commerce-unknown-sku = There is no variant with that SKU.
commerce-stock-quantity = a non-zero whole number up to 1000000 (positive when receiving)
commerce-image-type = Upload a JPEG, PNG, WebP or GIF image as the request body.
commerce-image-invalid = The body is not an image of the type it claims.
commerce-image-not-stored = The image could not be stored: { $error }
commerce-invalid-body = The body does not have the expected fields: { $error }

## Commerce: cart and checkout
commerce-cart-quantity = a whole number from 1 to { $max }
commerce-unknown-variant = There is no such product variant.
commerce-not-for-sale = That product is not for sale.
commerce-max-per-order = At most { $max } per order.
commerce-sold-out = That product is sold out.
commerce-only-left = Only { $available } left.
commerce-cart-full = A cart holds at most { $max } different items.
commerce-sku-or-variant = give a sku or a variant_id
commerce-cart-empty = Your cart is empty.
commerce-checkout-busy = The cart changed while it was checked out; try again.
commerce-email-required = required for guest checkout
commerce-shipping-method = standard or express
commerce-no-longer-for-sale = { $title } is no longer for sale.
commerce-max-per-order-of = At most { $max } of { $title } per order.
commerce-max-per-customer-of = At most { $max } of { $title } per customer.
commerce-too-many-unpaid = There are already { $limit } unpaid orders for this buyer, network or address: pay or cancel one first.

## Commerce: delivery addresses
commerce-address-required = required
commerce-address-state = use NSW, VIC, QLD, WA, SA, TAS, ACT or NT
commerce-address-postcode = a 4-digit postcode
commerce-address-postcode-state = { $postcode } is not a { $state } postcode
commerce-address-phone = digits, spaces, + ( ) - only

## Commerce: discount codes
commerce-discount-code = 1 to 40 letters, digits, '-' or '_'
commerce-discount-percent = a whole percent from 1 to 100
commerce-discount-fixed = cents off, from 1 to { $max }
commerce-discount-kind = percent or fixed
commerce-after-start = after starts_at
commerce-discount-limit = 1 or more, or null
commerce-discount-duplicate = That code already exists.
commerce-discount-invalid = That discount code is not valid.
commerce-discount-not-started = That discount code is not active yet.
commerce-discount-expired = That discount code has expired.
commerce-discount-minimum = Spend at least { $amount } to use that code.
commerce-discount-used-up = That discount code has been used up.
commerce-discount-customer-used = You have already used that discount code.

## Commerce: deals and offers
commerce-offer-price = a price in cents
commerce-offer-quantity = 1 to 100000 units
commerce-offer-per-customer = 1 to the offer's quantity, or null
commerce-offer-variant = an active variant of an active product
commerce-offer-claim-quantity = a whole number from 1
commerce-deal-no-discount = Discount codes do not apply to deals.
commerce-deal-not-started = The deal has not started yet.
commerce-deal-ended = The deal has ended.
commerce-deal-sold-out = The deal is sold out.
commerce-deal-last-units = The deal is sold out: its last units are being bought.
commerce-deal-reserved = This offer is reserved for another buyer.
commerce-deal-only-left = Only { $left } left at the deal price.
commerce-deal-per-customer = At most { $max } per customer at the deal price.

## Commerce: orders, payments and refunds
commerce-status-choice = one of { $choices }
commerce-transition = An order cannot go from { $from } to { $to }.
commerce-order-cancelled = This order was cancelled; check out again.
commerce-card-number = Card numbers are entered in Stripe's secure fields, not sent to the shop.
commerce-payment-cancelled = This order's payment was cancelled; check out again.
commerce-only-unpaid-cancel = Only an unpaid order can be cancelled.
commerce-set-by-money = { $status } is set by payments and refunds, not by hand.
commerce-paid-cancel = A paid order is cancelled by refunding it.
commerce-order-changed = The order changed meanwhile; reload it.
commerce-already-paid = This order is already paid.
commerce-payment-in-progress = A payment for this order is being processed; wait for it to finish.
commerce-payment-method = give a payment_method id (pm_…) or, in the sandbox, a test card_number
commerce-refund-nothing-left = Nothing more can be refunded on this order.
commerce-refund-amount = a positive amount in cents
commerce-refund-at-most = At most { $amount } can still be refunded.
commerce-refund-restock = restocking goes with a full refund of what remains
commerce-refund-no-payment = This order has no successful payment to refund.
commerce-idempotency-key = Idempotency-Key must be 1 to 255 printable characters.
commerce-idempotency-reused = This Idempotency-Key was used with a different request.
commerce-idempotency-in-progress = A request with this Idempotency-Key is still being processed.

## Live: shows
live-title = 1 to 200 characters
live-too-long = at most { $max } characters
live-scheduled-at = a time (Unix milliseconds) within the next year
live-video-url = an http(s) URL of an HLS playlist
live-lineup-max = at most 100 products
live-unknown-product = unknown product
live-inactive-product = not an active product
live-unknown-host = unknown user
live-status = scheduled, live or ended
live-only-scheduled-start = Only a scheduled show can start.
live-only-live-end = Only a live show can end.
live-show-ended = This show has ended.
live-show-ended-replay = This show has ended; watch the replay.
live-unknown-sku = There is no variant with that SKU.

## Live: deals and auctions
live-seconds = { $min } to { $max } seconds
live-deal-duration = 60 to 1200 seconds (1 to 20 minutes)
live-deal-not-live = Deals run during a live show.
live-pin-first = Pin the product first.
live-sku-of-pinned = give the sku or variant_id of the pinned product
live-variant-of-pinned = a variant of the pinned product
live-auction-show-ended = The show has ended.
live-increment = 1 cent to $100,000.00
live-reserve-price = at least the starting price: { $detail }
live-bidding-closed = Bidding has closed.
live-bid-at-least = Bid at least { $amount }.
live-bids-busy = Too many bids at once; try again.
live-no-winner = The auction has no winner to replace.
live-winner-paid = The winner has paid.
live-no-next-bidder = Nobody else bid.

## Live: gifts and coins
live-coins = 1 to 1000000
live-gifts-not-live = Gifts are sent during a live show.
live-unknown-gift = Send one of { $gifts }.
live-no-self-gift = Hosts cannot send gifts to themselves.
live-insufficient-coins = A { $gift } costs { $coins } coins; buy more coins first.

## Live: the room (chat, moderation, the WebSocket)
live-chat-empty = Say something first.
live-chat-too-long = Keep it under { $max } characters.
live-chat-control = Control characters are not allowed.
live-banned = You were removed from this show.
live-muted = You are muted in this show.
live-slow-mode = Slow mode is on: one message every { $seconds } seconds.
live-chat-too-fast = You are sending messages too fast.
live-chat-not-sent = The message could not be sent. Try again.
live-reaction = React with one of { $reactions }
live-no-such-message = No such message in this show.
live-try-again = Try again.
live-host-not-moderated = The host cannot be moderated.
live-moderation-action = mute, unmute or ban
live-host-only = Only the show's host can do that.
live-origin-refused = This live room can be opened from this shop's own pages only.
live-binary = Send JSON text frames.
live-malformed = Expected a JSON object with a "type".
live-signed-out = You are signed out; sign in again to take part.
live-try-again-moment = Try again in a moment.
live-unknown-type = Unknown message type { $kind }.
live-sign-in = Sign in to take part.
live-not-allowed = Your account or key does not allow that.
live-field-required = "{ $field }" is required
live-no-product = No active product with that id.
live-deal-body = deal: { $error }
live-auction-body = auction: { $error }
live-no-auction = No such auction in this show.
live-unsupported-version = This server speaks protocol versions 1 and 2.
live-invalid-since = since must be a sequence number
live-sequence-future = That sequence number was never sent; starting from now.

## Live: what a room shows every viewer (broadcast in the shop's default language, with the key
## and arguments for a client that shows it in its own)
live-purchase-ticker = Someone in { $suburb } just bought { $title }
live-purchase-ticker-nowhere = Someone just bought { $title }
live-leading-bidder = the leading bidder

## Warehouse: low-stock alerts (the hourly task's tasks for a person)
warehouse-low-stock-title = Low stock: { $sku } ({ $available } left)
warehouse-low-stock-detail = { $title } ({ $sku }) has { $available } available, under { $threshold }. Reorder or restock it.
