//! Referral codes: the code a customer gives friends (CONTRACTS.md §campaigns, `referral`).
//!
//! A code is eight characters of an alphabet without look-alikes (no `0`/`O`, `1`/`I`/`L`):
//! seven random ones (31^7 ≈ 2.7·10^10 codes) and a check character (a weighted sum mod 31),
//! so a mistyped character or two swapped characters are caught where they are typed — at an offline
//! till too, which cannot ask the cloud whether a code exists. Case, spaces and dashes do not
//! matter (`k7qx-4m2p` is `K7QX4M2P`). This module makes and reads codes; whose a code is,
//! and whether it exists, is the cloud's.

use super::fields::FieldError;

/// The characters of a code.
pub const REFERRAL_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Characters in a code, the check character included.
pub const REFERRAL_CODE_LEN: usize = 8;
/// The longest text read as a code before it is normalised (a code with separators).
const MAX_INPUT_LEN: usize = 32;

fn index(c: u8) -> Option<usize> {
    REFERRAL_ALPHABET.iter().position(|&a| a == c)
}

/// Σ (position × index) over the characters, positions counted from 1: a code is valid when
/// this is 0 modulo 31. The alphabet's size is prime and the weights 1–8 are distinct, so any
/// one wrong character and any two characters swapped change the sum (as ISBN-10 does mod 11).
fn weighted_sum(indexes: &[usize]) -> usize {
    indexes.iter().enumerate().map(|(at, i)| (at + 1) * i).sum()
}

/// A code from seven random numbers (each taken modulo the alphabet's size): the seven
/// characters and their check character.
pub fn referral_code_from(random: [u32; REFERRAL_CODE_LEN - 1]) -> String {
    let n = REFERRAL_ALPHABET.len();
    let body: Vec<usize> = random.iter().map(|r| *r as usize % n).collect();
    // The check's weight is 8, and 8 × 4 = 32 ≡ 1 (mod 31): check = −4 × Σ.
    let check = (n - (4 * weighted_sum(&body)) % n) % n;
    body.iter().chain(std::iter::once(&check)).map(|&i| char::from(REFERRAL_ALPHABET[i])).collect()
}

/// The stored form of a code someone typed: upper case, without spaces and dashes, eight
/// characters of the alphabet with a correct check character. Anything else is
/// `invalid_referral_code`.
pub fn normalize_referral_code(input: &str) -> Result<String, FieldError> {
    let refuse = || {
        FieldError {
        code: "invalid_referral_code",
        message: "the friend's code must be 8 letters and digits as the friend got it (for example K7QX4M2W); check it, or leave it out".to_owned(),
        params: vec![("field", "referral_code".to_owned())],
    }
    };
    if input.len() > MAX_INPUT_LEN {
        return Err(refuse());
    }
    let code: String =
        input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    let indexes: Option<Vec<usize>> = code.bytes().map(index).collect();
    match indexes {
        Some(indexes)
            if indexes.len() == REFERRAL_CODE_LEN && weighted_sum(&indexes).is_multiple_of(REFERRAL_ALPHABET.len()) =>
        {
            Ok(code)
        }
        _ => Err(refuse()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_codes_read_back_in_any_case_and_spacing() {
        for seed in 0..500u32 {
            let random = [seed, seed * 7, seed * 13 + 1, seed * 31, seed ^ 0x55, seed * 3 + 2, seed / 2];
            let code = referral_code_from(random);
            assert_eq!(code.len(), REFERRAL_CODE_LEN);
            assert!(code.bytes().all(|b| REFERRAL_ALPHABET.contains(&b)), "{code}");
            assert_eq!(normalize_referral_code(&code).as_deref(), Ok(code.as_str()));
            let typed = format!(" {}-{} ", code[..4].to_lowercase(), &code[4..]);
            assert_eq!(normalize_referral_code(&typed).as_deref(), Ok(code.as_str()), "{typed}");
        }
    }

    #[test]
    fn one_wrong_character_or_two_swapped_characters_are_caught() {
        let code = referral_code_from([3, 14, 15, 9, 26, 5, 30]);
        let bytes = code.as_bytes();
        for at in 0..REFERRAL_CODE_LEN {
            for &other in REFERRAL_ALPHABET.iter().filter(|&&c| c != bytes[at]) {
                let mut typo = bytes.to_vec();
                typo[at] = other;
                let typo = String::from_utf8(typo).unwrap();
                assert!(normalize_referral_code(&typo).is_err(), "{typo} for {code}");
            }
        }
        for first in 0..REFERRAL_CODE_LEN {
            for second in first + 1..REFERRAL_CODE_LEN {
                if bytes[first] == bytes[second] {
                    continue;
                }
                let mut swapped = bytes.to_vec();
                swapped.swap(first, second);
                let swapped = String::from_utf8(swapped).unwrap();
                assert!(normalize_referral_code(&swapped).is_err(), "{swapped} for {code}");
            }
        }
    }

    #[test]
    fn anything_else_is_refused_with_its_code() {
        for bad in ["", "K7QX4M2", "K7QX4M2PA", "K7QX4M20", "K7QX4MIP", "К7QX4M2P", "🙂🙂🙂🙂🙂🙂🙂🙂", &"A".repeat(40)]
        {
            let error = normalize_referral_code(bad).expect_err(bad);
            assert_eq!(error.code, "invalid_referral_code", "{bad}");
        }
    }
}
