//! Reading a program a newer cloud sent: fields this build does not know are dropped, not fatal.
//!
//! `Program` refuses unknown fields (`deny_unknown_fields`), which is right where a person types
//! the program (`program.toml`, `PUT /v1/admin/program`): a typo must be an error, not a rule
//! silently ignored. A till, though, receives the program from the cloud, and a cloud upgraded
//! before its tills will send fields (a new kind of campaign, a new setting) an older agent has
//! never heard of; refusing the whole program there would stop the till taking any new version.
//! So the sync path reads through [`Program::from_cloud_json`], which removes each unknown field
//! serde names and reads again, and says which it removed so the caller can log them once.

use super::Program;
use serde_path_to_error::Segment;

/// More unknown fields than this is not a newer program but something else; it is refused.
const MAX_IGNORED: usize = 256;

impl Program {
    /// Reads a program the cloud sent, dropping the fields this build does not know. Answers the
    /// program and the paths of the dropped fields (`campaigns[0].effect.free_gift`); any other
    /// problem (a wrong type, a missing `id`) is still an error.
    pub fn from_cloud_json(mut value: serde_json::Value) -> Result<(Program, Vec<String>), serde_json::Error> {
        let mut ignored = Vec::new();
        loop {
            let error = match serde_path_to_error::deserialize::<_, Program>(&value) {
                Ok(program) => return Ok((program, ignored)),
                Err(error) => error,
            };
            let path: Vec<Segment> = error.path().iter().cloned().collect();
            let inner = error.into_inner();
            let text = inner.to_string();
            let Some(name) = unknown_field(&text) else { return Err(inner) };
            if ignored.len() >= MAX_IGNORED || !remove(&mut value, &path, name) {
                return Err(inner);
            }
            ignored.push(path_text(&path, name));
        }
    }
}

/// The field serde named in "unknown field `x`, expected …" (its wording in every format).
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(name, _)| name)
}

/// Removes `name` from the object at `path`. serde_path_to_error's path may or may not end in
/// the unknown key itself (it records the key as it is read), so both shapes are handled.
fn remove(value: &mut serde_json::Value, path: &[Segment], name: &str) -> bool {
    let parent = match path.split_last() {
        Some((Segment::Map { key }, parent)) if key == name => parent,
        _ => path,
    };
    let mut at = value;
    for segment in parent {
        at = match (segment, at) {
            (Segment::Map { key }, serde_json::Value::Object(map)) => match map.get_mut(key) {
                Some(next) => next,
                None => return false,
            },
            (Segment::Seq { index }, serde_json::Value::Array(items)) => match items.get_mut(*index) {
                Some(next) => next,
                None => return false,
            },
            _ => return false,
        };
    }
    match at {
        serde_json::Value::Object(map) => map.remove(name).is_some(),
        _ => false,
    }
}

fn path_text(path: &[Segment], name: &str) -> String {
    let mut text = String::new();
    let parent = match path.split_last() {
        Some((Segment::Map { key }, parent)) if key == name => parent,
        _ => path,
    };
    for segment in parent {
        match segment {
            Segment::Map { key } => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Seq { index } => text.push_str(&format!("[{index}]")),
            Segment::Enum { variant } => text.push_str(variant),
            Segment::Unknown => text.push('?'),
        }
    }
    if !text.is_empty() {
        text.push('.');
    }
    text.push_str(name);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn newer_program() -> serde_json::Value {
        json!({
            "accrual_percent": 7,
            "future_thing": 1,
            "tiers": [{"name": "gold", "threshold": 100, "colour": "gold"}],
            "campaigns": [{
                "id": "coffee-x2", "effect": {"points_multiplier": 2},
                "conditions": {"categories": ["coffee"], "weather": "rain"},
                "audience": {"segment": 4}
            }]
        })
    }

    #[test]
    fn a_till_reads_a_newer_clouds_program_and_names_what_it_dropped() {
        let (program, ignored) = Program::from_cloud_json(newer_program()).expect("lenient read");
        assert_eq!(program.accrual_percent, 7);
        assert_eq!(program.tiers[0].name, "gold");
        assert_eq!(program.campaigns[0].conditions.categories, ["coffee"]);
        assert_eq!(program.campaigns[0].effect.points_multiplier, Some(2));
        let mut ignored = ignored;
        ignored.sort();
        assert_eq!(
            ignored,
            ["campaigns[0].audience", "campaigns[0].conditions.weather", "future_thing", "tiers[0].colour"]
        );
    }

    #[test]
    fn the_strict_readers_still_refuse_unknown_fields() {
        let strict = serde_json::from_value::<Program>(json!({"future_thing": 1})).expect_err("strict JSON");
        assert!(strict.to_string().contains("future_thing"), "{strict}");
        let nested = serde_json::from_value::<Program>(newer_program()).expect_err("strict JSON");
        assert!(nested.to_string().starts_with("unknown field"), "{nested}");
        assert!(toml::from_str::<Program>("future_thing = 1").is_err());
    }

    #[test]
    fn other_problems_are_still_errors() {
        assert!(Program::from_cloud_json(json!({"accrual_percent": "five"})).is_err());
        assert!(Program::from_cloud_json(json!({"campaigns": [{"effect": {}}]})).is_err(), "a campaign needs an id");
        assert!(Program::from_cloud_json(json!("a program")).is_err());
        let (program, ignored) = Program::from_cloud_json(json!({})).expect("the default program");
        assert_eq!((program, ignored), (Program::default(), Vec::<String>::new()));
    }
}
