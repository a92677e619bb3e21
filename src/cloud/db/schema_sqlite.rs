//! The SQLite schema as numbered migrations, applied at start-up in one transaction each.
//!
//! Invariant: a migration is never edited once it has landed; changes are new migrations, in
//! step with `schema_postgres.rs` (same tables, same columns, that dialect's types).

use rusqlite::Connection;

use super::DbError;

pub(super) const MIGRATIONS: &[&str] = &[
    // 1: tills, customers, the ledger, applied events, receipts, programs, conflicts, the feed.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    CREATE TABLE tills (
        id          TEXT PRIMARY KEY,
        store       TEXT NOT NULL,
        name        TEXT NOT NULL,
        token_hash  TEXT UNIQUE,                 -- SHA-256 of the device token, hex
        last_seq    INTEGER NOT NULL DEFAULT 0,  -- the highest seq answered for this till
        created_at  INTEGER NOT NULL,
        enrolled_at INTEGER
    );
    CREATE TABLE enrollment_codes (
        code_hash  TEXT PRIMARY KEY,             -- SHA-256 of the code, hex
        till_id    TEXT NOT NULL REFERENCES tills (id),
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    );

    CREATE TABLE customers (
        id          TEXT PRIMARY KEY,
        phone       TEXT NOT NULL UNIQUE,
        name        TEXT,
        email       TEXT UNIQUE,
        card        TEXT NOT NULL UNIQUE,
        birthday    TEXT,
        tags        TEXT NOT NULL DEFAULT '[]',
        consents    TEXT NOT NULL DEFAULT '{}',
        external_id TEXT UNIQUE,
        paid_total  INTEGER NOT NULL DEFAULT 0,
        debt        INTEGER NOT NULL DEFAULT 0,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    -- A customer a till enrolled whose phone already belonged to someone: the same person.
    CREATE TABLE customer_aliases (
        alias_id    TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL REFERENCES customers (id)
    );
    CREATE TABLE point_lots (
        id           INTEGER PRIMARY KEY,
        customer_id  TEXT NOT NULL REFERENCES customers (id),
        source       TEXT NOT NULL,
        receipt_key  TEXT,
        points       INTEGER NOT NULL,
        remaining    INTEGER NOT NULL,
        activates_at INTEGER NOT NULL,
        expires_at   INTEGER
    );
    CREATE INDEX point_lots_customer ON point_lots (customer_id);
    CREATE TABLE ledger (
        id          INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL REFERENCES customers (id),
        kind        TEXT NOT NULL,
        points      INTEGER NOT NULL,
        till_id     TEXT,
        reference   TEXT,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX ledger_customer ON ledger (customer_id, id);
    CREATE TABLE adjustments (
        id           TEXT PRIMARY KEY,
        customer_id  TEXT NOT NULL REFERENCES customers (id),
        request_hash TEXT NOT NULL,
        result       TEXT NOT NULL,
        created_at   INTEGER NOT NULL
    );
    -- The highest seq of each till whose effects a customer's balance includes.
    CREATE TABLE customer_till_seq (
        customer_id TEXT NOT NULL REFERENCES customers (id),
        till_id     TEXT NOT NULL REFERENCES tills (id),
        seq         INTEGER NOT NULL,
        PRIMARY KEY (customer_id, till_id)
    );

    CREATE TABLE events (
        event_id       TEXT PRIMARY KEY,
        till_id        TEXT NOT NULL REFERENCES tills (id),
        seq            INTEGER NOT NULL,
        kind           TEXT NOT NULL,
        outcome        TEXT NOT NULL,            -- applied | rejected
        code           TEXT,
        message        TEXT,
        payload        TEXT NOT NULL,
        till_time      TEXT NOT NULL,
        received_at    INTEGER NOT NULL,
        UNIQUE (till_id, seq)
    );
    CREATE TABLE receipts (
        till_id         TEXT NOT NULL REFERENCES tills (id),
        receipt_id      TEXT NOT NULL,
        customer_id     TEXT REFERENCES customers (id),
        program_version INTEGER NOT NULL,
        seq             INTEGER NOT NULL,
        event_id        TEXT NOT NULL,
        body            TEXT NOT NULL,           -- wire::SaleEvent as pushed
        applied_at      INTEGER NOT NULL,
        PRIMARY KEY (till_id, receipt_id)
    );
    CREATE INDEX receipts_customer ON receipts (customer_id, applied_at);
    CREATE TABLE receipt_lines (
        till_id           TEXT NOT NULL,
        receipt_id        TEXT NOT NULL,
        line_no           INTEGER NOT NULL,
        quantity          INTEGER NOT NULL,      -- thousandths
        paid              INTEGER NOT NULL,
        earn              INTEGER NOT NULL,
        redeem_points     INTEGER NOT NULL,
        returned          INTEGER NOT NULL DEFAULT 0,
        refunded          INTEGER NOT NULL DEFAULT 0,
        earn_taken_back   INTEGER NOT NULL DEFAULT 0,
        redeem_given_back INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (till_id, receipt_id, line_no)
    );
    CREATE TABLE returns (
        till_id     TEXT NOT NULL REFERENCES tills (id),
        return_id   TEXT NOT NULL,
        receipt_id  TEXT NOT NULL,
        customer_id TEXT REFERENCES customers (id),
        seq         INTEGER NOT NULL,
        event_id    TEXT NOT NULL,
        body        TEXT NOT NULL,               -- wire::ReturnEvent as pushed
        applied_at  INTEGER NOT NULL,
        PRIMARY KEY (till_id, return_id)
    );
    CREATE INDEX returns_receipt ON returns (till_id, receipt_id);
    CREATE TABLE promo_uses (
        code        TEXT NOT NULL,               -- upper case
        till_id     TEXT NOT NULL,
        receipt_id  TEXT NOT NULL,
        customer_id TEXT,
        PRIMARY KEY (code, till_id, receipt_id)
    );

    CREATE TABLE program_versions (
        version    INTEGER PRIMARY KEY,
        body       TEXT NOT NULL,                -- rules::Program as JSON
        created_at INTEGER NOT NULL
    );
    CREATE TABLE conflicts (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL,
        till_id     TEXT,
        event_id    TEXT,
        seq         INTEGER,
        customer_id TEXT,
        receipt_id  TEXT,
        happened    TEXT NOT NULL,
        done        TEXT NOT NULL,
        details     TEXT NOT NULL DEFAULT '{}',
        created_at  INTEGER NOT NULL
    );

    -- The change feed: positions come from feed_counter inside the writing transaction.
    CREATE TABLE feed (
        pos       INTEGER PRIMARY KEY,
        kind      TEXT NOT NULL,                 -- customer | balance | program
        entity_id TEXT NOT NULL
    );
    CREATE INDEX feed_entity ON feed (kind, entity_id);
    CREATE TABLE feed_counter (id INTEGER PRIMARY KEY CHECK (id = 1), pos INTEGER NOT NULL);
    INSERT INTO feed_counter (id, pos) VALUES (1, 0);
    "#,
    // 2: webhooks and their delivery outbox (written in the same transaction as the change).
    r#"
    CREATE TABLE webhooks (
        id         TEXT PRIMARY KEY,
        url        TEXT NOT NULL,
        events     TEXT NOT NULL,                -- JSON array of event types
        secret     TEXT NOT NULL,                -- the HMAC key: needed as is to sign, so not hashed
        created_at INTEGER NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        id              TEXT PRIMARY KEY,        -- UUIDv7: the body's id and X-Loyalty-Delivery
        webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        event_type      TEXT NOT NULL,
        body            TEXT NOT NULL,           -- the exact JSON that is signed and sent
        status          TEXT NOT NULL DEFAULT 'pending', -- pending | delivered | failed
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,        -- Unix milliseconds
        lease_owner     TEXT,                    -- the process delivering it now
        lease_until_ms  INTEGER,
        last_attempt_ms INTEGER,
        last_status     INTEGER,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        done_at         INTEGER
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_ms);
    CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);
    "#,
    // 3: MoySklad. A store's access key (SHA-256; NULL once revoked) and the till row its
    // MoySklad sales and returns are booked on. Verification codes expire and are used once.
    r#"
    CREATE TABLE moysklad_stores (
        store      TEXT PRIMARY KEY,
        key_hash   TEXT UNIQUE,
        till_id    TEXT NOT NULL UNIQUE REFERENCES tills (id),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE moysklad_codes (
        id         INTEGER PRIMARY KEY,
        purpose    TEXT NOT NULL,                -- registration | spending
        subject    TEXT NOT NULL,                -- E.164 phone or customer id
        code       TEXT NOT NULL,
        issued_at  INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    );
    CREATE INDEX moysklad_codes_subject ON moysklad_codes (purpose, subject, issued_at);
    "#,
    // 4: the sign-up form's log: proof of when, from where and with which consents someone
    // registered (or tried again with a phone already known).
    r#"
    CREATE TABLE signups (
        id          TEXT PRIMARY KEY,            -- UUIDv7
        phone       TEXT NOT NULL,               -- E.164
        customer_id TEXT,                        -- created, or the phone's existing holder
        outcome     TEXT NOT NULL,               -- created | existing
        client_ip   TEXT NOT NULL,
        consents    TEXT NOT NULL,               -- as stamped: granted, at, source web
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX signups_phone ON signups (phone);
    "#,
    // 5: gift cards (kopecks) and what each sale paid with them. A payment row is keyed by the
    // sale, so a sale booked again never takes from a card twice.
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
        till_id    TEXT NOT NULL,
        receipt_id TEXT NOT NULL,
        card_id    TEXT NOT NULL REFERENCES gift_cards (id),
        amount     INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (till_id, receipt_id, card_id)
    );
    CREATE INDEX gift_card_payments_card ON gift_card_payments (card_id, created_at);
    "#,
    // 6: the store a sign-up came from (a receipt's sign-up QR code names it), kept with the
    // consents as where they were given.
    r#"
    ALTER TABLE signups ADD COLUMN store TEXT;
    "#,
    // 7: the order tills and gift cards were created in, as a number that only grows: their
    // lists page by it, so a row created during a walk is never answered in its middle, even
    // within the same second (creation times have seconds; ids are random). Here the rowid
    // (neither is ever deleted), copied by a trigger; PostgreSQL has a sequence.
    r#"
    ALTER TABLE tills ADD COLUMN list_order INTEGER;
    UPDATE tills SET list_order = rowid;
    CREATE TRIGGER tills_list_order AFTER INSERT ON tills
    BEGIN
        UPDATE tills SET list_order = NEW.rowid WHERE rowid = NEW.rowid;
    END;
    CREATE UNIQUE INDEX tills_by_list_order ON tills (list_order);
    ALTER TABLE gift_cards ADD COLUMN list_order INTEGER;
    UPDATE gift_cards SET list_order = rowid;
    CREATE TRIGGER gift_cards_list_order AFTER INSERT ON gift_cards
    BEGIN
        UPDATE gift_cards SET list_order = NEW.rowid WHERE rowid = NEW.rowid;
    END;
    CREATE UNIQUE INDEX gift_cards_by_list_order ON gift_cards (list_order);
    "#,
    // 8: the back office. Where a customer joined (`source`: till | web | import | admin |
    // moysklad; `store`: the till's or the sign-up link's store, which a manager's scope
    // reads), back-office accounts and their sessions, the audit log of every change, and a
    // conflict marked handled with a note.
    r#"
    ALTER TABLE customers ADD COLUMN source TEXT;
    ALTER TABLE customers ADD COLUMN store TEXT;
    CREATE INDEX customers_store ON customers (store);
    CREATE INDEX customers_created ON customers (created_at);
    CREATE INDEX receipts_applied ON receipts (applied_at);
    CREATE INDEX ledger_created ON ledger (created_at);
    CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        email         TEXT NOT NULL UNIQUE,      -- lower case
        role          TEXT NOT NULL,             -- owner | manager | analyst
        stores        TEXT NOT NULL DEFAULT '[]',-- a manager's stores, JSON array
        password_hash TEXT NOT NULL,             -- Argon2id, PHC string
        totp_secret   TEXT,                      -- base32; NULL = no second factor
        totp_pending  TEXT,                      -- a secret being set up, until a code confirms it
        totp_last_step INTEGER,                  -- the last 30 s step accepted: a code works once
        disabled_at   INTEGER,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until  INTEGER,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,             -- SHA-256 of the cookie's value, hex
        user_id    TEXT NOT NULL REFERENCES users (id),
        csrf       TEXT NOT NULL,
        address    TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL              -- slides forward with use
    );
    CREATE INDEX sessions_user ON sessions (user_id);
    CREATE TABLE audit_log (
        id      INTEGER PRIMARY KEY,
        at      INTEGER NOT NULL,
        who     TEXT NOT NULL,                   -- a user's email, or "admin-token"
        address TEXT,
        action  TEXT NOT NULL,                   -- program.publish, customer.adjust, …
        target  TEXT,
        before  TEXT,                            -- JSON, or NULL
        after   TEXT
    );
    ALTER TABLE conflicts ADD COLUMN handled_at INTEGER;
    ALTER TABLE conflicts ADD COLUMN handled_by TEXT;
    ALTER TABLE conflicts ADD COLUMN handled_note TEXT;
    "#,
    // 9: the finance reports. `tills.last_seen_at`: the last time a till called (written at
    // most once a minute). `lot_moves`: every change of a point lot's remaining points and of
    // a customer's debt, with when it happened and the lot's activation and expiry, so the
    // liability at any moment can be summed (CONTRACTS.md §reports); existing lots and debts
    // are entered as moves dated by their activation (at the latest now). `lot_move_days`:
    // the moves of finished days folded per (day, activation day, expiry day), which keeps the
    // liability report quick at millions of moves. `till_days`: per local day, till and store,
    // what the daily and shift reports show, kept by the push path; rebuilt here from the
    // receipts, returns and adjustments already stored (dated by when the cloud applied them).
    r#"
    ALTER TABLE tills ADD COLUMN last_seen_at INTEGER;
    CREATE TABLE lot_moves (
        id           INTEGER PRIMARY KEY,
        customer_id  TEXT NOT NULL,
        kind         TEXT NOT NULL,              -- lot | debt
        points       INTEGER NOT NULL,           -- the change of remaining (lot) or of debt
        activates_at INTEGER,                    -- the lot's; NULL for debt
        expires_at   INTEGER,                    -- the lot's; NULL = never
        at           INTEGER NOT NULL
    );
    CREATE INDEX lot_moves_at ON lot_moves (at);
    CREATE INDEX lot_moves_activates ON lot_moves (activates_at);
    CREATE INDEX lot_moves_expires ON lot_moves (expires_at);
    CREATE INDEX lot_moves_customer ON lot_moves (customer_id);
    INSERT INTO lot_moves (customer_id, kind, points, activates_at, expires_at, at)
        SELECT customer_id, 'lot', remaining, activates_at, expires_at,
               MIN(activates_at, CAST(strftime('%s', 'now') AS INTEGER))
          FROM point_lots WHERE remaining > 0;
    INSERT INTO lot_moves (customer_id, kind, points, at)
        SELECT id, 'debt', debt, CAST(strftime('%s', 'now') AS INTEGER) FROM customers WHERE debt <> 0;
    CREATE TABLE lot_move_days (
        at_day        INTEGER NOT NULL,          -- local days since 1970-01-01 (UTC+3)
        activates_day INTEGER NOT NULL,          -- 0 for debt
        expires_day   INTEGER NOT NULL,          -- 1000000000 = never
        kind          TEXT NOT NULL,
        points        INTEGER NOT NULL,
        PRIMARY KEY (at_day, activates_day, expires_day, kind)
    );
    CREATE TABLE till_days (
        day               INTEGER NOT NULL,      -- local days since 1970-01-01 (UTC+3)
        till_id           TEXT NOT NULL,         -- '' for the back office's adjustments
        store             TEXT NOT NULL,         -- the till's store then ('' if none)
        receipts          INTEGER NOT NULL DEFAULT 0,
        loyalty_receipts  INTEGER NOT NULL DEFAULT 0,
        sales_amount      INTEGER NOT NULL DEFAULT 0,
        points_discount   INTEGER NOT NULL DEFAULT 0,
        points_earned     INTEGER NOT NULL DEFAULT 0,
        points_spent      INTEGER NOT NULL DEFAULT 0,
        returns           INTEGER NOT NULL DEFAULT 0,
        refund_amount     INTEGER NOT NULL DEFAULT 0,
        points_taken_back INTEGER NOT NULL DEFAULT 0,
        points_given_back INTEGER NOT NULL DEFAULT 0,
        points_adjusted   INTEGER NOT NULL DEFAULT 0,
        first_receipt_at  INTEGER,
        last_receipt_at   INTEGER,
        PRIMARY KEY (day, till_id, store)
    );
    CREATE INDEX till_days_till ON till_days (till_id, day);
    INSERT INTO meta (key, value) VALUES ('lot_moves_folded_through', '-1');
    INSERT INTO till_days (day, till_id, store, receipts, loyalty_receipts, sales_amount, points_discount,
                           points_earned, points_spent, first_receipt_at, last_receipt_at)
        SELECT (r.applied_at + 10800) / 86400, r.till_id, t.store, COUNT(*), SUM(r.customer_id IS NOT NULL),
               SUM(json_extract(r.body, '$.receipt.total')),
               SUM((SELECT COALESCE(SUM(json_extract(l.value, '$.points_discount')), 0)
                      FROM json_each(r.body, '$.receipt.lines') AS l)),
               SUM(json_extract(r.body, '$.receipt.points.earn')), SUM(json_extract(r.body, '$.receipt.points.redeem')),
               MIN(r.applied_at), MAX(r.applied_at)
          FROM receipts r JOIN tills t ON t.id = r.till_id
         WHERE json_valid(r.body)
         GROUP BY 1, 2, 3;
    INSERT INTO till_days (day, till_id, store, returns, refund_amount, points_taken_back, points_given_back)
        SELECT (r.applied_at + 10800) / 86400, r.till_id, t.store, COUNT(*),
               SUM(json_extract(r.body, '$.return.refund')), SUM(json_extract(r.body, '$.return.points_taken_back')),
               SUM(json_extract(r.body, '$.return.points_given_back'))
          FROM returns r JOIN tills t ON t.id = r.till_id
         WHERE json_valid(r.body)
         GROUP BY 1, 2, 3
    ON CONFLICT (day, till_id, store) DO UPDATE SET returns = excluded.returns,
        refund_amount = excluded.refund_amount, points_taken_back = excluded.points_taken_back,
        points_given_back = excluded.points_given_back;
    INSERT INTO till_days (day, till_id, store, points_adjusted)
        SELECT (l.created_at + 10800) / 86400, COALESCE(l.till_id, ''), COALESCE(t.store, c.store, ''), SUM(l.points)
          FROM ledger l LEFT JOIN tills t ON t.id = l.till_id JOIN customers c ON c.id = l.customer_id
         WHERE l.kind = 'adjustment'
         GROUP BY 1, 2, 3
    ON CONFLICT (day, till_id, store) DO UPDATE SET points_adjusted = excluded.points_adjusted;
    "#,
    // 10: what the back office shows of tills and consents. A till reports, with each sync
    // call, its agent's version and how many events its outbox still holds. `consent_changes`:
    // every change of a customer's consent, kept so the console can show its history (who
    // gave or withdrew it, when, from where); the consents customers hold now are entered as
    // their first rows.
    r#"
    ALTER TABLE tills ADD COLUMN agent_version TEXT;
    ALTER TABLE tills ADD COLUMN pending_events INTEGER;
    ALTER TABLE tills ADD COLUMN pending_reported_at INTEGER;
    CREATE TABLE consent_changes (
        id          INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL,
        channel     TEXT NOT NULL,               -- sms | email | personal_data
        granted     INTEGER NOT NULL,            -- 1 given, 0 withdrawn
        at          TEXT NOT NULL,               -- RFC 3339, when the customer gave or withdrew it
        source      TEXT NOT NULL,               -- till | web | import | cloud | moysklad | …
        till_id     TEXT,                        -- the till that recorded it, if one did
        store       TEXT,                        -- that till's store, or the sign-up's
        who         TEXT,                        -- a back-office user's email, "admin-token", …
        recorded_at INTEGER NOT NULL             -- when the cloud recorded it
    );
    CREATE INDEX consent_changes_customer ON consent_changes (customer_id, id);
    INSERT INTO consent_changes (customer_id, channel, granted, at, source, recorded_at)
        SELECT c.id, j.key, CASE WHEN json_extract(j.value, '$.granted') THEN 1 ELSE 0 END,
               COALESCE(json_extract(j.value, '$.at'), ''), COALESCE(json_extract(j.value, '$.source'), ''),
               c.updated_at
          FROM customers c, json_each(c.consents) AS j
         WHERE json_valid(c.consents) AND j.type = 'object';
    "#,
    // 11: an applied sale's event row no longer keeps its payload (NULL): the receipt's `body`
    // is the same text, kept once (a drain wrote every sale twice). SQLite cannot drop a NOT
    // NULL in place, so the table is copied; rows written before keep their copy. The copy is
    // keyed by its primary key (`WITHOUT ROWID`): a pushed event then adds to two b-trees, not
    // three (a rowid table and its event-id index).
    r#"
    CREATE TABLE events_11 (
        event_id       TEXT PRIMARY KEY,
        till_id        TEXT NOT NULL REFERENCES tills (id),
        seq            INTEGER NOT NULL,
        kind           TEXT NOT NULL,
        outcome        TEXT NOT NULL,            -- applied | rejected
        code           TEXT,
        message        TEXT,
        payload        TEXT,                     -- NULL for an applied sale: see receipts.body
        till_time      TEXT NOT NULL,
        received_at    INTEGER NOT NULL,
        UNIQUE (till_id, seq)
    ) WITHOUT ROWID;
    INSERT INTO events_11 SELECT event_id, till_id, seq, kind, outcome, code, message, payload, till_time, received_at
      FROM events ORDER BY till_id, seq;
    DROP TABLE events;
    ALTER TABLE events_11 RENAME TO events;
    "#,
    // 12: campaigns (CONTRACTS.md §campaigns). Each campaign's use on each receipt, with what it
    // gave and when (the till's clock): `limit_per_customer` counts them across tills, and the
    // back office reports from them. What each campaign gave per till (a budget counts the sum;
    // a till is told what the others gave). The stamps each customer holds per stamp card.
    r#"
    CREATE TABLE campaign_uses (
        till_id     TEXT NOT NULL,
        receipt_id  TEXT NOT NULL,
        campaign_id TEXT NOT NULL,
        customer_id TEXT,
        points      INTEGER NOT NULL,
        discount    INTEGER NOT NULL,
        stamps_earned INTEGER NOT NULL,
        stamps_used INTEGER NOT NULL,
        used_at     INTEGER NOT NULL,
        PRIMARY KEY (till_id, receipt_id, campaign_id)
    ) WITHOUT ROWID;
    CREATE INDEX campaign_uses_customer ON campaign_uses (customer_id, campaign_id, used_at);
    CREATE TABLE campaign_spend (
        campaign_id TEXT NOT NULL,
        till_id     TEXT NOT NULL,
        points      INTEGER NOT NULL,
        discount    INTEGER NOT NULL,
        receipts    INTEGER NOT NULL,
        PRIMARY KEY (campaign_id, till_id)
    ) WITHOUT ROWID;
    CREATE TABLE campaign_stamps (
        customer_id TEXT NOT NULL,
        campaign_id TEXT NOT NULL,
        stamps      INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (customer_id, campaign_id)
    ) WITHOUT ROWID;
    "#,
    // 13: the SMS outbox (`store::sms`): messages the delivery task sends, with their
    // lease (as the webhook deliveries), attempts, the last error the back office lists, and
    // `masked` once a done message's code digits were hidden.
    r#"
    CREATE TABLE sms_messages (
        id              TEXT PRIMARY KEY,
        phone           TEXT NOT NULL,
        text            TEXT NOT NULL,
        purpose         TEXT NOT NULL,
        status          TEXT NOT NULL,            -- pending | sent | failed | expired
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        expires_at_ms   INTEGER NOT NULL,
        lease_owner     TEXT,
        lease_until_ms  INTEGER,
        last_error      TEXT,
        gateway_id      TEXT,
        masked          INTEGER NOT NULL DEFAULT 0,
        created_at_ms   INTEGER NOT NULL,
        done_at_ms      INTEGER
    );
    CREATE INDEX sms_messages_due ON sms_messages (status, next_attempt_ms);
    CREATE INDEX sms_messages_created ON sms_messages (created_at_ms);
    CREATE INDEX sms_messages_unmasked ON sms_messages (id) WHERE masked = 0;
    "#,
    // 14: lifecycle rewards (CONTRACTS.md §campaigns, `birthday` and `referral`).
    // `referral_codes`: the code each customer gives friends, made with the customer (or, for
    // one imported in bulk, when the back office first shows them). `referrals`: a row per
    // friend who joined with a code — whose code it was and where it stands (pending |
    // rewarded | refused, with why). `referral_phones`: every phone a referral was recorded
    // for, so a phone is referred once whoever holds it later. `birthday_grants`: a row per
    // customer and birthday year, the key that makes the birthday job grant once however many
    // processes and restarts run it. The expression index finds the customers whose birthday
    // (`YYYY-MM-DD` or `MM-DD`) ends in one of the window's days.
    r#"
    CREATE TABLE referral_codes (
        code        TEXT PRIMARY KEY,            -- identity::normalize_referral_code's form
        customer_id TEXT NOT NULL UNIQUE REFERENCES customers (id)
    );
    CREATE TABLE referrals (
        friend_id       TEXT PRIMARY KEY REFERENCES customers (id),
        referrer_id     TEXT NOT NULL REFERENCES customers (id),
        code            TEXT NOT NULL,
        phone           TEXT NOT NULL,           -- the friend's, E.164, when they joined
        source          TEXT NOT NULL,           -- till | web
        till_id         TEXT,
        state           TEXT NOT NULL,           -- pending | rewarded | refused
        reason          TEXT,                    -- refused: self | phone_referred_before | limit_reached
        receipt         TEXT,                    -- rewarded: the qualifying receipt, till_id/receipt_id
        referrer_points INTEGER NOT NULL DEFAULT 0,
        friend_points   INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL,
        decided_at      INTEGER
    );
    CREATE INDEX referrals_referrer ON referrals (referrer_id, created_at, friend_id);
    CREATE TABLE referral_phones (
        phone     TEXT PRIMARY KEY,
        friend_id TEXT NOT NULL
    );
    CREATE TABLE birthday_grants (
        customer_id TEXT NOT NULL REFERENCES customers (id),
        year        INTEGER NOT NULL,            -- the birthday's year (rules::birthday_due)
        points      INTEGER NOT NULL,
        granted_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        PRIMARY KEY (customer_id, year)
    );
    CREATE INDEX customers_birthday_day ON customers (substr(birthday, length(birthday) - 4, 5));
    "#,
    // 15: the expiry notices (`store::expiry_notices`): one row per customer, expiry moment and
    // kind (`expiring`, `expired`), so each `points_expiring` / `points_expired` webhook is sent
    // once whatever process or run finds it; lots still holding points, by expiry, for the job.
    r#"
    CREATE TABLE expiry_notices (
        customer_id TEXT NOT NULL,
        expires_at  INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        points      INTEGER NOT NULL,
        sent_at     INTEGER NOT NULL,
        PRIMARY KEY (customer_id, expires_at, kind)
    );
    CREATE INDEX point_lots_holding ON point_lots (expires_at) WHERE remaining > 0;
    "#,
    // 16: the self-service page (`store::self_service`). A shopper's sign-in code, one live per
    // phone: only its salted SHA-256 is kept, with the wrong attempts against it. And their
    // sessions: the cookie's SHA-256, the customer and the phone it was opened for (a session
    // of a customer whose phone changed, or who was merged into another, is void).
    r#"
    CREATE TABLE me_codes (
        phone       TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        salt        TEXT NOT NULL,
        code_hash   TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        expires_at  INTEGER NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE me_sessions (
        token_hash  TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        phone       TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
    );
    CREATE INDEX me_sessions_customer ON me_sessions (customer_id);
    CREATE INDEX me_sessions_expiry ON me_sessions (expires_at);
    "#,
    // 17: wallet cards (`store::wallet`). One card per customer who was given one (an Apple
    // pass downloaded or a Google save link issued): its fixed serial, the pass's web-service
    // token, the figures it last showed (JSON) with their update tag (a counter) and
    // Last-Modified second, and when the figures change with time alone (points becoming
    // spendable or expiring). `wallet_dirty` holds the customers whose figures may have
    // changed (written with the change, read by the wallet task). Apple's device
    // registrations, and the two outboxes: one pending push per device token (`generation`
    // counts the changes it covers, so a change during a push's flight sends another) and one
    // pending update per Google object, with `notify` when the points changed.
    r#"
    CREATE TABLE wallet_cards (
        customer_id     TEXT PRIMARY KEY,
        serial          TEXT NOT NULL UNIQUE,
        auth_token      TEXT NOT NULL,
        view            TEXT NOT NULL,
        tag             INTEGER NOT NULL,
        modified_at     INTEGER NOT NULL,
        refresh_at      INTEGER,
        google          INTEGER NOT NULL DEFAULT 0,
        google_day      TEXT,
        google_notified INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL
    );
    CREATE INDEX wallet_cards_tag ON wallet_cards (tag);
    CREATE INDEX wallet_cards_refresh ON wallet_cards (refresh_at) WHERE refresh_at IS NOT NULL;
    CREATE TABLE wallet_counter (id INTEGER PRIMARY KEY, tag INTEGER NOT NULL);
    INSERT INTO wallet_counter (id, tag) VALUES (1, 0);
    CREATE TABLE wallet_dirty (
        customer_id TEXT PRIMARY KEY,
        since       INTEGER NOT NULL
    );
    CREATE TABLE apple_devices (
        device_id     TEXT NOT NULL,
        pass_type_id  TEXT NOT NULL,
        serial        TEXT NOT NULL,
        push_token    TEXT NOT NULL,
        registered_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, pass_type_id, serial)
    );
    CREATE INDEX apple_devices_serial ON apple_devices (serial);
    CREATE INDEX apple_devices_token ON apple_devices (push_token);
    CREATE TABLE apple_pushes (
        push_token   TEXT PRIMARY KEY,
        generation   INTEGER NOT NULL,
        status       TEXT NOT NULL,
        due_ms       INTEGER NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        lease_owner  TEXT,
        lease_until  INTEGER,
        last_error   TEXT,
        created_ms   INTEGER NOT NULL,
        done_ms      INTEGER
    );
    CREATE INDEX apple_pushes_due ON apple_pushes (status, due_ms);
    CREATE TABLE google_patches (
        customer_id  TEXT PRIMARY KEY,
        generation   INTEGER NOT NULL,
        notify       INTEGER NOT NULL,
        status       TEXT NOT NULL,
        due_ms       INTEGER NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        lease_owner  TEXT,
        lease_until  INTEGER,
        last_error   TEXT,
        created_ms   INTEGER NOT NULL,
        done_ms      INTEGER
    );
    CREATE INDEX google_patches_due ON google_patches (status, due_ms);
    "#,
    // 18: spending codes (issue 14, `store::spending_codes`). The secret of a customer's
    // time-based code, made when their page first shows one and sent to the tills with the
    // directory (never in an admin answer or a webhook); and each time-based code step a till's
    // sale was confirmed with, so the same code used at two tills is a `code_replayed` conflict.
    r#"
    CREATE TABLE customer_code_secrets (
        customer_id TEXT PRIMARY KEY,
        secret      TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE code_uses (
        customer_id TEXT NOT NULL,
        step        INTEGER NOT NULL,
        till_id     TEXT NOT NULL,
        receipt_id  TEXT NOT NULL,
        at          INTEGER NOT NULL,
        PRIMARY KEY (customer_id, step, till_id)
    );
    "#,
];

/// Applies the migrations not yet recorded in `PRAGMA user_version`.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > MIGRATIONS.len() as i64 {
        return Err(DbError::Open(format!(
            "the database was written by a newer loyalty-cloud (schema {found}, this one knows {})",
            MIGRATIONS.len()
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 11 copies `events` into a table that lets an applied sale keep no payload:
    /// the rows a cloud already holds must come through it unchanged.
    #[test]
    fn events_written_before_migration_11_survive_it() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::sqlite::register_functions(&conn).unwrap();
        for migration in &MIGRATIONS[..10] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", 10).unwrap();
        conn.execute_batch(
            "INSERT INTO tills (id, store, name, created_at) VALUES ('t1', 's1', 'Till 1', 0);
             INSERT INTO events (event_id, till_id, seq, kind, outcome, code, message, payload, till_time, received_at)
             VALUES ('e1', 't1', 1, 'sale', 'applied', NULL, NULL, '{\"receipt\":{}}', '2026-12-07T10:00:00Z', 5),
                    ('e2', 't1', 2, 'return', 'rejected', 'unknown_receipt', 'no such receipt', '{}', '2026-12-07T10:01:00Z', 6);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let rows: Vec<(String, i64, Option<String>, Option<String>)> = conn
            .prepare("SELECT event_id, seq, code, payload FROM events ORDER BY seq")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                ("e1".into(), 1, None, Some("{\"receipt\":{}}".into())),
                ("e2".into(), 2, Some("unknown_receipt".into()), Some("{}".into())),
            ]
        );
        // A sale applied from now on keeps no copy of its text, and the keys still hold.
        conn.execute(
            "INSERT INTO events (event_id, till_id, seq, kind, outcome, payload, till_time, received_at)
             VALUES ('e3', 't1', 3, 'sale', 'applied', NULL, '2026-12-07T10:02:00Z', 7)",
            [],
        )
        .unwrap();
        let again = conn.execute(
            "INSERT INTO events (event_id, till_id, seq, kind, outcome, payload, till_time, received_at)
             VALUES ('e4', 't1', 3, 'sale', 'applied', NULL, '2026-12-07T10:03:00Z', 8)",
            [],
        );
        assert!(again.is_err(), "(till_id, seq) is still unique");
    }
}
