# The runbook's eight e-mail templates (lsn-mails): subjects, headings and texts.

mail-footer = You get this e-mail from { $shop }.

## Order confirmation
mail-order-subject = Order { $number } confirmed
mail-order-heading = Thank you for your order
mail-order-intro = We have your payment for order { $number } and are getting it ready.
mail-order-discount = Discount
mail-order-shipping = Shipping
mail-order-total = Total paid
mail-order-gst = Includes { $gst } GST.
mail-order-action = See your order

## Shipping notification
mail-shipping-subject = Order { $number } is on its way
mail-shipping-heading = Your order is on its way
mail-shipping-intro = Order { $number } has left our warehouse.
mail-shipping-tracking = Carrier: { $carrier }, tracking number { $tracking }.
mail-shipping-action = Track your parcel

## Delivery confirmation
mail-delivery-subject = Order { $number } was delivered
mail-delivery-heading = Your order was delivered
mail-delivery-intro = The carrier delivered order { $number } on { $when }.
mail-delivery-problem = If something is missing or damaged, tell us from your order's page and we will put it right.
mail-delivery-action = Review your order

## Password reset
mail-reset-subject = Reset your password
mail-reset-heading = Reset your password
mail-reset-intro = Someone asked to reset the password of your account.
mail-reset-action = Choose a new password
mail-reset-expiry = The link works once, for one hour.
mail-reset-ignore = If it was not you, ignore this message: your password stays as it is.

## Welcome (at registration, with the link that confirms the address)
mail-welcome-subject = Welcome to { $shop }: confirm your email address
mail-welcome-heading = Welcome to { $shop }, { $name }!
mail-welcome-intro = Your account lets you shop live shows, follow your orders and save your cart.
mail-welcome-confirm = Confirm your address to finish creating your account:
mail-welcome-action = Confirm my address
mail-welcome-expiry = The link works once, for 48 hours.

## Low-stock alert
mail-low-stock-subject = { $shop }: { $count ->
    [one] 1 product is low on stock
   *[other] { $count } products are low on stock
}
mail-low-stock-heading = Low stock
mail-low-stock-intro = { $count ->
    [one] 1 product has fallen below { $threshold } units available.
   *[other] { $count } products have fallen below { $threshold } units available.
}
mail-low-stock-action = Open the tasks

## Fraud alert
mail-fraud-subject = Order { $number } needs a fraud review (risk { $score })
mail-fraud-heading = An order needs a fraud review
mail-fraud-intro = Order { $number } for { $amount } was held for review.
mail-fraud-score = Risk score: { $score } of 100
mail-fraud-reasons = Why it was flagged:
mail-fraud-action = Review the order
