# LSN's user-facing text, English (Australia). Other languages are added as files beside this
# one (locales/<lang>/main.ftl) without touching code. A language file needs only the messages it
# changes: any other falls back to this file.

## Numbers, money and dates (chrono's strftime patterns)
number-group = ,
number-decimal = .
money-aud = { $sign }${ $amount }
money-usd = { $sign }US${ $amount }
date-date = %-d %b %Y
date-datetime = %-d %b %Y, %-I:%M %P
date-upcoming = %a %-d %b, %-I:%M %P
date-time = %-I:%M %P
date-time-seconds = %-I:%M:%S %P

## The API's general problems (each code's default message)
problem-validation = Some fields are not valid.
problem-unauthenticated = Sign in to continue.
problem-forbidden = You do not have access to this.
problem-not-found = Nothing was found here.
problem-rate-limited = Too many attempts. Try again later.
problem-database = The shop's database is not answering. Try again in a moment.
problem-internal = Something went wrong on our side. Try again shortly.

## Email: someone registered with an address that has an account
email-existing-subject = Someone tried to register with your address
email-existing-intro = Someone (perhaps you) tried to create an account with this address, but it already has one.
email-existing-action = If it was you, sign in at { $login } or reset your password at { $reset }.
email-existing-ignore = If it was not, you can ignore this message.

## Email: a cart left behind (the abandoned-cart reminder)
email-cart-subject = You left something in your cart
email-cart-greeting = Hi { $name },
email-cart-intro = { $count ->
    [one] There is 1 item waiting in your cart at { $shop }.
   *[other] There are { $count } items waiting in your cart at { $shop }.
}
email-cart-action = Finish your order here: { $link }
email-cart-ignore = Prices and stock can change. If you do not want it any more, ignore this message.
