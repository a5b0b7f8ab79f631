//! Messages between the L1 and the L2 (docs/messaging.md): the L2 bridge predeploy's `sol!`
//! bindings over its committed artifact, its address and genesis account, and message hashes as
//! both bridges compute them.

use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_sol_types::SolValue;

alloy_sol_types::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    #[allow(missing_docs, clippy::too_many_arguments)]
    L2Bridge,
    "contracts/artifacts/L2Bridge.json"
);

pub use L2Bridge::{L2BridgeErrors as L2BridgeRevert, L2BridgeInstance};

/// The L2 bridge predeploy's address in every L2 genesis that has one.
pub const L2_BRIDGE_ADDRESS: Address = address!("0x000000000000000000000000000000000000b21D");

/// The wei the genesis gives the L2 bridge: the L2's ETH that deposits release (2^128 wei, more
/// than any deposit can ask for). Only a deposit proven on L1 moves it.
pub const L2_BRIDGE_SUPPLY: U256 = U256::from_limbs([0, 0, 1, 0]);

/// The L2 bridge's storage slot holding the L1 bridge's address (`l1Bridge`).
pub const L1_BRIDGE_SLOT: U256 = U256::ZERO;

/// The L2 bridge's runtime code, as its genesis account holds it.
pub fn l2_bridge_code() -> Bytes {
    L2Bridge::DEPLOYED_BYTECODE.clone()
}

/// Which way a message goes (the contracts' `Messages.Direction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Sent on L1 by the bridge, delivered on the L2 by the L2 bridge.
    L1ToL2,
    /// Sent on the L2 by the L2 bridge, relayed on L1 by the bridge.
    L2ToL1,
}

/// A message's fields, in the contracts' order (`Messages.Message`); in JSON as
/// `rollup_getWithdrawalProof` answers it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageFields {
    /// The sending contract's count of messages before this one.
    pub nonce: U256,
    /// Who sent it.
    pub sender: Address,
    /// Who receives the call and its value.
    pub to: Address,
    /// Wei credited to `to`.
    pub value: U256,
    /// Wei paid to whoever delivers it.
    pub fee: U256,
    /// The call's data.
    pub data: Bytes,
}

impl MessageFields {
    /// The message's hash, as the contracts compute it: `keccak256(abi.encode(direction,
    /// chainId, message))` with the L2's chain id. It is also the storage slot that records it
    /// in the sending contract.
    pub fn hash(&self, direction: Direction, chain_id: u64) -> B256 {
        let direction = match direction {
            Direction::L1ToL2 => 0u8,
            Direction::L2ToL1 => 1u8,
        };
        // An enum is ABI-encoded as its uint8 index, padded to a word like any integer.
        let direction = U256::from(direction);
        let message = (self.nonce, self.sender, self.to, self.value, self.fee, self.data.clone());
        keccak256((direction, U256::from(chain_id), message).abi_encode_params())
    }

    /// The L2 bridge's form of the message.
    pub fn to_l2(&self) -> Messages::Message {
        Messages::Message {
            nonce: self.nonce,
            sender: self.sender,
            to: self.to,
            value: self.value,
            fee: self.fee,
            data: self.data.clone(),
        }
    }

    /// The L1 bridge's form of the message.
    pub fn to_l1(&self) -> crate::bridge::Messages::Message {
        crate::bridge::Messages::Message {
            nonce: self.nonce,
            sender: self.sender,
            to: self.to,
            value: self.value,
            fee: self.fee,
            data: self.data.clone(),
        }
    }
}

impl From<&crate::bridge::NativeRollupBridge::MessageSent> for MessageFields {
    fn from(event: &crate::bridge::NativeRollupBridge::MessageSent) -> Self {
        Self {
            nonce: event.nonce,
            sender: event.sender,
            to: event.to,
            value: event.value,
            fee: event.fee,
            data: event.data.clone(),
        }
    }
}

impl From<&L2Bridge::MessageSent> for MessageFields {
    fn from(event: &L2Bridge::MessageSent) -> Self {
        Self {
            nonce: event.nonce,
            sender: event.sender,
            to: event.to,
            value: event.value,
            fee: event.fee,
            data: event.data.clone(),
        }
    }
}
