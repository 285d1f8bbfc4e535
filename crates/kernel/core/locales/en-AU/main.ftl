# LSN's user-facing text, English (Australia). Other languages are added as files beside this
# one (locales/<lang>/main.ftl) without touching code.

## Email: confirm an address
email-verify-subject = Confirm your email address
email-verify-welcome = Welcome to LSN, { $name }!
email-verify-action = Confirm your address to finish creating your account:
email-verify-note = The link works once, for 48 hours.

## Email: someone registered with an address that has an account
email-existing-subject = Someone tried to register with your address
email-existing-intro = Someone (perhaps you) tried to create an account with this address, but it already has one.
email-existing-action = If it was you, sign in at { $login } or reset your password at { $reset }.
email-existing-ignore = If it was not, you can ignore this message.

## Email: password reset
email-reset-subject = Reset your password
email-reset-intro = Someone asked to reset the password of your LSN account.
email-reset-action = Choose a new password here (the link works once, for one hour):
email-reset-ignore = If it was not you, ignore this message: your password stays as it is.

## Email: order confirmation
email-order-subject = Order { $number } confirmed
email-order-intro = Thank you for your order { $number }.
email-order-total = Total paid: { $total } (includes GST)
email-order-track = Track it at { $link }
