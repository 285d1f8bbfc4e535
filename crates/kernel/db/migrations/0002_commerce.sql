-- Commerce core: catalog, stock, carts, discounts, orders, payments, refunds, webhooks,
-- idempotency keys and tasks for people. Portable SQL as in 0001.

CREATE TABLE categories (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_id TEXT REFERENCES categories (id),
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX categories_slug_key ON categories (slug);

CREATE TABLE products (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'draft',
    category_id TEXT REFERENCES categories (id),
    tags TEXT NOT NULL DEFAULT '',
    search_text TEXT NOT NULL DEFAULT '',
    min_price BIGINT NOT NULL DEFAULT 0,
    max_per_order BIGINT,
    max_per_customer BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT products_status_check CHECK (status IN ('draft', 'active', 'archived'))
);
CREATE UNIQUE INDEX products_slug_key ON products (slug);
CREATE INDEX products_status_idx ON products (status, created_at, id);
CREATE INDEX products_category_idx ON products (category_id, status);

CREATE TABLE variants (
    id TEXT PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    sku TEXT NOT NULL,
    title TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    price BIGINT NOT NULL,
    compare_at_price BIGINT,
    currency TEXT NOT NULL DEFAULT 'AUD',
    position BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'active',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT variants_price_check CHECK (price >= 0),
    CONSTRAINT variants_status_check CHECK (status IN ('active', 'archived'))
);
CREATE UNIQUE INDEX variants_sku_key ON variants (sku);
CREATE INDEX variants_product_idx ON variants (product_id, position);

CREATE TABLE product_images (
    id TEXT PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    storage_key TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    alt TEXT NOT NULL DEFAULT '',
    position BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX product_images_product_idx ON product_images (product_id, position);

-- Available = on_hand - reserved; the CHECK makes overselling impossible at the storage level too.
CREATE TABLE stock_levels (
    variant_id TEXT PRIMARY KEY REFERENCES variants (id) ON DELETE CASCADE,
    on_hand BIGINT NOT NULL DEFAULT 0,
    reserved BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    CONSTRAINT stock_levels_check CHECK (reserved >= 0 AND on_hand >= 0 AND reserved <= on_hand)
);

CREATE TABLE bin_stock (
    variant_id TEXT NOT NULL REFERENCES variants (id) ON DELETE CASCADE,
    bin_id TEXT NOT NULL REFERENCES bins (id),
    quantity BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (variant_id, bin_id),
    CONSTRAINT bin_stock_quantity_check CHECK (quantity >= 0)
);

CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    variant_id TEXT NOT NULL REFERENCES variants (id),
    order_id TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    status TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT reservations_status_check CHECK (status IN ('active', 'released', 'consumed'))
);
CREATE INDEX reservations_expiry_idx ON reservations (status, expires_at);
CREATE INDEX reservations_order_idx ON reservations (order_id);

CREATE TABLE stock_movements (
    id TEXT PRIMARY KEY,
    variant_id TEXT NOT NULL,
    bin_id TEXT,
    kind TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    reason TEXT NOT NULL,
    ref TEXT,
    actor TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT stock_movements_kind_check CHECK (kind IN ('received', 'reserved', 'released', 'sold', 'adjusted', 'returned'))
);
CREATE INDEX stock_movements_variant_idx ON stock_movements (variant_id, created_at);

CREATE TABLE carts (
    id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX carts_user_key ON carts (user_id);
CREATE UNIQUE INDEX carts_token_key ON carts (token_hash);

CREATE TABLE cart_items (
    cart_id TEXT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    variant_id TEXT NOT NULL REFERENCES variants (id) ON DELETE CASCADE,
    quantity BIGINT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (cart_id, variant_id),
    CONSTRAINT cart_items_quantity_check CHECK (quantity > 0)
);

CREATE TABLE discount_codes (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    kind TEXT NOT NULL,
    value BIGINT NOT NULL,
    min_subtotal BIGINT NOT NULL DEFAULT 0,
    starts_at BIGINT,
    ends_at BIGINT,
    usage_limit BIGINT,
    per_customer_limit BIGINT,
    used_count BIGINT NOT NULL DEFAULT 0,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    CONSTRAINT discount_codes_kind_check CHECK (kind IN ('percent', 'fixed')),
    CONSTRAINT discount_codes_used_check CHECK (usage_limit IS NULL OR used_count <= usage_limit)
);
CREATE UNIQUE INDEX discount_codes_code_key ON discount_codes (code);

CREATE TABLE discount_customer_uses (
    code_id TEXT NOT NULL REFERENCES discount_codes (id),
    customer_key TEXT NOT NULL,
    uses BIGINT NOT NULL,
    PRIMARY KEY (code_id, customer_key)
);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    user_id TEXT REFERENCES users (id),
    email TEXT NOT NULL,
    status TEXT NOT NULL,
    channel_code TEXT NOT NULL,
    currency TEXT NOT NULL,
    subtotal BIGINT NOT NULL,
    discount_total BIGINT NOT NULL,
    shipping_total BIGINT NOT NULL,
    gst_total BIGINT NOT NULL,
    total BIGINT NOT NULL,
    amount_paid BIGINT NOT NULL DEFAULT 0,
    amount_refunded BIGINT NOT NULL DEFAULT 0,
    discount_code_id TEXT REFERENCES discount_codes (id),
    customer_key TEXT NOT NULL,
    shipping_method TEXT NOT NULL,
    shipping_address TEXT NOT NULL,
    disputed BIGINT NOT NULL DEFAULT 0,
    payout_hold BIGINT NOT NULL DEFAULT 0,
    show_id TEXT,
    reserved_until BIGINT NOT NULL,
    placed_at BIGINT NOT NULL,
    paid_at BIGINT,
    updated_at BIGINT NOT NULL,
    CONSTRAINT orders_status_check CHECK (status IN ('pending_payment', 'paid', 'processing', 'shipped', 'delivered', 'cancelled', 'refunded', 'partially_refunded')),
    CONSTRAINT orders_refund_check CHECK (amount_refunded >= 0 AND amount_refunded <= amount_paid)
);
CREATE UNIQUE INDEX orders_number_key ON orders (number);
CREATE INDEX orders_user_idx ON orders (user_id, placed_at);
CREATE INDEX orders_status_idx ON orders (status, placed_at);

CREATE TABLE order_items (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    variant_id TEXT NOT NULL REFERENCES variants (id),
    sku TEXT NOT NULL,
    title TEXT NOT NULL,
    unit_price BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    line_total BIGINT NOT NULL,
    line_discount BIGINT NOT NULL,
    gst BIGINT NOT NULL,
    position BIGINT NOT NULL
);
CREATE INDEX order_items_order_idx ON order_items (order_id, position);

CREATE TABLE order_transitions (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL
);
CREATE INDEX order_transitions_order_idx ON order_transitions (order_id, at);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    provider TEXT NOT NULL,
    intent_id TEXT NOT NULL,
    client_secret TEXT,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    card_brand TEXT,
    card_last4 TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX payments_intent_key ON payments (intent_id);
CREATE INDEX payments_order_idx ON payments (order_id);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    amount BIGINT NOT NULL,
    reason TEXT NOT NULL,
    restock BIGINT NOT NULL,
    provider_ref TEXT,
    status TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX refunds_order_idx ON refunds (order_id);

CREATE TABLE disputes (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    amount BIGINT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    closed_at BIGINT
);

CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    type TEXT NOT NULL,
    object_id TEXT,
    created BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    processed_at BIGINT,
    outcome TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX webhook_events_pending_idx ON webhook_events (processed_at, created);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code BIGINT,
    response_body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    ref TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    created_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX tasks_status_idx ON tasks (status, created_at);

-- Per-customer purchase counters, so "at most N per customer" holds under concurrent checkouts.
CREATE TABLE customer_product_purchases (
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    customer_key TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    PRIMARY KEY (product_id, customer_key)
);

-- The sandbox payment provider's own state (what Stripe would hold in test mode).
CREATE TABLE sandbox_intents (
    id TEXT PRIMARY KEY,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    amount_refunded BIGINT NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

ALTER TABLE orders ADD COLUMN access_hash TEXT;
ALTER TABLE orders ADD COLUMN cart_id TEXT;
