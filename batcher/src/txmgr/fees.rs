//! The fees a transaction offers: first from what the L1 asks of its next block, then bumped
//! for a replacement, never past the configured caps.

use super::TxManagerConfig;
use crate::BlobFees;

/// What the L1 asks of its next block, read before each offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeQuote {
    /// The next block's base fee per gas (`eth_feeHistory`).
    pub base_fee: u128,
    /// The priority fee the node suggests (`eth_maxPriorityFeePerGas`).
    pub tip: u128,
    /// The next block's blob base fee (`eth_blobBaseFee`; zero when not asked, for a
    /// transaction without blobs).
    pub blob_base_fee: u128,
}

impl FeeQuote {
    /// The fees a new transaction offers at this quote, before the caps: the suggested tip
    /// (at least `min_tip`), twice the base fee on top of it, and twice the blob base fee, so
    /// that the offer holds through a few blocks of rising fees. A transaction without blobs
    /// offers no blob fee.
    pub fn offer(&self, min_tip: u128, blobs: bool) -> BlobFees {
        let tip = self.tip.max(min_tip);
        BlobFees {
            max_fee_per_gas: self.base_fee.saturating_mul(2).saturating_add(tip),
            max_priority_fee_per_gas: tip,
            max_fee_per_blob_gas: if blobs { self.blob_base_fee.saturating_mul(2).max(1) } else { 0 },
        }
    }
}

/// `value` raised by `percent`, rounded up, and by at least one wei: what a node takes as a
/// replacement of a transaction offering `value`.
pub(crate) fn raise(value: u128, percent: u64) -> u128 {
    let bump = value.saturating_mul(u128::from(percent)).div_ceil(100).max(1);
    value.saturating_add(bump)
}

/// The caps of `config` applied to a first offer: the max fee and blob fee no higher than
/// their caps, the tip no higher than the max fee. Answers the capped fees, and whether a cap
/// cut them.
pub(crate) fn capped(offer: BlobFees, config: &TxManagerConfig) -> (BlobFees, bool) {
    let max_fee_per_gas = offer.max_fee_per_gas.min(u128::from(config.max_fee_per_gas_cap_wei));
    let max_fee_per_blob_gas =
        offer.max_fee_per_blob_gas.min(u128::from(config.max_fee_per_blob_gas_cap_wei));
    let fees = BlobFees {
        max_fee_per_gas,
        max_priority_fee_per_gas: offer.max_priority_fee_per_gas.min(max_fee_per_gas),
        max_fee_per_blob_gas,
    };
    (fees, fees != offer)
}

/// What a bump comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bump {
    /// The replacement's fees: each at least the bump above the current one, at least what
    /// the L1 asks now, no higher than its cap.
    Raised(BlobFees),
    /// The least replacement nodes take would pass a cap: no bump.
    AtCap {
        /// The least fees a replacement must offer.
        needed: BlobFees,
    },
}

/// The bump of `current` at `quote`: by `price_bump_percent` (`blob_price_bump_percent` on all
/// three fees of a blob transaction), or to the L1's current offer where that is higher, and
/// cut to the caps; [`Bump::AtCap`] when the least replacement would pass a cap.
pub(crate) fn bump(current: BlobFees, quote: &FeeQuote, config: &TxManagerConfig, blobs: bool) -> Bump {
    let percent = if blobs { config.blob_price_bump_percent } else { config.price_bump_percent };
    let needed = BlobFees {
        max_fee_per_gas: raise(current.max_fee_per_gas, percent),
        max_priority_fee_per_gas: raise(current.max_priority_fee_per_gas, percent),
        max_fee_per_blob_gas: if blobs { raise(current.max_fee_per_blob_gas, percent) } else { 0 },
    };
    let fee_cap = u128::from(config.max_fee_per_gas_cap_wei);
    let blob_fee_cap = u128::from(config.max_fee_per_blob_gas_cap_wei);
    if needed.max_fee_per_gas > fee_cap || needed.max_fee_per_blob_gas > blob_fee_cap {
        return Bump::AtCap { needed };
    }
    let market = quote.offer(u128::from(config.min_tip_wei), blobs);
    let tip = needed.max_priority_fee_per_gas.max(market.max_priority_fee_per_gas);
    // The max fee covers the raised tip over twice the base fee, as a first offer would.
    let max_fee_per_gas =
        needed.max_fee_per_gas.max(quote.base_fee.saturating_mul(2).saturating_add(tip)).min(fee_cap);
    Bump::Raised(BlobFees {
        max_fee_per_gas,
        // Never below the needed tip: that is at most the needed max fee, itself under the cap.
        max_priority_fee_per_gas: tip.min(max_fee_per_gas),
        max_fee_per_blob_gas: needed.max_fee_per_blob_gas.max(market.max_fee_per_blob_gas).min(blob_fee_cap),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GWEI: u128 = 1_000_000_000;

    fn config() -> TxManagerConfig {
        TxManagerConfig {
            max_fee_per_gas_cap_wei: 100_000_000_000,
            max_fee_per_blob_gas_cap_wei: 50_000_000_000,
            min_tip_wei: 1_000_000_000,
            ..TxManagerConfig::default()
        }
    }

    fn fees(max_fee: u128, tip: u128, blob: u128) -> BlobFees {
        BlobFees { max_fee_per_gas: max_fee, max_priority_fee_per_gas: tip, max_fee_per_blob_gas: blob }
    }

    #[test]
    fn an_offer_is_twice_the_base_fee_over_the_tip_and_twice_the_blob_base_fee() {
        let quote = FeeQuote { base_fee: 10 * GWEI, tip: GWEI / 2, blob_base_fee: 3 };
        assert_eq!(quote.offer(GWEI, true), fees(21 * GWEI, GWEI, 6));
        assert_eq!(quote.offer(GWEI, false), fees(21 * GWEI, GWEI, 0));
        let quote = FeeQuote { base_fee: 10 * GWEI, tip: 2 * GWEI, blob_base_fee: 0 };
        assert_eq!(quote.offer(GWEI, true), fees(22 * GWEI, 2 * GWEI, 1));
    }

    #[test]
    fn raising_rounds_up_and_always_moves() {
        assert_eq!(raise(100, 10), 110);
        assert_eq!(raise(101, 10), 112);
        assert_eq!(raise(0, 10), 1);
        assert_eq!(raise(1, 10), 2);
        assert_eq!(raise(7, 100), 14);
        assert_eq!(raise(u128::MAX, 100), u128::MAX);
    }

    #[test]
    fn a_first_offer_is_cut_to_the_caps() {
        let (fees_, cut) = capped(fees(300 * GWEI, 200 * GWEI, 80 * GWEI), &config());
        assert!(cut);
        assert_eq!(fees_, fees(100 * GWEI, 100 * GWEI, 50 * GWEI));
        let (fees_, cut) = capped(fees(3 * GWEI, GWEI, 2), &config());
        assert!(!cut);
        assert_eq!(fees_, fees(3 * GWEI, GWEI, 2));
    }

    #[test]
    fn a_bump_raises_every_fee_by_its_percent_or_to_the_market() {
        let quiet = FeeQuote { base_fee: GWEI, tip: GWEI, blob_base_fee: 1 };
        // Non-blob: +10% on both fees; the market asks less.
        assert_eq!(
            bump(fees(30 * GWEI, 2 * GWEI, 0), &quiet, &config(), false),
            Bump::Raised(fees(33 * GWEI, 2_200_000_000, 0))
        );
        // Blob: +100% on all three fees.
        assert_eq!(
            bump(fees(3 * GWEI, GWEI, 2), &quiet, &config(), true),
            Bump::Raised(fees(6 * GWEI, 2 * GWEI, 4))
        );
        // The market moved past the bump: its offer wins, on each fee.
        let busy = FeeQuote { base_fee: 20 * GWEI, tip: 3 * GWEI, blob_base_fee: 1_000 };
        assert_eq!(
            bump(fees(3 * GWEI, GWEI, 2), &busy, &config(), true),
            Bump::Raised(fees(43 * GWEI, 3 * GWEI, 2_000))
        );
    }

    #[test]
    fn a_bump_past_a_cap_waits_and_one_that_fits_is_cut_to_it() {
        let busy = FeeQuote { base_fee: 60 * GWEI, tip: GWEI, blob_base_fee: 1 };
        // The least replacement (+10%) fits under the cap; the market's offer does not: cut.
        assert_eq!(
            bump(fees(80 * GWEI, GWEI, 0), &busy, &config(), false),
            Bump::Raised(fees(100 * GWEI, 1_100_000_000, 0))
        );
        // The least replacement is past the cap.
        assert_eq!(
            bump(fees(95 * GWEI, GWEI, 0), &busy, &config(), false),
            Bump::AtCap { needed: fees(104_500_000_000, 1_100_000_000, 0) }
        );
        // A blob transaction waits when its doubled blob fee passes the blob cap.
        assert_eq!(
            bump(fees(3 * GWEI, GWEI, 30 * GWEI), &busy, &config(), true),
            Bump::AtCap { needed: fees(6 * GWEI, 2 * GWEI, 60 * GWEI) }
        );
    }
}
