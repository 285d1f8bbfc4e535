# LSN's user-facing text, English (United States): only what differs from English (Australia),
# which every other message falls back to.

## Numbers, money and dates
money-aud = { $sign }A${ $amount }
money-usd = { $sign }${ $amount }
date-date = %b %-d, %Y
date-datetime = %b %-d, %Y, %-I:%M %P
date-upcoming = %a, %b %-d, %-I:%M %P
