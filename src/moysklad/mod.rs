//! The MoySklad (МойСклад) Loyalty API 1.0 adapter: the protocol MoySklad uses to call an
//! external loyalty program, served on top of our ledger by both servers.
//!
//! A store gives MoySklad a base address and an access key. MoySklad's servers (not the till)
//! then call, relative to that address: `POST /counterparty` (create), `GET /counterparty`
//! (search), `POST /counterparty/detail` (balance), `POST /counterparty/verify` (registration
//! code), `POST /retaildemand/recalc` (discounts and points), `POST /retaildemand/verify`
//! (spending code), `POST /retaildemand` (the sale), `POST /retailsalesreturn` (the return) and
//! `GET /giftcard`. loyalty-cloud serves them under `/moysklad/v1/` with a per-store key (the
//! deployment a store normally uses: the address must be reachable from the internet); the agent
//! serves the same router on its local ledger for set-ups where the calls can reach the till.
//!
//! # Layout
//! - [`wire`]: the protocol's JSON, field for field; [`number`]: its decimals as exact integers.
//! - [`convert`]: positions ⇄ our receipt lines; per-unit prices, splitting a position in two
//!   when one 2-decimal price cannot carry the line's discount.
//! - [`service`]: [`LoyaltyBackend`](service::LoyaltyBackend), the ledger operations the adapter
//!   needs; implemented by `agent::moysklad_backend` and `cloud::moysklad_backend`.
//! - [`customers`], [`receipts`]: the protocol's flows, written once over the trait.
//! - [`verify`]: verification codes and the [`CodeSender`](verify::CodeSender) that delivers them.
//! - [`body`], [`errors`], [`routes`]: reading requests, the protocol's error body, the router
//!   (its [`ENDPOINTS`] table); [`openapi`]: the endpoints in both servers' `/openapi.json`.
//!
//! # Customers
//! A search row's `id` is ours (a UUID) and `msId` MoySklad's counterparty id when linked.
//! Calls that name a customer carry MoySklad's id (`agent.meta.id`): it is looked up in the link
//! (the cloud's `customers.external_id`, the agent's `moysklad_links`); failing that the
//! request's card number, then its phone, finds the customer, who is then linked. Creating a
//! counterparty creates our customer (card assigned as at any enrollment, welcome points) linked
//! to `meta.id`, or links the customer we already know by that phone.
//!
//! On a connected agent a new link is an outbox event (`external_id` in `customer_created`, or a
//! `customer_updated` naming only `external_id`), so the cloud learns it; the cloud takes it when
//! the customer has no link and no one else holds the id, and otherwise keeps its own and lists a
//! `moysklad_link` conflict. Links made in the cloud reach the tills through the feed.
//!
//! # Idempotency of sales and returns
//! A sale or return becomes a receipt or return of our ledger with the id
//! [`receipts::document_key`] derives, and that id is the ledger's idempotency key:
//! 1. `moysklad:<meta.id>` when MoySklad sends the document's id;
//! 2. otherwise (the documented examples send `meta: {href: "", id: ""}`)
//!    `moysklad:n:<first 32 hex digits of SHA-256 of "retailStore.meta.id \n name \n moment">`:
//!    a point of sale never reuses a document number at the same moment, and a retry repeats both;
//! 3. otherwise `moysklad:b:<…>` of the body's canonical JSON (keys sorted, spacing dropped).
//!
//! The same document again answers 201 without counting twice; a different document under the
//! same id is a 409. A return finds its sale by `moysklad:<demand.meta.id>`; when the sale was
//! keyed otherwise, among the customer's recent MoySklad sales, the newest that still holds
//! every returned position. Returns carry no points: the reversal is computed per line from the
//! linked sale (`rules::plan_return`), exactly as for a native return.
//!
//! # A sale that spends more than is available
//! MoySklad reports a sale after closing it at the till, so refusing it would only lose the
//! record. When its points were spent elsewhere since the recalc (or, on a connected agent, go
//! past the offline bound), both backends book it with `rules::calculate_booked`: every other
//! rule still holds, the shortfall becomes debt, and the receipt carries an `overdraft` limit
//! (the agent also logs a warning; the cloud lists an `overdraft` conflict, as it does for a
//! connected till's overdrawn sale when it arrives).
//!
//! # Money
//! Prices and sums are rubles with two decimals, quantities have three, gift cards are kopecks,
//! points are whole numbers; all are read from the JSON text into integers (never an `f64`) and
//! written back with their decimals (`79.00`). Payment sums (`cashSum`, `noCashSum`) are not
//! used: points never depend on them, and the return's `noCashSum` unit is doubtful.
//!
//! # Gift cards
//! Cards are issued by the office (`/v1/admin/gift-cards` on the cloud, `/v1/gift-cards` on a
//! standalone agent), in kopecks, with a Luhn number (prefix 2999 in the cloud, 2970 on a till)
//! or one of the store's choosing; `crate::gift_cards` holds their rules. `GET /giftcard` answers
//! `CAN_BE_USED`, `PARTIALLY_REDEEMED`, `REDEEMED`, `EXPIRED` (with `expireDate` in UTC) or
//! `INVALID` (unknown or voided). A sale's `giftCards[]` are matched by `name` (the number; the
//! `id` is informational, the documentation's examples carry ids no program issued) and each
//! `paymentSum` is taken from its card **in the sale's transaction**, keyed by the sale: the
//! same sale sent again takes nothing, and other sums under the same sale are a 409. Unlike
//! points, a card that cannot pay (unknown, void, expired, used up, short) refuses the whole
//! sale with 422 / 42201 and nothing is booked: MoySklad checked the card with `/giftcard` just
//! before, so a refusal means the card changed meanwhile, and booking it would spend money that
//! is not there. A return does not refund a card: the protocol carries no gift cards on a return
//! and has no refund call (the office can issue a new card).
//!
//! On a **connected agent** the cards live in the cloud alone and the till keeps no copy. The
//! lookup asks the cloud online (`GET /v1/sync/gift-cards/{number}`); when the cloud cannot be
//! reached it answers `INVALID` and logs why. A sale paying with cards first has the cloud take
//! the payments online (`POST /v1/sync/gift-cards/redeem`, idempotent by till and receipt id, the
//! card row locked), and only then records the sale locally with the payments; the sale event
//! reaches the cloud later like any other and takes nothing again. Offline, such a sale is
//! refused with 503 / 50301 saying why. This design was chosen over carrying the payments in the
//! sale event because two offline tills could then both spend the same card, which no later
//! reconciliation can undo; online-first can never spend a card twice.
//!
//! # Not done
//! Only the development [`LogSender`](verify::LogSender) delivers codes. A standalone till's own
//! gift cards stay on the till if it later enrolls with a cloud (they are not moved there). If a
//! connected till's local commit fails after the cloud took the payments (storage failure), the
//! payments stay in the cloud under that receipt id (listed on the card), and MoySklad sending
//! the sale again records it without taking them twice.

pub mod body;
pub mod convert;
pub mod customers;
pub mod errors;
pub mod number;
pub mod openapi;
pub mod receipts;
pub mod routes;
pub mod service;
pub mod verify;
pub mod wire;

pub use routes::{service, ENDPOINTS, PREFIX};
pub use service::{BackendError, CodePurpose, LoyaltyBackend};
pub use verify::{CodeMessage, CodeSender, LogSender};
