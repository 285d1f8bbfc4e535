//! The demo shop a newcomer sees on a fresh development database: staff, a creator and
//! customers, and a catalog of products with variants and stock in the warehouse's bins.
//! Loading it twice changes nothing.

use lsn_catalog::{ProductInput, VariantInput};
use lsn_db::Db;
use lsn_identity::audit::Actor;
use lsn_identity::{Identity, Role};
use std::collections::BTreeMap;

pub const DEMO_PASSWORD: &str = "lsn-demo-password";

pub const DEMO_USERS: &[(&str, &str, Role)] = &[
    ("admin@lsn.local", "Demo Admin", Role::Admin),
    ("creator@lsn.local", "Mia Creator", Role::Creator),
    ("ann@example.com", "Ann Shopper", Role::Customer),
    ("ben@example.com", "Ben Shopper", Role::Customer),
    ("chloe@example.com", "Chloe Shopper", Role::Customer),
];

/// Title, category, tags, description, base price in cents, option name, option values.
pub type DemoProduct = (&'static str, &'static str, &'static str, &'static str, i64, &'static str, &'static [&'static str]);

pub const PRODUCTS: &[DemoProduct] = &[
    (
        "Linen Button-Up Shirt",
        "Apparel",
        "linen,summer,shirt",
        "Breathable European linen, relaxed fit, coconut buttons.",
        8900,
        "size",
        &["S", "M", "L", "XL"],
    ),
    (
        "Organic Cotton Tee",
        "Apparel",
        "cotton,basics",
        "Heavyweight organic cotton, made in Melbourne.",
        3900,
        "size",
        &["XS", "S", "M", "L", "XL"],
    ),
    (
        "Merino Crew Jumper",
        "Apparel",
        "merino,winter,knit",
        "Fine-gauge Australian merino that does not itch.",
        14900,
        "colour",
        &["Charcoal", "Oat", "Forest"],
    ),
    (
        "Wide-Leg Trousers",
        "Apparel",
        "trousers,tailoring",
        "High-waisted, pleated, with deep pockets.",
        11900,
        "size",
        &["8", "10", "12", "14", "16"],
    ),
    ("Denim Jacket", "Apparel", "denim,jacket", "Rigid selvedge denim that softens with you.", 16900, "size", &["S", "M", "L"]),
    ("Bucket Hat", "Apparel", "hat,summer,sun", "UPF 50+ cotton twill, packs flat.", 4500, "colour", &["Sand", "Navy"]),
    (
        "Silk Scrunchie Set",
        "Accessories",
        "silk,hair",
        "Three mulberry silk scrunchies, gentle on hair.",
        2900,
        "colour",
        &["Neutrals", "Brights"],
    ),
    (
        "Leather Card Wallet",
        "Accessories",
        "leather,wallet,gift",
        "Vegetable-tanned leather, holds six cards.",
        5900,
        "colour",
        &["Tan", "Black"],
    ),
    (
        "Canvas Tote Bag",
        "Accessories",
        "tote,canvas,market",
        "Heavy canvas with an inside pocket and long handles.",
        3500,
        "colour",
        &["Natural", "Black", "Olive"],
    ),
    (
        "Polarised Sunglasses",
        "Accessories",
        "sunglasses,summer",
        "Acetate frames, polarised UV400 lenses.",
        12900,
        "colour",
        &["Tortoise", "Black"],
    ),
    (
        "Gold Hoop Earrings",
        "Jewellery",
        "gold,earrings,gift",
        "18k gold vermeil hoops, hypoallergenic posts.",
        7900,
        "size",
        &["Small", "Medium", "Large"],
    ),
    (
        "Pearl Pendant Necklace",
        "Jewellery",
        "pearl,necklace,gift",
        "Freshwater pearl on a 45 cm sterling chain.",
        9900,
        "finish",
        &["Silver", "Gold"],
    ),
    (
        "Stacking Rings Set",
        "Jewellery",
        "rings,silver",
        "Three sterling silver bands to wear together.",
        6900,
        "size",
        &["6", "7", "8", "9"],
    ),
    ("Vitamin C Serum", "Beauty", "skincare,serum", "15% vitamin C with ferulic acid, 30 ml.", 4900, "size", &["30 ml", "50 ml"]),
    ("Hydrating Face Mist", "Beauty", "skincare,mist", "Rosewater and hyaluronic acid, 100 ml.", 2900, "size", &["100 ml"]),
    ("Tinted Lip Balm", "Beauty", "lips,makeup", "Shea butter balm with a sheer tint.", 1900, "shade", &["Rose", "Berry", "Nude", "Coral"]),
    ("Bamboo Hair Brush", "Beauty", "hair,bamboo", "Paddle brush with bamboo pins, anti-static.", 2400, "size", &["Standard"]),
    ("Soy Wax Candle", "Home", "candle,gift,soy", "Hand-poured soy wax, 50 hour burn.", 4200, "scent", &["Fig", "Sea Salt", "Sandalwood"]),
    ("Linen Throw Blanket", "Home", "linen,throw", "Stonewashed linen throw, 130 × 170 cm.", 13900, "colour", &["Sage", "Rust", "White"]),
    ("Ceramic Mug Pair", "Home", "ceramic,kitchen,gift", "Two handmade stoneware mugs, 350 ml.", 5400, "glaze", &["Speckled", "Midnight"]),
    ("Olive Wood Serving Board", "Home", "kitchen,wood", "One piece of olive wood, oiled, 40 cm.", 6900, "size", &["Medium", "Large"]),
    ("Glass Carafe Set", "Home", "glass,kitchen", "Borosilicate carafe with two tumblers.", 4900, "size", &["1 L"]),
    ("Macrame Plant Hanger", "Home", "plants,macrame", "Hand-knotted cotton cord, fits 20 cm pots.", 3200, "length", &["90 cm", "120 cm"]),
    (
        "Wireless Earbuds",
        "Tech",
        "audio,wireless",
        "Active noise cancelling, 30 hours with the case.",
        19900,
        "colour",
        &["White", "Black"],
    ),
    ("MagSafe Power Bank", "Tech", "charging,magsafe", "5000 mAh magnetic battery with kickstand.", 7900, "colour", &["Graphite", "Blush"]),
    ("Phone Camera Lens Kit", "Tech", "camera,phone,creator", "Wide, macro and fisheye clip-on lenses.", 5900, "kit", &["3-piece"]),
    (
        "LED Ring Light",
        "Tech",
        "lighting,creator,live",
        "26 cm dimmable ring light with tripod and phone holder.",
        6900,
        "size",
        &["26 cm", "45 cm"],
    ),
    ("Lapel Microphone", "Tech", "audio,creator,live", "Clip-on wireless mic pair for phones.", 8900, "connector", &["USB-C", "Lightning"]),
    ("Yoga Mat", "Fitness", "yoga,fitness", "Natural rubber, 4 mm, non-slip.", 8900, "colour", &["Clay", "Charcoal"]),
    ("Resistance Band Set", "Fitness", "fitness,bands", "Five fabric bands from light to extra heavy.", 3900, "set", &["5 bands"]),
    ("Insulated Water Bottle", "Fitness", "bottle,outdoors", "Keeps cold 24 hours, 750 ml.", 4400, "colour", &["Ocean", "Sand", "Black"]),
    ("Trail Running Cap", "Fitness", "running,hat", "Featherweight cap with a sweatband.", 3400, "colour", &["White", "Black"]),
];

pub async fn is_empty(db: &Db) -> Result<bool, lsn_db::Error> {
    Ok(lsn_identity::service::user_count(db).await? == 0)
}

fn sku_for(title: &str, value: &str) -> String {
    let initials: String =
        title.split_whitespace().filter_map(|w| w.chars().next()).filter(char::is_ascii_alphanumeric).collect::<String>().to_uppercase();
    let v: String = value.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_uppercase();
    format!("{initials}-{v}")
}

/// Loads whatever of the demo shop is missing; a second run changes nothing.
pub async fn load(id: &Identity, commerce: &lsn_commerce::Commerce, live: &lsn_live::Live) -> anyhow::Result<String> {
    let actor = Actor { label: "demo".into(), ..Actor::system() };
    let mut users = 0;
    for (email, name, role) in DEMO_USERS {
        if id.user_by_email(email).await?.is_some() {
            continue;
        }
        id.create_user(&actor, email, name, DEMO_PASSWORD, *role).await?;
        users += 1;
    }
    let mut products = 0;
    // Stock arrived when the generated history starts ([`crate::demo_history`]).
    let now = commerce.clock.now_ms() - crate::demo_history::DAYS * 86_400_000;
    for (i, (title, category, tags, description, price, option, values)) in PRODUCTS.iter().enumerate() {
        let slug = lsn_catalog::slugify(title);
        if commerce.catalog.get(&slug, true).await?.is_some() {
            continue;
        }
        let variants: Vec<VariantInput> = values
            .iter()
            .enumerate()
            .map(|(j, v)| VariantInput {
                sku: sku_for(title, v),
                title: None,
                options: BTreeMap::from([(option.to_string(), v.to_string())]),
                price: price + if *option == "size" && values.len() > 3 && j == values.len() - 1 { 500 } else { 0 },
                compare_at_price: (i % 4 == 0).then_some(price + price / 4),
            })
            .collect();
        let input = ProductInput {
            title: title.to_string(),
            slug: Some(slug),
            description: description.to_string(),
            status: Some("active".into()),
            category: Some(category.to_string()),
            tags: tags.split(',').map(str::to_string).collect(),
            max_per_order: Some(10),
            max_per_customer: None,
            variants,
        };
        let p = commerce.catalog.create(&input).await.map_err(|e| anyhow::anyhow!("demo product {title}: {e}"))?;
        // Stock spread over the storage bins; a few variants are deliberately low or sold out.
        for (j, v) in p.variants.iter().enumerate() {
            let qty = match (i + j) % 9 {
                0 => 0,
                1 => 4,
                2 => 8,
                _ => 20 + ((i * 7 + j * 13) % 60) as i64,
            };
            if qty == 0 {
                continue;
            }
            let row = ['A', 'B', 'C', 'D', 'E'][(i + j) % 5];
            let bin = lsn_warehouse::bin_code(row, ((i % 10) + 1) as i64, ((j % 3) + 1) as i64);
            let variant = v.id.clone();
            commerce
                .db
                .transaction(move |tx| {
                    let (variant, bin) = (variant.clone(), bin.clone());
                    Box::pin(async move {
                        lsn_warehouse::stock::receive(tx, now, &variant, &bin, qty, "received", "demo stock", None, "demo").await
                    })
                })
                .await?;
        }
        products += 1;
    }
    // A show tomorrow evening, hosted by the demo creator, with a few products in its lineup.
    let mut shows = 0;
    if let Some(host) = id.user_by_email("creator@lsn.local").await? {
        if live.list(Some("scheduled"), 1).await.map_err(|e| anyhow::anyhow!("{e}"))?.is_empty() {
            let tomorrow = commerce.clock.now_ms() + 24 * 3600 * 1000;
            let input = lsn_live::shows::ShowInput {
                title: "Summer Linen Drop — Live".into(),
                description: "Mia tries on the new linen pieces, answers your questions and runs a flash deal.".into(),
                scheduled_at: tomorrow,
                video_url: None,
                lineup: vec!["linen-button-up-shirt".into(), "bucket-hat".into(), "canvas-tote-bag".into(), "polarised-sunglasses".into()],
                host_id: None,
            };
            live.create(&host, &input).await.map_err(|e| anyhow::anyhow!("demo show: {e}"))?;
            shows += 1;
        }
    }
    Ok(format!("{users} demo accounts, {products} demo products, {shows} demo show; password {DEMO_PASSWORD:?}, admin is admin@lsn.local"))
}
