//! Keyset paging for the back office's lists (receipts, customers, conflicts, webhook
//! deliveries, tills, gift cards): `limit` rows at a time and an opaque `cursor` naming the
//! last row answered, never an offset.
//!
//! Each list orders its rows by a key that is unique and never changes for a row (an id, or a
//! time with an id breaking ties), and a page is the rows strictly past the cursor's key in
//! that order (`WHERE key < $n` newest first, `key > $n` oldest first). So a walk answers every
//! row that existed when it began exactly once, whatever is inserted meanwhile: a new row is
//! not numbered into the middle of the rows already answered and cannot push one from one page
//! into the next, as it would with `OFFSET`. Where the key grows with time, a newest-first
//! walk leaves out rows written after it began (a new walk starts with them) and an
//! oldest-first walk answers them at its end.
//!
//! A cursor is base64url (no padding) of a JSON array: the list's name, then the key's
//! values. The name makes a cursor of one list useless in another; anything that does not
//! decode to the list's shape is `invalid_cursor`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{invalid_with, CloudError};
use crate::cloud::db::{Row, Value};

/// Rows a page holds when the caller names no `limit`.
pub const DEFAULT_PAGE: i64 = 100;
/// The most rows one page holds.
pub const MAX_PAGE: i64 = 1000;
/// A cursor longer than this is not one of ours (the longest key is a time and two ids).
const MAX_CURSOR_LEN: usize = 1024;

/// Which page of a list to answer: at most `limit` rows past `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    /// The caller's cursor as sent; each list decodes it against its own key.
    pub after: Option<String>,
}

impl Default for Page {
    fn default() -> Page {
        Page { limit: DEFAULT_PAGE, after: None }
    }
}

impl Page {
    /// Reads the query's `limit` and `cursor` as sent. The limit is read here, not by serde,
    /// so `limit=abc` is the same `invalid_limit` as `limit=0` and says what to send.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Page, CloudError> {
        let limit = match limit.map(str::trim) {
            None => DEFAULT_PAGE,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => {
                    return Err(invalid_with(
                        "invalid_limit",
                        format!("limit must be a whole number from 1 to {MAX_PAGE} (default {DEFAULT_PAGE})"),
                        vec![("max", MAX_PAGE.to_string()), ("default", DEFAULT_PAGE.to_string())],
                    ))
                }
            },
        };
        let after = match cursor {
            None | Some("") => None,
            Some(c) if c.len() > MAX_CURSOR_LEN => return Err(bad_cursor()),
            Some(c) => Some(c.to_owned()),
        };
        Ok(Page { limit, after })
    }

    /// The rows to ask the database for: one more than the page, to learn whether a next
    /// page exists without a second query.
    pub(crate) fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// The cursor's key for list `list`, checked against the key's shape (`Int` or `Text` per
    /// column, as in `shape`); `None` when the walk starts at the beginning.
    pub(crate) fn key(&self, list: &str, shape: &[KeyPart]) -> Result<Option<Vec<Value>>, CloudError> {
        let Some(cursor) = &self.after else { return Ok(None) };
        let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).map_err(|_| bad_cursor())?;
        let items: Vec<serde_json::Value> = serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?;
        let Some((name, values)) = items.split_first() else { return Err(bad_cursor()) };
        if name.as_str() != Some(list) || values.len() != shape.len() {
            return Err(bad_cursor());
        }
        values
            .iter()
            .zip(shape)
            .map(|(value, part)| match (part, value) {
                (KeyPart::Int, serde_json::Value::Number(n)) => n.as_i64().map(Value::Int).ok_or_else(bad_cursor),
                (KeyPart::Text, serde_json::Value::String(s)) => Ok(Value::Text(s.clone())),
                _ => Err(bad_cursor()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Cuts the `fetch()` rows read to the page, and names the cursor of the next page (the
    /// key of the page's last row), or `None` when this is the last page.
    pub(crate) fn finish<T>(&self, list: &str, mut rows: Vec<T>, key_of: impl Fn(&T) -> Vec<Value>) -> Paged<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        if rows.len() <= limit {
            return Paged { items: rows, next_cursor: None };
        }
        rows.truncate(limit);
        let next_cursor = rows.last().map(|last| encode(list, &key_of(last)));
        Paged { items: rows, next_cursor }
    }
}

/// One column of a list's key, as a cursor carries it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyPart {
    Int,
    Text,
}

/// One page of a list and the cursor of the next (`None` on the last page).
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    /// The same page with each row turned into what the list answers.
    pub(crate) fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Paged<U>, E> {
        let items = self.items.into_iter().map(f).collect::<Result<Vec<_>, E>>()?;
        Ok(Paged { items, next_cursor: self.next_cursor })
    }
}

/// The values of a row's key columns (by position in the list's `SELECT`), for its cursor.
pub(crate) fn key_columns(row: &Row, columns: &[usize]) -> Vec<Value> {
    columns.iter().map(|&i| row.0.get(i).cloned().unwrap_or(Value::Null)).collect()
}

fn encode(list: &str, key: &[Value]) -> String {
    let mut items = vec![serde_json::Value::from(list)];
    items.extend(key.iter().map(|value| match value {
        Value::Int(n) => serde_json::Value::from(*n),
        Value::Text(s) => serde_json::Value::from(s.as_str()),
        Value::Null => serde_json::Value::Null,
    }));
    URL_SAFE_NO_PAD.encode(serde_json::Value::Array(items).to_string())
}

fn bad_cursor() -> CloudError {
    invalid_with(
        "invalid_cursor",
        "cursor is not one this list gave out; send the next_cursor of the previous page as it was, or leave cursor out to start from the first page",
        Vec::new(),
    )
}

/// The `WHERE` clause of a page: the list's filters (`column = value`) and, past a cursor, the
/// keyset condition `(key columns) < (cursor's key)` (`>` for an ascending list). Placeholders
/// are numbered in the order they appear, as SQLite's binding needs (see `db`).
pub(crate) struct PageQuery {
    pub conditions: Vec<String>,
    pub params: Vec<Value>,
}

impl PageQuery {
    pub fn new() -> PageQuery {
        PageQuery { conditions: Vec::new(), params: Vec::new() }
    }

    fn mark(&mut self, value: Value) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }

    /// `column = value`.
    pub fn filter(&mut self, column: &str, value: impl Into<Value>) -> &mut PageQuery {
        let mark = self.mark(value.into());
        self.conditions.push(format!("{column} = {mark}"));
        self
    }

    /// A condition of the caller's, built with the parameters so far (it appends its own and
    /// numbers them after those).
    pub fn condition(&mut self, build: impl FnOnce(&mut Vec<Value>) -> String) -> &mut PageQuery {
        let condition = build(&mut self.params);
        self.conditions.push(condition);
        self
    }

    /// Rows past `key` in the list's order over `columns`; nothing when the walk starts.
    pub fn after(&mut self, columns: &[&str], key: Option<Vec<Value>>, descending: bool) -> &mut PageQuery {
        let Some(key) = key else { return self };
        let marks: Vec<String> = key.into_iter().map(|v| self.mark(v)).collect();
        let op = if descending { "<" } else { ">" };
        self.conditions.push(format!("({}) {op} ({})", columns.join(", "), marks.join(", ")));
        self
    }

    /// ` WHERE …` (empty without conditions), then ` LIMIT $n` bound to `fetch` goes after the
    /// caller's `ORDER BY`: this answers both parts.
    pub fn clauses(&mut self, order_by: &str, fetch: i64) -> String {
        let where_ = if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        };
        let mark = self.mark(Value::Int(fetch));
        format!("{where_} ORDER BY {order_by} LIMIT {mark}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: CloudError) -> &'static str {
        match e {
            CloudError::InvalidWith { code, .. } => code,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn limits_outside_one_to_a_thousand_are_refused() {
        assert_eq!(Page::parse(None, None).unwrap(), Page::default());
        assert_eq!(Page::parse(Some("1000"), None).unwrap().limit, 1000);
        assert_eq!(Page::parse(Some("1"), None).unwrap().limit, 1);
        for bad in ["0", "-1", "1001", "abc", "", "1.5", "99999999999999999999"] {
            assert_eq!(code(Page::parse(Some(bad), None).unwrap_err()), "invalid_limit", "{bad}");
        }
    }

    #[test]
    fn a_cursor_round_trips_and_nothing_else_decodes() {
        let page = Page { limit: 2, after: None };
        let paged = page.finish("tills", vec![(5, "a"), (6, "b"), (7, "c")], |(n, s)| {
            vec![Value::Int(*n), Value::Text((*s).to_owned())]
        });
        assert_eq!(paged.items.len(), 2);
        let cursor = paged.next_cursor.expect("a next page");
        let next = Page::parse(None, Some(&cursor)).unwrap();
        let shape = [KeyPart::Int, KeyPart::Text];
        assert_eq!(next.key("tills", &shape).unwrap(), Some(vec![Value::Int(6), Value::Text("b".into())]));
        // Another list's cursor, a wrong shape, and garbage are all `invalid_cursor`.
        assert_eq!(code(next.key("gift_cards", &shape).unwrap_err()), "invalid_cursor");
        assert_eq!(code(next.key("tills", &[KeyPart::Int]).unwrap_err()), "invalid_cursor");
        assert_eq!(code(next.key("tills", &[KeyPart::Text, KeyPart::Text]).unwrap_err()), "invalid_cursor");
        for garbage in ["!!!", "bm90IGpzb24", "W10", "e30", &"A".repeat(2000)] {
            let parsed = Page::parse(None, Some(garbage));
            let error = parsed.and_then(|p| p.key("tills", &shape));
            assert_eq!(code(error.unwrap_err()), "invalid_cursor", "{garbage}");
        }
        // The last page names no cursor.
        assert!(page.finish("tills", vec![(1, "a")], |_| Vec::new()).next_cursor.is_none());
    }

    #[test]
    fn placeholders_follow_the_order_they_appear_in() {
        let mut query = PageQuery::new();
        query.filter("webhook_id", "w").after(&["created_at", "id"], Some(vec![Value::Int(1), "x".into()]), true);
        let clauses = query.clauses("created_at DESC, id DESC", 11);
        assert_eq!(
            clauses,
            " WHERE webhook_id = $1 AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        assert_eq!(query.params.len(), 4);
    }
}
