//! Native request bodies as the rules engine takes them: one conversion for the agent and the
//! cloud (and so for the MoySklad adapter on both), so a quantity or a `redeem` word is read
//! the same way everywhere.

use crate::rules::{CalcLine, Money, Quantity, Redeem, ReturnLineRequest, RulesError};

use super::{ReceiptLineInput, RedeemInput, ReturnLineInput};

/// A receipt's lines; a quantity with more than 3 decimals is refused.
pub fn calc_lines(lines: &[ReceiptLineInput]) -> Result<Vec<CalcLine>, RulesError> {
    lines
        .iter()
        .map(|line| {
            Ok(CalcLine {
                sku: line.sku.clone(),
                name: line.name.clone(),
                category: line.category.clone(),
                quantity: Quantity::parse(&line.quantity.0)?,
                price: Money(line.price),
            })
        })
        .collect()
}

/// Points to spend: none, a number, or `"max"` (any case). `Err` carries any other word.
pub fn redeem(input: Option<&RedeemInput>) -> Result<Redeem, &str> {
    match input {
        None => Ok(Redeem::None),
        Some(RedeemInput::Points(points)) => Ok(Redeem::Points(*points)),
        Some(RedeemInput::Word(word)) if word.eq_ignore_ascii_case("max") => Ok(Redeem::Max),
        Some(RedeemInput::Word(word)) => Err(word),
    }
}

/// The lines a return names.
pub fn return_lines(lines: &[ReturnLineInput]) -> Result<Vec<ReturnLineRequest>, RulesError> {
    lines
        .iter()
        .map(|line| {
            Ok(ReturnLineRequest {
                sku: line.sku.clone(),
                line: line.line,
                quantity: Quantity::parse(&line.quantity.0)?,
            })
        })
        .collect()
}
