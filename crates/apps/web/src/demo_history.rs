//! The demo shop's past (issue 15): five weeks of a small live-commerce business ending now, so
//! the dashboard, its charts, the analytics and `lsn summary` show one on first start. Generated
//! from a fixed seed (the same figures every time), then written by each domain through its own
//! `demo` functions: customers (identity), shows with their viewers, chat and gifts (live),
//! orders with payments, refunds, disputes and the units they took from stock (commerce and the
//! warehouse), and the scheduled tasks' run log (ops); the analytics aggregation then runs once
//! so the charts are full at once.

use crate::server::Runtime;
use chrono::{Datelike, TimeZone, Timelike};
use lsn_commerce::demo::{Dispute, Line, Order, Refund};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

pub const SEED: u64 = 15_10;
/// How far back the history goes.
pub const DAYS: i64 = 35;
const DAY: i64 = 86_400_000;
const MINUTE: i64 = 60_000;
const CUSTOMERS: usize = 420;

const FIRST: &[&str] = &[
    "Olivia",
    "Noah",
    "Charlotte",
    "Oliver",
    "Amelia",
    "Jack",
    "Isla",
    "William",
    "Mia",
    "Leo",
    "Ava",
    "Henry",
    "Grace",
    "Lucas",
    "Chloe",
    "Thomas",
    "Zoe",
    "Ethan",
    "Ruby",
    "James",
    "Sophie",
    "Liam",
    "Harper",
    "Max",
    "Ella",
    "Archie",
    "Matilda",
    "Hugo",
];
const LAST: &[&str] = &[
    "Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Johnson", "Martin", "White", "Anderson", "Walker", "Thompson",
    "Harris", "Lee", "Ryan", "Kelly", "Chen", "King", "Murphy", "Wright", "Singh", "Patel", "Scott",
];
const PLACES: &[(&str, &str, &str)] = &[
    ("Surry Hills", "NSW", "2010"),
    ("Newtown", "NSW", "2042"),
    ("Fitzroy", "VIC", "3065"),
    ("Brunswick", "VIC", "3056"),
    ("New Farm", "QLD", "4005"),
    ("Fremantle", "WA", "6160"),
    ("Norwood", "SA", "5067"),
    ("Braddon", "ACT", "2612"),
    ("Sandy Bay", "TAS", "7005"),
];
const CHAT: &[&str] = &[
    "Hi from Melbourne! 👋",
    "Love that colour",
    "What size are you wearing?",
    "Is the linen see-through?",
    "Just ordered one!",
    "Can you show the back?",
    "Does it come in black?",
    "How long is shipping to Perth?",
    "Obsessed 😍",
    "Is there a discount code tonight?",
    "Second one for my sister",
    "How does it wash?",
    "That's gorgeous",
    "Sold out already?? 😭",
    "Show the earrings again please",
    "Perfect for summer",
];
const SHOW_TITLES: &[&str] = &[
    "Summer Linen Try-On",
    "Friday Night Jewellery Drop",
    "Skincare Sunday",
    "Home Edit Live",
    "Creator Kit: Lights, Mic, Go",
    "Weekend Market Haul",
    "Gift Guide Live",
];
const REFUND_REASONS: &[&str] = &["arrived damaged", "wrong size sent", "late delivery: goodwill", "changed mind"];

struct Variant {
    id: String,
    sku: String,
    title: String,
    price: i64,
}

/// How busy a weekday is (Monday first).
const WEEK: [f64; 7] = [0.8, 0.85, 0.9, 1.0, 1.2, 1.3, 1.1];

/// What was loaded, in a line.
pub async fn load(rt: &Runtime) -> anyhow::Result<String> {
    let state = &rt.state;
    let db = &state.db;
    if lsn_commerce::demo::has_orders(db).await? {
        return Ok("history already there".into());
    }
    let started = std::time::Instant::now();
    let now = state.clock.now_ms();
    let tz = state.cfg.timezone;
    let from = now - DAYS * DAY;
    let mut rng = StdRng::seed_from_u64(SEED);

    // The catalog, as the demo made it.
    let mut variants = Vec::new();
    let mut products = Vec::new();
    for (title, ..) in crate::demo::PRODUCTS {
        if let Some(p) = state.commerce.catalog.get(&lsn_catalog::slugify(title), true).await? {
            products.push(p.id.to_string());
            for v in &p.variants {
                variants.push(Variant {
                    id: v.id.to_string(),
                    sku: v.sku.clone(),
                    title: format!("{} — {}", p.title, v.title),
                    price: v.price,
                });
            }
        }
    }
    anyhow::ensure!(!variants.is_empty(), "the demo catalog is missing");
    let host = state.identity.user_by_email("creator@lsn.local").await?.map(|u| u.id.to_string());

    // Customers: a fifth there before the history, the rest signing up through it, more lately.
    let mut customers = Vec::with_capacity(CUSTOMERS);
    for i in 0..CUSTOMERS {
        let (first, last) = (FIRST[rng.gen_range(0..FIRST.len())], LAST[rng.gen_range(0..LAST.len())]);
        let created_at = if i < CUSTOMERS / 5 {
            from - rng.gen_range(1..120) * DAY
        } else {
            from + ((rng.gen::<f64>().sqrt()) * (DAYS * DAY) as f64) as i64 - DAY
        };
        customers.push(lsn_identity::demo::Customer {
            id: lsn_core::ids::new_id(),
            email: format!("{}.{}{}@example.com", first.to_lowercase(), last.to_lowercase(), i),
            name: format!("{first} {last}"),
            created_at: created_at.min(now - MINUTE),
        });
    }
    customers.sort_by_key(|c| c.created_at);

    // Shows: every evening but Monday at 7 pm, an hour to ninety minutes.
    let mut live = lsn_live::demo::History::default();
    let mut evenings: Vec<(i64, i64, String)> = Vec::new();
    if let Some(host) = &host {
        for d in 0..DAYS {
            let day = chrono::DateTime::from_timestamp_millis(from + d * DAY).map(|t| t.with_timezone(&tz).date_naive());
            let Some(day) = day else { continue };
            if day.weekday() == chrono::Weekday::Mon {
                continue;
            }
            let Some(start) = tz.from_local_datetime(&day.and_hms_opt(19, 0, 0).unwrap_or_default()).earliest() else { continue };
            let start = start.timestamp_millis() + rng.gen_range(0..5) * MINUTE;
            let end = start + rng.gen_range(60..90) * MINUTE;
            if end >= now {
                continue;
            }
            let id = lsn_core::ids::new_id();
            let growth = 1.0 + d as f64 / DAYS as f64;
            let mut lineup = products.clone();
            lineup.shuffle(&mut rng);
            lineup.truncate(4);
            live.shows.push(lsn_live::demo::Show {
                id: id.clone(),
                title: SHOW_TITLES[(d as usize) % SHOW_TITLES.len()].into(),
                description: "Mia walks through tonight's pieces, answers your questions and runs a flash deal.".into(),
                host_id: host.clone(),
                started_at: start,
                ended_at: end,
                lineup,
            });
            let audience = (rng.gen_range(180..320) as f64 * growth * WEEK[day.weekday().num_days_from_monday() as usize]) as usize;
            for k in 0..audience {
                let joined = start + rng.gen_range(0..(end - start) * 3 / 4);
                let left = (joined + rng.gen_range(2..45) * MINUTE).min(end);
                let signed_in = customers.iter().filter(|c| c.created_at < joined).count();
                let key = if k % 3 != 0 && signed_in > 0 {
                    format!("user:{}", customers[rng.gen_range(0..signed_in)].id)
                } else {
                    format!("anon:{}", lsn_core::ids::new_id())
                };
                if let Some(user) = key.strip_prefix("user:") {
                    if rng.gen_range(0..3) == 0 {
                        let name = customers.iter().find(|c| c.id == user).map(|c| c.name.clone()).unwrap_or_default();
                        for _ in 0..rng.gen_range(1..4) {
                            let at = rng.gen_range(joined..left.max(joined + 1));
                            live.chat.push(lsn_live::demo::Chat {
                                show_id: id.clone(),
                                user_id: user.into(),
                                name: name.clone(),
                                text: CHAT[rng.gen_range(0..CHAT.len())].into(),
                                at,
                            });
                        }
                    }
                    if rng.gen_range(0..12) == 0 {
                        let (gift, coins) = lsn_live::gifts::GIFTS[rng.gen_range(0..lsn_live::gifts::GIFTS.len())];
                        live.gifts.push(lsn_live::demo::Gift {
                            show_id: id.clone(),
                            from_user_id: user.into(),
                            to_user_id: host.clone(),
                            gift,
                            coins,
                            at: rng.gen_range(joined..left.max(joined + 1)),
                        });
                    }
                }
                live.viewers.push(lsn_live::demo::Viewer { show_id: id.clone(), viewer_key: key, joined_at: joined, left_at: left });
            }
            evenings.push((start, end, id));
        }
    }

    // Orders: from about 30 a day growing to about 55, busier at weekends, a third of each show
    // night's bought in the room during the show.
    let mut orders = Vec::new();
    let mut numbers = std::collections::BTreeSet::new();
    for d in 0..=DAYS {
        let day_start = from + d * DAY;
        let Some(local) = chrono::DateTime::from_timestamp_millis(day_start).map(|t| t.with_timezone(&tz)) else { continue };
        let midnight = day_start - i64::from(local.num_seconds_from_midnight()) * 1000;
        let weekday = local.weekday().num_days_from_monday() as usize;
        let base = 30.0 + 25.0 * d as f64 / DAYS as f64;
        let count = (base * WEEK[weekday] * rng.gen_range(0.85..1.15)) as usize;
        let show = evenings.iter().find(|(s, _, _)| *s >= midnight && *s < midnight + DAY).cloned();
        for _ in 0..count {
            let (placed_at, show_id) = match &show {
                Some((s, e, id)) if rng.gen_range(0..3) == 0 => (rng.gen_range(*s..*e), Some(id.clone())),
                _ => (midnight + rng.gen_range(7 * 60..23 * 60) * MINUTE + rng.gen_range(0..MINUTE), None),
            };
            if placed_at < from || placed_at >= now - 20 * MINUTE {
                continue;
            }
            let known = customers.iter().filter(|c| c.created_at < placed_at).count();
            if known == 0 {
                continue;
            }
            let c = &customers[rng.gen_range(0..known)];
            let mut lines: Vec<Line> = Vec::new();
            for _ in 0..rng.gen_range(1..=3) {
                let v = &variants[rng.gen_range(0..variants.len())];
                if lines.iter().any(|l| l.variant_id == v.id) {
                    continue;
                }
                lines.push(Line {
                    variant_id: v.id.clone(),
                    sku: v.sku.clone(),
                    title: v.title.clone(),
                    unit_price: v.price,
                    quantity: if rng.gen_range(0..5) == 0 { 2 } else { 1 },
                });
            }
            let number = loop {
                const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
                let s: String = (0..7).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
                if numbers.insert(s.clone()) {
                    break format!("LSN-{s}");
                }
            };
            let (suburb, st, postcode) = PLACES[rng.gen_range(0..PLACES.len())];
            let roll = rng.gen_range(0..1000);
            let unpaid = roll < 40;
            let refund = match roll {
                40..=74 => Some((
                    Refund::Part(rng.gen_range(15..50)),
                    rng.gen_range(2..7) * DAY,
                    REFUND_REASONS[rng.gen_range(0..REFUND_REASONS.len())],
                )),
                75..=99 => Some((Refund::Full, rng.gen_range(3..9) * DAY, REFUND_REASONS[rng.gen_range(0..REFUND_REASONS.len())])),
                _ => None,
            };
            let dispute = match roll {
                100..=102 => Some((Dispute::Open, rng.gen_range(5..9) * DAY)),
                103..=104 => Some((if roll == 103 { Dispute::Won } else { Dispute::Lost }, 6 * DAY)),
                _ => None,
            };
            orders.push(Order {
                number,
                user_id: c.id.clone(),
                email: c.email.clone(),
                address: lsn_commerce::address::Address {
                    name: c.name.clone(),
                    line1: format!("{} {} Street", rng.gen_range(1..200), LAST[rng.gen_range(0..LAST.len())]),
                    line2: None,
                    suburb: suburb.into(),
                    state: st.into(),
                    postcode: postcode.into(),
                    phone: None,
                },
                placed_at,
                lines,
                discount_percent: if rng.gen_range(0..7) == 0 { 10 } else { 0 },
                express: rng.gen_range(0..5) == 0,
                show_id,
                unpaid,
                pay_after_ms: rng.gen_range(20_000..180_000),
                refund,
                dispute,
            });
        }
    }
    orders.sort_by_key(|o| o.placed_at);
    let generated = started.elapsed();

    let people = lsn_identity::demo::customers(db, customers).await?;
    let shows = live.shows.len();
    let viewers = live.viewers.len();
    lsn_live::demo::history(db, live).await?;
    let w = lsn_commerce::demo::history(db, orders, from, now).await?;
    let runs = lsn_ops::demo::run_log(db, &rt.schedules, tz, from, now, SEED).await?;
    let figures = state.folded.get().map(|f| f.figures.clone()).unwrap_or_default();
    let aggregated = lsn_ops::analytics::aggregate(db, &figures, now).await.map_err(|e| anyhow::anyhow!("analytics: {e}"))?;
    Ok(format!(
        "{DAYS} days of history: {people} customers, {} orders ({} paid, {} refunds, {} disputes), {shows} past shows with {viewers} viewers, {runs} task runs; analytics {aggregated}; in {:.1} s (generated in {} ms)",
        w.orders,
        w.paid,
        w.refunds,
        w.disputes,
        started.elapsed().as_secs_f64(),
        generated.as_millis()
    ))
}
