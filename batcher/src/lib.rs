//! The batcher: KZG commitments and proofs for trace blobs, blob sidecars in the form the L1's
//! fork wants, and the type-3 transactions that carry them. Batching policy and the L1
//! transaction manager come with the bridge.
#![warn(missing_docs)]

pub mod blob_tx;
pub mod kzg;

pub use blob_tx::{BlobFees, BlobTransaction, build_blob_transaction};
pub use kzg::{KzgError, SidecarForm, build_sidecar};
