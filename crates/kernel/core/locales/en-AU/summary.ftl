# The daily summary and the weekly report (each module's section, the mail, the admin page).

## The report
summary-mail-subject = { $shop }: the day of { $date }
summary-weekly-subject = { $shop }: the week of { $period }
summary-heading-daily = Daily Summary
summary-heading-weekly = Weekly Report
summary-date = Date: { $date }
summary-period-week = { $first } – { $last }
summary-vs-daily = vs yesterday
summary-vs-weekly = vs the week before
summary-change-up = +{ $pct }% { $vs }
summary-change-down = -{ $pct }% { $vs }
summary-change-same = no change { $vs }
summary-change-new = new { $vs }
summary-percent = { $value }%
summary-hours = { $value } h
summary-actions-title = Action items
summary-actions-none = Nothing needs you today.
summary-failed = This section could not be read: { $error }
summary-attachments = Attached: { $files }
summary-chart-alt = { $title }: highest { $value } at { $label }
summary-footer = Sent by { $shop } at 8 AM shop time. The CSV files hold the rows behind the figures.
summary-weekday-0 = Mon
summary-weekday-1 = Tue
summary-weekday-2 = Wed
summary-weekday-3 = Thu
summary-weekday-4 = Fri
summary-weekday-5 = Sat
summary-weekday-6 = Sun
summary-col-sku = SKU
summary-col-product = Product
summary-col-available = Available
summary-col-units = Units
summary-col-sales = Sales
summary-col-show = Show
summary-col-started = Started
summary-col-hours = Hours on air
summary-col-peak = Peak viewers
summary-col-orders = Orders

## Orders (commerce)
summary-orders-title = Revenue
summary-revenue = Total
summary-orders = Orders
summary-aov = AOV
summary-refunds = Refunds
summary-refunds-count = { $count ->
    [one] 1 refund
   *[other] { $count } refunds
}
summary-orders-cancelled = { $count ->
    [one] 1 unpaid order cancelled
   *[other] { $count } unpaid orders cancelled
}
summary-orders-waiting = { $count ->
    [one] 1 order waiting for payment now
   *[other] { $count } orders waiting for payment now
}
summary-orders-csv-cut = The orders file lists the first { $count } orders.
summary-chart-revenue-hourly = Revenue by hour
summary-chart-revenue-daily = Revenue by day
summary-top-products = Top performing products
summary-top-none = No sales.
summary-action-disputes = { $count ->
    [one] 1 payment dispute needs an answer
   *[other] { $count } payment disputes need an answer
}
summary-csv-number = number
summary-csv-paid-at = paid_at
summary-csv-status = status
summary-csv-units = units
summary-csv-total = total
summary-csv-paid = amount_paid
summary-csv-refunded = amount_refunded
summary-csv-live = from_live_room
summary-csv-yes = yes
summary-csv-no = no

## Live
summary-live-title = Live Streaming
summary-streams = Streams
summary-streams-hours = { $hours } total
summary-stream-hours = Hours on air
summary-viewers = Unique viewers
summary-conversion = Conversion
summary-live-sales = { $count ->
    [one] 1 order from live rooms
   *[other] { $count } orders from live rooms
}, { $total } net of refunds
summary-live-shows = Shows on air
summary-live-none = No show was on air.

## Stock (warehouse)
summary-stock-title = Inventory alerts
summary-stock-low = Low stock (< { $threshold } units)
summary-stock-out = Sold out
summary-stock-table = Variants below { $threshold } units available
summary-stock-none = Every variant has enough stock.
summary-stock-more = { $count ->
    [one] 1 more in the attached file
   *[other] { $count } more in the attached file
}
summary-action-low-stock = { $count ->
    [one] 1 product low stock (<{ $threshold } units)
   *[other] { $count } products low stock (<{ $threshold } units)
}

## System health (operations)
summary-ops-title = System health
summary-ops-runs = Jobs run
summary-ops-failed = Failed and retried
summary-ops-dead = Given up
summary-ops-alerts = Alerts raised
summary-ops-backups = Last backup: { $when }
summary-ops-no-backup = No backup yet
summary-ops-tasks = { $count ->
    [one] 1 task open for a person
   *[other] { $count } tasks open for a person
}
summary-ops-firing = { $count ->
    [one] 1 alert still firing
   *[other] { $count } alerts still firing
}
summary-ops-incidents = { $count ->
    [one] 1 incident open
   *[other] { $count } incidents open
}
summary-ops-gave-up = { $count ->
    [one] 1 job gave up: see the jobs page
   *[other] { $count } jobs gave up: see the jobs page
}

## The admin's summary page
admin-nav-summary = Summary
admin-summary-date = Day (the last day of a week)
admin-summary-weekly = Weekly report
admin-summary-show = Show
admin-summary-bad-date = Give the day as a date (YYYY-MM-DD).
