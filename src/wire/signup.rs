//! The cloud's public sign-up form (`POST /v1/signup`, CONTRACTS.md §signup): what a chain's website
//! sends when someone registers, and the one answer it always gets.
//!
//! The form collects what the seeds' registration forms do (Poster/GrowCards: a phone number
//! is enough to get a card; Mindbox, Sailplay, SARE: name, email, birthday, and marketing
//! subscriptions whose time and source must be kept). Consents given here are stamped with the
//! cloud's time and source `web`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ConsentsInput;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Any common format; normalised to E.164 with the cloud's default country.
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// `YYYY-MM-DD`.
    pub birthday: Option<String>,
    /// Marketing by SMS and by email: `true` only when the person ticked the box.
    pub consents: Option<ConsentsInput>,
    /// The store the person signed up for, when they came from a receipt's sign-up QR code
    /// (`/signup?store=…`); kept in the sign-up log with the consents. Up to 64 characters.
    #[serde(default)]
    pub store: Option<String>,
    /// A friend's code (the page's «Код друга / Friend's code»): 8 letters and digits, case,
    /// spaces and dashes ignored. One no customer has is a 422 (`invalid_referral_code` for a
    /// mistyped one, `unknown_referral_code` for one nobody has), checked before anything else
    /// about the person, so the answer reveals nothing about the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_code: Option<String>,
}

/// Who processes customers' personal data (152-ФЗ) and where the policy is: shown beside the
/// consent on the sign-up page (`GET /v1/signup/notice`) and on the cashier's enrolment form.
/// Both absent when the chain has not configured them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PersonalDataNotice {
    /// The operator's name as the law wants it on the form (`ООО «Ромашка», ИНН 7700000000`).
    pub operator: Option<String>,
    /// The privacy policy's address (http or https).
    pub policy_url: Option<String>,
}

/// The answer to every accepted sign-up, whether the phone was new or already registered: the
/// form must not tell a stranger who is a customer. The card number reaches the person through
/// the chain's own channel (a `customer_created` webhook to its SMS or email service).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignupAccepted {
    /// Always `received`.
    pub status: String,
    /// A sentence the website may show.
    pub message: String,
    /// Where the new customer adds the card to a phone's wallet, when the chain set a wallet
    /// up: the self-service page (`/me#wallet`), which signs in with an SMS code first. The
    /// same for every sign-up, so it tells nobody whether the phone was already known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<String>,
}
