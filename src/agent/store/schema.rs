//! The agent database's schema, as numbered migrations applied at start-up.
//!
//! Invariant: a migration is never edited once it has landed; changes are new migrations.
//! `PRAGMA user_version` records how many have been applied.

use rusqlite::Connection;

/// Migrations in order; index + 1 is the schema version they bring the database to.
const MIGRATIONS: &[&str] = &[
    // 1: directory, ledger, receipts, outbox.
    r#"
    CREATE TABLE customers (
        id          TEXT PRIMARY KEY,
        phone       TEXT NOT NULL UNIQUE,        -- E.164
        phone_rev   TEXT NOT NULL,               -- the phone's digits reversed: last-digits search
        name        TEXT,
        email       TEXT UNIQUE,                 -- lower case
        card        TEXT NOT NULL UNIQUE,        -- digits
        birthday    TEXT,
        tags        TEXT NOT NULL DEFAULT '[]',  -- JSON array
        consents    TEXT NOT NULL DEFAULT '{}',  -- JSON, wire::Consents
        paid_total  INTEGER NOT NULL DEFAULT 0,  -- minor units, picks the tier
        debt        INTEGER NOT NULL DEFAULT 0,  -- points owed
        external_id TEXT UNIQUE,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    CREATE INDEX customers_phone_rev ON customers (phone_rev);

    -- Each credit of points is a lot with its own activation and expiry (rules::Wallet).
    CREATE TABLE point_lots (
        id           INTEGER PRIMARY KEY,
        customer_id  TEXT NOT NULL REFERENCES customers (id),
        source       TEXT NOT NULL,
        receipt_id   TEXT,
        points       INTEGER NOT NULL,
        remaining    INTEGER NOT NULL,
        activates_at INTEGER NOT NULL,
        expires_at   INTEGER
    );
    CREATE INDEX point_lots_open ON point_lots (customer_id) WHERE remaining > 0;

    -- The journal of every points movement, for history and audit.
    CREATE TABLE ledger (
        seq         INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL REFERENCES customers (id),
        kind        TEXT NOT NULL,   -- welcome | accrual | redemption | adjustment | return_accrual | return_redemption | import
        points      INTEGER NOT NULL,
        reference   TEXT,            -- receipt, return or adjustment id
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX ledger_customer ON ledger (customer_id, seq);

    CREATE TABLE adjustments (
        id           TEXT PRIMARY KEY,
        customer_id  TEXT NOT NULL REFERENCES customers (id),
        request_hash TEXT NOT NULL,
        result       TEXT NOT NULL,   -- JSON, wire::AdjustmentResult
        created_at   INTEGER NOT NULL
    );

    CREATE TABLE receipts (
        id              TEXT PRIMARY KEY,   -- the till's receipt id
        request_hash    TEXT NOT NULL,
        customer_id     TEXT REFERENCES customers (id),
        program_version INTEGER NOT NULL,
        result          TEXT NOT NULL,      -- JSON, wire::Calculation as answered
        created_at      INTEGER NOT NULL
    );
    CREATE INDEX receipts_customer ON receipts (customer_id);

    CREATE TABLE receipt_lines (
        receipt_id        TEXT NOT NULL REFERENCES receipts (id),
        line_no           INTEGER NOT NULL,
        sku               TEXT NOT NULL,
        quantity          INTEGER NOT NULL,   -- thousandths
        paid              INTEGER NOT NULL,
        earn              INTEGER NOT NULL,
        redeem_points     INTEGER NOT NULL,
        returned          INTEGER NOT NULL DEFAULT 0,
        refunded          INTEGER NOT NULL DEFAULT 0,
        earn_taken_back   INTEGER NOT NULL DEFAULT 0,
        redeem_given_back INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (receipt_id, line_no)
    );

    CREATE TABLE returns (
        id           TEXT PRIMARY KEY,
        receipt_id   TEXT NOT NULL REFERENCES receipts (id),
        request_hash TEXT NOT NULL,
        result       TEXT NOT NULL,   -- JSON, wire::ReturnResult
        created_at   INTEGER NOT NULL
    );
    CREATE INDEX returns_receipt ON returns (receipt_id);

    CREATE TABLE promo_uses (
        code        TEXT NOT NULL,    -- upper case
        receipt_id  TEXT NOT NULL REFERENCES receipts (id),
        customer_id TEXT,
        PRIMARY KEY (code, receipt_id)
    );
    CREATE INDEX promo_uses_customer ON promo_uses (code, customer_id);

    -- Events for the cloud, in commit order. `seq` has no gaps: it is assigned inside the
    -- committing transaction and rows leave only when the cloud has answered for them.
    CREATE TABLE outbox (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id   TEXT NOT NULL UNIQUE,
        kind       TEXT NOT NULL,
        payload    TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );

    CREATE TABLE program_versions (
        version     INTEGER PRIMARY KEY,
        hash        TEXT NOT NULL UNIQUE,
        body        TEXT NOT NULL,
        recorded_at INTEGER NOT NULL
    );

    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    "#,
    // 2: sync with a cloud. Journal entries remember the outbox event that carries them, so a
    // pulled balance that includes this till's events up to some seq can drop exactly those
    // entries from the local sum (CONTRACTS.md §storage).
    r#"
    ALTER TABLE ledger ADD COLUMN outbox_seq INTEGER;
    ALTER TABLE ledger ADD COLUMN activates_at INTEGER;
    CREATE INDEX ledger_unconfirmed ON ledger (customer_id, outbox_seq);

    -- Balances as last confirmed by the cloud, and up to which of our own events they include.
    CREATE TABLE cloud_balances (
        customer_id  TEXT PRIMARY KEY,
        balance      INTEGER NOT NULL,
        available    INTEGER NOT NULL,
        pending      INTEGER NOT NULL,
        paid_total   INTEGER NOT NULL,
        included_seq INTEGER NOT NULL
    );

    -- Events the cloud refused for good: kept for the back office and health.
    CREATE TABLE sync_rejections (
        seq         INTEGER PRIMARY KEY,
        event_id    TEXT NOT NULL,
        kind        TEXT NOT NULL,
        payload     TEXT NOT NULL,
        code        TEXT NOT NULL,
        message     TEXT NOT NULL,
        rejected_at INTEGER NOT NULL
    );
    "#,
    // 3: MoySklad. MoySklad's counterparty id → our customer. Not `customers.external_id`: a
    // pull from the cloud overwrites that column with the cloud's value, which would drop a
    // link made on this till. Verification codes expire and are used once.
    r#"
    CREATE TABLE moysklad_links (
        ms_id       TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL UNIQUE REFERENCES customers (id),
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE moysklad_codes (
        id         INTEGER PRIMARY KEY,
        purpose    TEXT NOT NULL,      -- registration | spending
        subject    TEXT NOT NULL,      -- E.164 phone (registration) or customer id (spending)
        code       TEXT NOT NULL,
        issued_at  INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    );
    CREATE INDEX moysklad_codes_subject ON moysklad_codes (purpose, subject, issued_at);
    "#,
    // 4: customers the cloud merged into another (one person enrolled on two tills): the old
    // id keeps answering, as the customer it became.
    r#"
    CREATE TABLE customer_aliases (
        alias       TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL
    );
    "#,
    // 5: gift cards (kopecks) of a standalone till, and what each sale paid with gift cards.
    // A connected till keeps no cards (the cloud does) but records its sales' payments, with
    // the cloud's card id.
    r#"
    CREATE TABLE gift_cards (
        id         TEXT PRIMARY KEY,             -- a UUID (MoySklad's card id)
        number     TEXT NOT NULL UNIQUE,         -- upper-case letters and digits
        initial    INTEGER NOT NULL,
        balance    INTEGER NOT NULL,
        expires_at INTEGER,
        voided_at  INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE gift_card_payments (
        receipt_id TEXT NOT NULL REFERENCES receipts (id),
        number     TEXT NOT NULL,
        card_id    TEXT NOT NULL,
        amount     INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (receipt_id, number)
    );
    CREATE INDEX gift_card_payments_card ON gift_card_payments (card_id, created_at);
    "#,
    // 6: the next points to expire in the cloud's lots, from its balance snapshots (the till
    // shows them; an older cloud sends none).
    r#"
    ALTER TABLE cloud_balances ADD COLUMN expiring_points INTEGER;
    ALTER TABLE cloud_balances ADD COLUMN expiring_at INTEGER;
    "#,
    // 7: campaigns (CONTRACTS.md §campaigns). Stamps a customer holds per stamp card; the
    // receipts each campaign applied to, with their time, so `limit_per_customer` counts the
    // current period's; the points each budgeted campaign gave, with the outbox event that
    // carries them (while that event waits, the cloud has not counted them); and the stamps
    // each sold line moved, so a return reverses exactly those.
    r#"
    CREATE TABLE campaign_stamps (
        customer_id TEXT NOT NULL,
        campaign_id TEXT NOT NULL,
        stamps      INTEGER NOT NULL,
        PRIMARY KEY (customer_id, campaign_id)
    );
    CREATE TABLE campaign_uses (
        campaign_id TEXT NOT NULL,
        receipt_id  TEXT NOT NULL REFERENCES receipts (id),
        customer_id TEXT NOT NULL,
        used_at     INTEGER NOT NULL,
        PRIMARY KEY (campaign_id, receipt_id)
    );
    CREATE INDEX campaign_uses_customer ON campaign_uses (customer_id, campaign_id, used_at);
    CREATE TABLE campaign_points (
        campaign_id TEXT NOT NULL,
        receipt_id  TEXT NOT NULL REFERENCES receipts (id),
        outbox_seq  INTEGER NOT NULL,
        points      INTEGER NOT NULL,
        PRIMARY KEY (campaign_id, receipt_id)
    );
    CREATE INDEX campaign_points_seq ON campaign_points (campaign_id, outbox_seq);
    CREATE TABLE receipt_line_stamps (
        receipt_id        TEXT NOT NULL REFERENCES receipts (id),
        line_no           INTEGER NOT NULL,
        campaign_id       TEXT NOT NULL,
        earned            INTEGER NOT NULL,
        used              INTEGER NOT NULL,
        earned_taken_back INTEGER NOT NULL DEFAULT 0,
        used_given_back   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (receipt_id, line_no, campaign_id)
    );
    "#,
    // 8: campaigns with a cloud (CONTRACTS.md §campaigns). The stamps each sale or return moved,
    // with the outbox event carrying them: a count pulled from the cloud includes this till's
    // events up to the balance's `included_seq`, and the later moves are added to it. The
    // customer's uses at other tills, as the cloud last sent them. What each budgeted campaign
    // gave at the other tills.
    r#"
    CREATE TABLE stamp_moves (
        outbox_seq  INTEGER NOT NULL,
        customer_id TEXT NOT NULL,
        campaign_id TEXT NOT NULL,
        change      INTEGER NOT NULL
    );
    CREATE INDEX stamp_moves_customer ON stamp_moves (customer_id, campaign_id, outbox_seq);
    CREATE TABLE cloud_campaign_uses (
        customer_id TEXT NOT NULL,
        campaign_id TEXT NOT NULL,
        used_at     INTEGER NOT NULL
    );
    CREATE INDEX cloud_campaign_uses_customer ON cloud_campaign_uses (customer_id, campaign_id, used_at);
    CREATE TABLE cloud_campaign_budgets (
        campaign_id     TEXT PRIMARY KEY,
        given           INTEGER NOT NULL,
        given_elsewhere INTEGER NOT NULL
    );
    "#,
    // 9: spending codes (issue 14). The SMS code this till sent a customer, as a salted digest,
    // and the wrong codes counted towards a lock; each time-based code step this till accepted
    // (a code is taken once per till); the customers' time-based secrets the cloud sent, apart
    // from `customers` so that no customer query can carry them out.
    r#"
    CREATE TABLE spending_codes (
        customer_id  TEXT PRIMARY KEY,
        digest       TEXT,
        salt         TEXT,
        sent_at      INTEGER,
        expires_at   INTEGER,
        used_at      INTEGER,
        wrong        INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE totp_uses (
        customer_id TEXT NOT NULL,
        step        INTEGER NOT NULL,
        receipt_id  TEXT NOT NULL,
        used_at     INTEGER NOT NULL,
        PRIMARY KEY (customer_id, step)
    ) WITHOUT ROWID;
    CREATE TABLE customer_secrets (
        customer_id TEXT PRIMARY KEY,
        code_secret TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
];

/// The schema version this build expects.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Applies the migrations the database has not seen, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))?.try_into().unwrap_or(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
