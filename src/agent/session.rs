//! The cashier page's sign-in (CONTRACTS.md §security): one-time launch codes and the browser sessions they
//! are exchanged for. The page never holds the long-lived agent token.
//!
//! 1. The tray or `loyalty-agent open` (which hold the token) ask for a launch code: 256 random
//!    bits, valid for [`LAUNCH_CODE_TTL`], good for one exchange.
//! 2. The browser opens `/launch/<code>`; the code becomes a session: a random id sent as an
//!    HttpOnly SameSite=Strict cookie, and a random CSRF value that only a same-origin script
//!    can read (`GET /v1/session`), since no CORS headers are ever sent to other origins.
//! 3. Every API call then carries the cookie and the CSRF header. A session lasts
//!    [`SESSION_TTL`] from its last use.
//!
//! Everything lives in memory: a restart of the agent ends every session, and the page says how
//! to open it again. This module reads no clock (callers pass `now`) and does no I/O, so its
//! rules are unit-tested directly. Secrets are compared in constant time, by walking every
//! entry with `subtle` rather than looking the presented value up.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use subtle::ConstantTimeEq;

/// How long a launch code may wait before it is exchanged.
pub const LAUNCH_CODE_TTL: Duration = Duration::from_secs(60);
/// How long a session lives after its last use (a cashier's shift, with room to spare).
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// The session cookie's name.
pub const COOKIE_NAME: &str = "loyalty_session";
/// The header that carries the CSRF value on every API call made with the cookie.
pub const CSRF_HEADER: &str = "x-loyalty-csrf";

/// At most this many launch codes wait at once; a new one pushes out the oldest. Codes are only
/// minted with the agent token, so this only bounds memory, it is not a defence.
const MAX_LAUNCH_CODES: usize = 64;
/// At most this many sessions live at once; a new one ends the least recently used.
const MAX_SESSIONS: usize = 64;
/// A used or expired launch code is remembered this long, so a second try is told "already
/// used" or "expired" rather than "unknown".
const REMEMBER_SPENT: Duration = Duration::from_secs(10 * 60);

/// A fresh secret: 32 bytes from the OS generator, hex-encoded (URL- and cookie-safe).
fn secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Why a launch code could not be exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    #[error("this link was not issued by this agent (or the agent restarted since)")]
    Unknown,
    #[error("this link has already been used")]
    Used,
    #[error("this link has expired (links work for 60 seconds)")]
    Expired,
}

/// A session as the API sees it once the cookie checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub csrf: String,
    pub expires_at: Instant,
}

/// What a request presented, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieCheck {
    /// The cookie names a live session (now extended); `csrf_ok` says whether the header matched.
    Valid { session: SessionView, csrf_ok: bool },
    /// The cookie names no live session: expired, ended, or from before a restart.
    Unknown,
}

struct LaunchCode {
    code: String,
    expires_at: Instant,
    used: bool,
}

struct Session {
    id: String,
    csrf: String,
    expires_at: Instant,
}

#[derive(Default)]
struct Inner {
    codes: Vec<LaunchCode>,
    sessions: Vec<Session>,
}

/// The launch codes and sessions of one agent process. Shared by all requests; the lock is
/// held only for a scan of at most a few dozen entries, never across an await.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions(<redacted>)")
    }
}

impl Sessions {
    pub fn new() -> Sessions {
        Sessions::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the lists half-written (each change is
        // one push or retain), so a poisoned lock is still safe to use.
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Mints a launch code valid for [`LAUNCH_CODE_TTL`] from `now`.
    pub fn new_launch_code(&self, now: Instant) -> String {
        let code = secret();
        let mut inner = self.lock();
        inner.codes.retain(|c| c.expires_at + REMEMBER_SPENT > now);
        if inner.codes.len() >= MAX_LAUNCH_CODES {
            inner.codes.remove(0);
        }
        inner.codes.push(LaunchCode { code: code.clone(), expires_at: now + LAUNCH_CODE_TTL, used: false });
        code
    }

    /// Exchanges a launch code for a new session: `(cookie value, session)`. A code works once,
    /// and only before it expires.
    pub fn exchange(&self, presented: &str, now: Instant) -> Result<(String, SessionView), LaunchError> {
        let mut inner = self.lock();
        inner.codes.retain(|c| c.expires_at + REMEMBER_SPENT > now);
        // Compare against every code, so the time taken does not depend on which one matched.
        let mut found = None;
        for (index, code) in inner.codes.iter().enumerate() {
            if same(&code.code, presented) {
                found = Some(index);
            }
        }
        let code = found.and_then(|index| inner.codes.get_mut(index)).ok_or(LaunchError::Unknown)?;
        if code.used {
            return Err(LaunchError::Used);
        }
        // Spent on any attempt, even a late one: a code is never good twice.
        code.used = true;
        if now >= code.expires_at {
            return Err(LaunchError::Expired);
        }
        inner.sessions.retain(|s| s.expires_at > now);
        if inner.sessions.len() >= MAX_SESSIONS {
            // The least recently used session ends (sessions slide, so the earliest expiry).
            if let Some(oldest) = (0..inner.sessions.len()).min_by_key(|&i| inner.sessions[i].expires_at) {
                inner.sessions.remove(oldest);
            }
        }
        let session = Session { id: secret(), csrf: secret(), expires_at: now + SESSION_TTL };
        let view = SessionView { csrf: session.csrf.clone(), expires_at: session.expires_at };
        let id = session.id.clone();
        inner.sessions.push(session);
        Ok((id, view))
    }

    /// Checks a session cookie and, when given, the CSRF header. A live session's life is
    /// extended to [`SESSION_TTL`] from `now` (sliding), whether or not the header matched:
    /// the cookie alone proves the browser, the header proves the page.
    pub fn check(&self, cookie: &str, csrf: Option<&str>, now: Instant) -> CookieCheck {
        let mut inner = self.lock();
        inner.sessions.retain(|s| s.expires_at > now);
        let mut found = None;
        for (index, session) in inner.sessions.iter().enumerate() {
            if same(&session.id, cookie) {
                found = Some(index);
            }
        }
        let Some(session) = found.and_then(|index| inner.sessions.get_mut(index)) else {
            return CookieCheck::Unknown;
        };
        session.expires_at = now + SESSION_TTL;
        let csrf_ok = csrf.is_some_and(|presented| same(&session.csrf, presented));
        CookieCheck::Valid {
            session: SessionView { csrf: session.csrf.clone(), expires_at: session.expires_at },
            csrf_ok,
        }
    }
}

/// The value of the cookie `name` in a `Cookie` request header, if present.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_launch_code_works_once() {
        let sessions = Sessions::new();
        let now = Instant::now();
        let code = sessions.new_launch_code(now);
        assert_eq!(code.len(), 64, "256 bits, hex");
        assert!(code.chars().all(|c| c.is_ascii_hexdigit()));
        let (cookie, view) = sessions.exchange(&code, now + Duration::from_secs(1)).unwrap();
        assert_ne!(cookie, view.csrf, "the cookie and the CSRF value are separate secrets");
        assert_eq!(sessions.exchange(&code, now + Duration::from_secs(2)), Err(LaunchError::Used));
        assert_eq!(sessions.exchange("0123", now), Err(LaunchError::Unknown));
        assert_eq!(sessions.exchange("", now), Err(LaunchError::Unknown));
        assert_ne!(sessions.new_launch_code(now), code, "codes are random");
    }

    #[test]
    fn a_launch_code_expires_after_a_minute_and_is_then_spent() {
        let sessions = Sessions::new();
        let now = Instant::now();
        let code = sessions.new_launch_code(now);
        assert_eq!(sessions.exchange(&code, now + LAUNCH_CODE_TTL), Err(LaunchError::Expired));
        assert_eq!(sessions.exchange(&code, now + LAUNCH_CODE_TTL), Err(LaunchError::Used));
        let late = sessions.new_launch_code(now);
        assert!(sessions.exchange(&late, now + LAUNCH_CODE_TTL - Duration::from_millis(1)).is_ok());
        // Long after, the code is forgotten altogether.
        let old = sessions.new_launch_code(now);
        assert_eq!(sessions.exchange(&old, now + Duration::from_secs(3600)), Err(LaunchError::Unknown));
    }

    #[test]
    fn a_session_needs_its_csrf_value_and_slides() {
        let sessions = Sessions::new();
        let now = Instant::now();
        let code = sessions.new_launch_code(now);
        let (cookie, view) = sessions.exchange(&code, now).unwrap();
        match sessions.check(&cookie, Some(&view.csrf), now) {
            CookieCheck::Valid { csrf_ok, .. } => assert!(csrf_ok),
            other => panic!("{other:?}"),
        }
        for wrong in [None, Some(""), Some("nope"), Some(cookie.as_str())] {
            match sessions.check(&cookie, wrong, now) {
                CookieCheck::Valid { csrf_ok, .. } => assert!(!csrf_ok, "{wrong:?}"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(sessions.check("not-a-session", Some(&view.csrf), now), CookieCheck::Unknown);
        assert_eq!(sessions.check(&view.csrf, Some(&view.csrf), now), CookieCheck::Unknown, "csrf is no cookie");

        // Used every 11 hours, it lives on; left alone for 12, it ends.
        let mut at = now;
        for _ in 0..3 {
            at += Duration::from_secs(11 * 3600);
            assert!(matches!(sessions.check(&cookie, Some(&view.csrf), at), CookieCheck::Valid { .. }));
        }
        assert_eq!(sessions.check(&cookie, Some(&view.csrf), at + SESSION_TTL), CookieCheck::Unknown);
    }

    #[test]
    fn memory_is_bounded() {
        let sessions = Sessions::new();
        let now = Instant::now();
        let first = sessions.new_launch_code(now);
        let (first_cookie, _) = sessions.exchange(&first, now).unwrap();
        for n in 0..(MAX_SESSIONS as u64 + 5) {
            let at = now + Duration::from_millis(n + 1);
            let code = sessions.new_launch_code(at);
            sessions.exchange(&code, at).unwrap();
        }
        let inner = sessions.lock();
        assert!(inner.sessions.len() <= MAX_SESSIONS);
        assert!(inner.codes.len() <= MAX_LAUNCH_CODES);
        drop(inner);
        assert_eq!(sessions.check(&first_cookie, None, now), CookieCheck::Unknown, "the oldest session went first");
    }

    #[test]
    fn cookie_header_parsing() {
        assert_eq!(cookie_value("loyalty_session=abc", COOKIE_NAME), Some("abc"));
        assert_eq!(cookie_value("a=1; loyalty_session=abc; b=2", COOKIE_NAME), Some("abc"));
        assert_eq!(cookie_value("xloyalty_session=abc", COOKIE_NAME), None);
        assert_eq!(cookie_value("", COOKIE_NAME), None);
        assert_eq!(cookie_value("garbage", COOKIE_NAME), None);
    }
}
