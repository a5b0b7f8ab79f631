//! The manager's metrics, `batcher_txmgr_*`: handles taken once when the manager is built
//! (from the recorder installed then), base units, labels from fixed sets.

use super::TxManagerError;
use alloy_primitives::U256;
use metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use std::time::Duration;

/// The transaction manager's metrics.
#[derive(Clone, Debug)]
pub(crate) struct TxManagerMetrics {
    /// Transactions the L1 took into its pool (each hash once).
    pub(crate) sent: Counter,
    /// Replacements signed with higher fees.
    pub(crate) bumps: Counter,
    /// Sends confirmed.
    pub(crate) confirmed: Counter,
    /// Included transactions whose block left the chain before confirmation.
    pub(crate) reorgs: Counter,
    /// Execution fees paid by confirmed transactions, in wei.
    fees_execution: Counter,
    /// Blob fees paid by confirmed transactions, in wei.
    fees_blob: Counter,
    /// The sender's balance, read after each send, in wei.
    pub(crate) balance: Gauge,
    /// Sends whose bump would pass a fee cap, waiting.
    pub(crate) waiting_fee_cap: Gauge,
    /// Sends refused for insufficient funds, waiting to be funded.
    pub(crate) waiting_funds: Gauge,
    /// Sends under way.
    pub(crate) in_flight: Gauge,
    /// From a send's start to its confirmation.
    pub(crate) confirmation_seconds: Histogram,
    /// Errors and refusals, by class.
    errors: Vec<(&'static str, Counter)>,
}

impl TxManagerMetrics {
    /// Registers the metrics with the current recorder.
    pub(crate) fn new() -> Self {
        describe();
        Self {
            sent: counter!("batcher_txmgr_sent_total"),
            bumps: counter!("batcher_txmgr_bumps_total"),
            confirmed: counter!("batcher_txmgr_confirmed_total"),
            reorgs: counter!("batcher_txmgr_reorgs_total"),
            fees_execution: counter!("batcher_txmgr_fees_paid_wei_total", "kind" => "execution"),
            fees_blob: counter!("batcher_txmgr_fees_paid_wei_total", "kind" => "blob"),
            balance: gauge!("batcher_txmgr_balance_wei"),
            waiting_fee_cap: gauge!("batcher_txmgr_waiting_fee_cap"),
            waiting_funds: gauge!("batcher_txmgr_waiting_funds"),
            in_flight: gauge!("batcher_txmgr_in_flight"),
            confirmation_seconds: histogram!("batcher_txmgr_confirmation_seconds"),
            errors: TxManagerError::labels()
                .map(|class| (class, counter!("batcher_txmgr_errors_total", "class" => class)))
                .collect(),
        }
    }

    /// Counts one error of `class` (a label of [`TxManagerError::label`]).
    pub(crate) fn error(&self, class: &str) {
        if let Some((_, counter)) = self.errors.iter().find(|(label, _)| *label == class) {
            counter.increment(1);
        }
    }

    /// Adds what a confirmed transaction paid.
    pub(crate) fn paid(&self, execution: u128, blob: u128) {
        self.fees_execution.increment(u64::try_from(execution).unwrap_or(u64::MAX));
        self.fees_blob.increment(u64::try_from(blob).unwrap_or(u64::MAX));
    }

    /// Sets the balance gauge (as a float: precise to about 16 digits).
    pub(crate) fn set_balance(&self, balance: U256) {
        self.balance.set(f64::from(balance));
    }

    /// Records a confirmation `elapsed` after the send started.
    pub(crate) fn confirmed_after(&self, elapsed: Duration) {
        self.confirmed.increment(1);
        self.confirmation_seconds.record(elapsed.as_secs_f64());
    }
}

fn describe() {
    describe_counter!("batcher_txmgr_sent_total", "L1 transactions the L1 took into its pool");
    describe_counter!("batcher_txmgr_bumps_total", "Replacements signed with higher fees");
    describe_counter!("batcher_txmgr_confirmed_total", "Sends confirmed at the configured depth");
    describe_counter!("batcher_txmgr_reorgs_total", "Included transactions reorged out before confirmation");
    describe_counter!("batcher_txmgr_fees_paid_wei_total", "Fees paid by confirmed transactions, by kind");
    describe_counter!("batcher_txmgr_errors_total", "L1 errors and refusals, by class");
    describe_gauge!("batcher_txmgr_balance_wei", "The sender's balance, read after each send");
    describe_gauge!("batcher_txmgr_waiting_fee_cap", "Sends whose fee bump would pass a cap, waiting");
    describe_gauge!("batcher_txmgr_waiting_funds", "Sends refused for insufficient funds, waiting");
    describe_gauge!("batcher_txmgr_in_flight", "Sends under way");
    describe_histogram!(
        "batcher_txmgr_confirmation_seconds",
        Unit::Seconds,
        "From a send's start to its confirmation"
    );
}

/// A gauge raised while held: lowered when dropped, so that a send that ends or is dropped
/// while waiting leaves the gauge right.
#[derive(Debug)]
pub(crate) struct GaugeHold(Gauge);

impl GaugeHold {
    /// Raises `gauge` by one until the hold is dropped.
    pub(crate) fn new(gauge: &Gauge) -> Self {
        gauge.increment(1.0);
        Self(gauge.clone())
    }
}

impl Drop for GaugeHold {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
