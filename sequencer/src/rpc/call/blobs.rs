//! The blobs EXECUTE's blob mode reads in calls on the dev L1: the ones the node holds, pooled
//! or stored ([`HeldBlobs`]).

use crate::{error::StoreError, mempool::Mempool, store::Store};
use alloy_primitives::{B256, Bytes};
use parking_lot::Mutex;
use std::sync::Arc;
use trace_builder::precompile::BlobSource;

/// The blobs the node holds, for EXECUTE's blob mode in a request's calls: a pooled blob
/// transaction's first, then those of included blocks within the retention
/// (`l1.blob_retention_blocks`), whatever block the call runs on.
///
/// A call's `blobVersionedHashes` are the blobs EXECUTE may read, as a transaction's own are:
/// a client checks a batch already posted by calling with the hashes of its blobs. The blobs
/// behind a versioned hash are fixed by it (it hashes their KZG commitment), so where the node
/// holds them does not change the answer.
///
/// The store is read synchronously: only runs on a blocking thread get one (a call to EXECUTE
/// never runs on the RPC's own thread, see `limits.rs`).
#[derive(Debug)]
pub(super) struct HeldBlobs {
    mempool: Arc<Mempool>,
    store: Store,
    runtime: tokio::runtime::Handle,
    /// A read of the store that failed: the call fails with it, rather than EXECUTE answering
    /// false for a blob the node may hold.
    failure: Mutex<Option<StoreError>>,
}

impl HeldBlobs {
    /// The blobs `mempool` and `store` hold, reading the store on `runtime`.
    pub(super) fn new(mempool: Arc<Mempool>, store: Store, runtime: tokio::runtime::Handle) -> Self {
        Self { mempool, store, runtime, failure: Mutex::new(None) }
    }

    /// The store's failure since the last look, if a read failed.
    pub(super) fn take_failure(&self) -> Option<StoreError> {
        self.failure.lock().take()
    }
}

impl BlobSource for HeldBlobs {
    fn blob(&self, versioned_hash: &B256) -> Option<Bytes> {
        if let Some(blob) = self.mempool.blob(versioned_hash) {
            return Some(blob);
        }
        match self.runtime.block_on(self.store.blob(*versioned_hash)) {
            Ok(blob) => blob,
            Err(error) => {
                *self.failure.lock() = Some(error);
                None
            }
        }
    }
}
