//! The batcher: KZG commitments and proofs for trace blobs, blob sidecars in the form the L1's
//! fork wants, the type-3 transactions that carry them, the bridge contract's bindings and
//! deployment, the `rollup_` answers it reads from the L2, and the transaction manager that
//! gets its L1 transactions included.
#![warn(missing_docs)]

pub mod blob_tx;
pub mod bridge;
pub mod kzg;
pub mod l2;
pub mod messages;
pub mod proposal;
pub mod rollup_api;
pub mod service;
pub mod txmgr;

pub use blob_tx::{BlobFees, BlobTransaction, build_blob_transaction};
pub use kzg::{KzgError, SidecarForm, build_sidecar};
pub use txmgr::{TxCandidate, TxManager, TxManagerConfig};
