//! Largest-remainder apportionment: splitting a whole number over lines in proportion to
//! weights so the shares add up exactly.
//!
//! Receipts print per-line discounts and returns reverse per-line points, so every receipt-level
//! figure (a promo, the points discount, redeemed and earned points) is split with this one
//! function: no rounding drift between the receipt and its lines, ever.

use super::RulesError;

/// Splits `total` over `weights` in proportion: each share is `floor(total × w / Σw)`, and the
/// units left over go one each to the largest fractional parts (ties: lower index first).
///
/// Requires `0 ≤ total ≤ Σ weights` (negative weights count as 0). Under that condition no share
/// exceeds its weight, which is what keeps a line from going below 0 when the weights are the
/// lines' amounts. A caller breaking the condition gets `Overflow`, never a panic.
pub(crate) fn spread(total: i64, weights: &[i64]) -> Result<Vec<i64>, RulesError> {
    let weight_sum: i128 = weights.iter().map(|&w| i128::from(w.max(0))).sum();
    let total_wide = i128::from(total);
    if total_wide < 0 || total_wide > weight_sum {
        return Err(RulesError::Overflow);
    }
    if total == 0 {
        return Ok(vec![0; weights.len()]);
    }

    struct Share {
        index: usize,
        weight: i128,
        floor: i128,
        remainder: i128,
    }
    let mut shares: Vec<Share> = weights
        .iter()
        .enumerate()
        .map(|(index, &w)| {
            let weight = i128::from(w.max(0));
            // total ≤ 2^63 and weight < 2^63, so the product fits an i128 comfortably.
            let scaled = total_wide * weight;
            Share { index, weight, floor: scaled / weight_sum, remainder: scaled % weight_sum }
        })
        .collect();

    let mut left = total_wide - shares.iter().map(|share| share.floor).sum::<i128>();
    shares.sort_by(|a, b| b.remainder.cmp(&a.remainder).then(a.index.cmp(&b.index)));
    // One pass suffices: the leftover is smaller than the number of non-zero remainders, and a
    // share with a non-zero remainder is below its weight. The room check is belt and braces.
    for share in shares.iter_mut() {
        if left == 0 {
            break;
        }
        if share.floor < share.weight {
            share.floor += 1;
            left -= 1;
        }
    }
    if left != 0 {
        return Err(RulesError::Overflow);
    }
    shares.sort_by_key(|share| share.index);
    shares.into_iter().map(|share| i64::try_from(share.floor).map_err(|_| RulesError::Overflow)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_exactly_with_the_largest_remainders() {
        assert_eq!(spread(100, &[100, 100, 100]), Ok(vec![34, 33, 33]));
        assert_eq!(spread(2, &[1, 1, 1]), Ok(vec![1, 1, 0]));
        assert_eq!(spread(10, &[5, 0, 15]), Ok(vec![3, 0, 7]));
        // 7 × 3/10 = 2.1 and 7 × 7/10 = 4.9: the larger fraction gets the spare unit.
        assert_eq!(spread(7, &[3, 7]), Ok(vec![2, 5]));
        assert_eq!(spread(0, &[3, 7]), Ok(vec![0, 0]));
        assert_eq!(spread(10, &[3, 7]), Ok(vec![3, 7]));
    }

    #[test]
    fn refuses_what_cannot_be_placed() {
        assert_eq!(spread(11, &[3, 7]), Err(RulesError::Overflow));
        assert_eq!(spread(-1, &[3, 7]), Err(RulesError::Overflow));
        assert_eq!(spread(1, &[]), Err(RulesError::Overflow));
        assert_eq!(spread(0, &[]), Ok(vec![]));
        assert_eq!(spread(1, &[-5, 1]), Ok(vec![0, 1]));
    }

    #[test]
    fn huge_values_do_not_overflow() {
        assert_eq!(spread(i64::MAX, &[i64::MAX]), Ok(vec![i64::MAX]));
        let halves = spread(i64::MAX - 1, &[i64::MAX, i64::MAX]).expect("fits");
        assert_eq!(halves.iter().map(|&h| i128::from(h)).sum::<i128>(), i128::from(i64::MAX - 1));
    }

    proptest! {
        #[test]
        fn shares_add_up_and_stay_within_their_weights(
            weights in prop::collection::vec(0i64..1_000_000_000, 1..30),
            fraction in 0u32..=1000,
        ) {
            let sum: i64 = weights.iter().sum();
            let total = i64::try_from(i128::from(sum) * i128::from(fraction) / 1000).expect("below the sum");
            let shares = spread(total, &weights).expect("within the weights");
            prop_assert_eq!(shares.iter().sum::<i64>(), total);
            for (share, weight) in shares.iter().zip(&weights) {
                prop_assert!(*share >= 0 && share <= weight);
            }
        }
    }
}
