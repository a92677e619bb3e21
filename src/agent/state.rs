//! What the agent's handlers, its MoySklad backend and its server share: the store, the
//! program in force, the sync worker's handle, the security policy and the page's sessions.
//! It lives apart from the HTTP module so that the pieces that are not HTTP can hold it;
//! `api` adds only the 503 answer for a missing store.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use crate::agent::api::security::SecurityPolicy;
use crate::agent::session::Sessions;
use crate::agent::store::{Offline, Store};
use crate::agent::sync::SyncHandle;
use crate::agent::token::AgentToken;
use crate::rules::Program;

/// Whether this agent is its own authority or a cache of a cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Standalone,
    Connected,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Standalone => "standalone",
            Mode::Connected => "connected",
        }
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database, or why it could not be opened (then data endpoints answer 503).
    pub storage: Result<Store, Arc<String>>,
    /// The program in force; a connected agent swaps it when the cloud sends a new version.
    pub program: Arc<RwLock<Arc<Program>>>,
    pub token: AgentToken,
    /// A second key the MoySklad adapter accepts besides the token (`moysklad_key` in config).
    pub moysklad_key: Option<AgentToken>,
    pub security: Arc<SecurityPolicy>,
    pub mode: Mode,
    pub started: Instant,
    /// The sync worker, in connected mode.
    pub sync: Option<SyncHandle>,
    /// Where the sign-up QR code points; `None` for a standalone agent without `signup_url`.
    pub signup: Option<SignupTarget>,
    /// The personal-data operator and policy the cashier page's enrolment form names.
    pub personal_data: crate::wire::PersonalDataNotice,
    /// The cashier page's launch codes and sessions (in memory: a restart ends them).
    pub sessions: Arc<Sessions>,
    /// Where this till's own SMS codes go (`[sms]` in `config.toml`).
    pub sms: Arc<dyn crate::moysklad::CodeSender>,
}

/// The public sign-up page a receipt's sign-up QR code opens (see [`crate::identity::signup_link`]).
#[derive(Debug, Clone)]
pub struct SignupTarget {
    /// `signup_url` from `config.toml`, else the enrolled cloud's address.
    pub base: String,
    /// The store a code names when the request names none: the enrolled till's store.
    pub default_store: Option<String>,
}

impl AppState {
    /// `Some` when this till syncs with a cloud it cannot reach right now: spending points is
    /// then bounded (CONTRACTS.md §sync).
    pub fn offline(&self) -> Option<Offline> {
        let status = self.sync.as_ref()?.status();
        (status.state != crate::wire::SyncState::Online).then_some(Offline { last_online: status.last_success_at })
    }

    /// Tells the sync worker that a commit put something in the outbox.
    pub fn outbox_changed(&self) {
        if let Some(sync) = &self.sync {
            sync.wake();
        }
    }

    /// The program in force now (receipts keep the version that priced them).
    pub fn program(&self) -> Arc<Program> {
        match self.program.read() {
            Ok(program) => program.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts a new program version in force.
    pub fn set_program(&self, program: Program) {
        let mut slot = match self.program.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(program);
    }
}
