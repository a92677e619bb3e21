//! Sentences the servers keep or answer that are not errors: a conflict's account of what
//! happened and what was done, why an imported line was skipped, why a webhook delivery
//! failed. Each is a [`Sentence`]: a code, the values it names and the English, so that a
//! reader gets it in their language when it is read ([`Sentence::say`]), from the Russian
//! templates in [`super::messages_ru`] (the error codes' templates serve too: a line refused
//! for an `invalid_phone` says what the API would have said).
//!
//! What is stored keeps the English (for English readers, for tools reading the database, and
//! because rows written before codes existed have nothing else); the code and values go beside
//! it ([`Sentence::to_json`]). A stored sentence without a code, or one whose Russian template
//! cannot be filled, is read in English.

use std::fmt;

use serde_json::{json, Value};

use super::i18n::Lang;

/// A sentence in English with what it takes to say it in another language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// Names its templates in `messages_ru` (`conflict_overdraft`, `import_phone_taken`, …).
    pub code: String,
    pub english: String,
    /// The values the sentence names, under the names the templates use.
    pub values: Vec<(String, String)>,
}

impl Sentence {
    pub fn new(code: &str, english: impl Into<String>) -> Sentence {
        Sentence { code: code.to_owned(), english: english.into(), values: Vec::new() }
    }

    /// An English sentence with no code: read in English in every language (what old rows are).
    pub fn english_only(english: impl Into<String>) -> Sentence {
        Sentence::new("", english)
    }

    /// Adds a value the sentence names.
    pub fn with(mut self, name: &str, value: impl ToString) -> Sentence {
        self.values.push((name.to_owned(), value.to_string()));
        self
    }

    /// An error's sentence (its code, English and values): a skipped line says what the API
    /// would have answered for the same input.
    pub fn of_error(error: &super::ApiError) -> Sentence {
        Sentence {
            code: error.code.to_owned(),
            english: error.message.clone(),
            values: error.params.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect(),
        }
    }

    /// The sentence in `lang`: English as written, Russian from its template when one fits.
    pub fn say(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.english.clone(),
            Lang::Ru => super::messages_ru::render_sentence(&self.code, &self.values).unwrap_or_else(|| {
                tracing::debug!(code = %self.code, "no Russian template fits this sentence; said in English");
                self.english.clone()
            }),
        }
    }

    /// Code and values as stored beside the English: `{"code": …, "values": {…}}`.
    pub fn to_json(&self) -> Value {
        let values: serde_json::Map<String, Value> =
            self.values.iter().map(|(name, value)| (name.clone(), Value::String(value.clone()))).collect();
        json!({ "code": self.code, "values": values })
    }

    /// The sentence stored as `english` with `said` (what [`Sentence::to_json`] made) beside it;
    /// without `said`, or with one that is not such an object, the English alone.
    pub fn from_stored(english: String, said: Option<&Value>) -> Sentence {
        let Some(said) = said else { return Sentence::english_only(english) };
        let code = said.get("code").and_then(Value::as_str).unwrap_or_default().to_owned();
        let values = said
            .get("values")
            .and_then(Value::as_object)
            .map(|values| {
                values.iter().filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned()))).collect()
            })
            .unwrap_or_default();
        Sentence { code, english, values }
    }
}

/// The English, as logs and the command line print it.
impl fmt::Display for Sentence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.english)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_survives_storage_and_old_rows_stay_english() {
        let said = Sentence::new("conflict_overdraft", "receipt r-1 spent 80 points while 20 were available")
            .with("receipt", "r-1")
            .with("redeemed", 80)
            .with("available", 20);
        let stored = said.to_json();
        let read = Sentence::from_stored(said.english.clone(), Some(&stored));
        let sorted = |s: &Sentence| {
            let mut values = s.values.clone();
            values.sort();
            (s.code.clone(), s.english.clone(), values)
        };
        assert_eq!(sorted(&read), sorted(&said));
        assert_eq!(read.say(Lang::En), said.english);
        let russian = read.say(Lang::Ru);
        assert!(russian.contains("r-1") && russian.contains("80") && russian.contains("20"), "{russian}");
        assert!(!russian.contains("spent"), "{russian}");

        let old = Sentence::from_stored("an old row's sentence".into(), None);
        assert_eq!(old.say(Lang::Ru), "an old row's sentence");
        let odd = Sentence::from_stored("English".into(), Some(&json!("not an object")));
        assert_eq!(odd.say(Lang::Ru), "English");
        // A template missing a value it names falls back to the English, never half a sentence.
        let short = Sentence::new("conflict_overdraft", "English").with("receipt", "r-1");
        assert_eq!(short.say(Lang::Ru), "English");
    }
}
