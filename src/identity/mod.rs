//! TEMPORARY signature stub; replaced by the identity branch.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("x")]
    InvalidPhone(String),
}
impl IdentityError {
    pub fn code(&self) -> &'static str {
        todo!()
    }
}
pub struct Phone(String);
impl Phone {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
pub fn normalize_phone(_i: &str, _r: &str) -> Result<Phone, IdentityError> {
    todo!()
}
pub fn normalize_card(_i: &str) -> Option<String> {
    todo!()
}
pub fn normalize_email(_i: &str) -> Option<String> {
    todo!()
}
pub fn card_number(_p: &str, _s: u64, _w: usize) -> String {
    todo!()
}
pub enum SearchKey {
    Card(String),
    Qr(String),
    Phone(Phone),
    PhoneSuffix(String),
    Email(String),
}
pub fn classify(_q: &str, _r: &str) -> Vec<SearchKey> {
    todo!()
}
pub fn matched_by_name(_k: &SearchKey) -> &'static str {
    todo!()
}
pub fn card_qr_payload(_c: &str) -> String {
    todo!()
}
pub fn parse_qr_payload(_c: &str) -> Option<String> {
    todo!()
}
pub fn render_svg(_c: &str) -> Result<String, IdentityError> {
    todo!()
}
pub fn render_png(_c: &str, _m: u32) -> Result<Vec<u8>, IdentityError> {
    todo!()
}
pub fn decode_image(_c: &[u8]) -> Result<String, IdentityError> {
    todo!()
}
pub fn mask_phone(_c: &str) -> String {
    todo!()
}
