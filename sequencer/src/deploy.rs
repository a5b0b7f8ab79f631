//! `sequencer deploy`: deploys the bridge contract on an L1 for the chain's genesis, registers
//! the proposer's bond, and writes the `[l1]` section a node that settles through it runs with.

use alloy_network::EthereumWallet;
use alloy_primitives::{Address, U256, utils::parse_ether};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_signer_local::PrivateKeySigner;
use batcher::bridge::{
    self, BridgeError, BridgeParameters, BridgeRevert, NativeRollupBridge, SettlementMode,
};
use clap::Args;
use std::{fmt::Write as _, path::PathBuf};
use trace_builder::precompile::DEFAULT_EXECUTE_ADDRESS;
use url::Url;

use crate::genesis::ChainGenesis;

/// How many settlements' state roots a bridge keeps by default: at most one batch an L1 block,
/// at least 51 minutes on a 12 s L1 (8.5 on a 2 s one) for a withdrawal proven against the head
/// to be claimed. Small enough for the deployment to prewarm the whole ring in one transaction
/// (about 7.1 million gas), so that no settlement pays for a fresh slot.
pub const DEFAULT_HISTORY: u64 = 256;

/// `sequencer deploy`'s flags.
#[derive(Clone, Debug, Args)]
pub struct DeployArgs {
    /// The L1's JSON-RPC URL.
    #[arg(long, env = "SEQUENCER_L1_RPC")]
    pub l1_rpc: Url,
    /// A file holding the proposer's private key (hex): it deploys, bonds and later proposes.
    #[arg(long, env = "SEQUENCER_KEY_FILE")]
    pub key_file: PathBuf,
    /// native (EXECUTE judges every batch; the L1 must have it) or optimistic.
    #[arg(long, default_value = "native")]
    pub mode: SettlementMode,
    /// The L2's geth genesis JSON (default: the dev chain's built-in genesis).
    #[arg(long, env = "SEQUENCER_GENESIS")]
    pub genesis: Option<PathBuf>,
    /// Where to write the `[l1]` configuration section (default: print it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// EXECUTE's address on the L1.
    #[arg(long, default_value_t = DEFAULT_EXECUTE_ADDRESS)]
    pub execute_address: Address,
    /// Let anyone bonded propose, not only the deploying key.
    #[arg(long)]
    pub any_proposer: bool,
    /// The proposer bond, in ether.
    #[arg(long, default_value = "1")]
    pub proposer_bond_eth: String,
    /// The challenge bond, in ether (optimistic mode).
    #[arg(long, default_value = "0.1")]
    pub challenge_bond_eth: String,
    /// Seconds a claim can be challenged (optimistic mode).
    #[arg(long, default_value_t = 3_600)]
    pub challenge_window_secs: u64,
    /// Seconds from asking for a bond back to getting it (at least the challenge window).
    #[arg(long, default_value_t = 7_200)]
    pub bond_withdrawal_delay_secs: u64,
    /// How many settlements' state roots the bridge keeps for lookups (withdrawals are proven
    /// against them). The deployment prewarms the ring: about 27,800 gas a settlement kept.
    #[arg(long, default_value_t = DEFAULT_HISTORY)]
    pub history: u64,
}

/// Why a deployment failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The key file could not be read or holds no key.
    #[error("key file {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A flag is out of range.
    #[error("--{flag}: {reason}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The L2 genesis could not be loaded.
    #[error(transparent)]
    Genesis(#[from] crate::error::GenesisError),
    /// The L1 did not answer.
    #[error("the L1 at {url} does not answer: {reason}")]
    L1 {
        /// Its URL.
        url: Url,
        /// What failed.
        reason: String,
    },
    /// EXECUTE does not answer on this L1, and native mode needs it.
    #[error(
        "EXECUTE does not answer at {address} on this L1: native mode needs an L1 with EXECUTE \
         (`sequencer l1`), or deploy with --mode optimistic"
    )]
    NoExecute {
        /// Where EXECUTE was expected.
        address: Address,
    },
    /// The bridge could not be deployed or bonded.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    /// The genesis file does not name the bridge about to be deployed.
    #[error(
        "{path}: config.rollup.l1Bridge must be {expected}, the address this key's next deployment \
         gets, so that the L2 bridge predeploy delivers the bridge's messages (docs/messaging.md)"
    )]
    GenesisBridge {
        /// The genesis file.
        path: PathBuf,
        /// Where the bridge will land.
        expected: Address,
    },
    /// The bridge landed elsewhere than the genesis says (the key sent another transaction
    /// meanwhile).
    #[error(
        "the bridge landed at {deployed}, not at {expected} as the L2 genesis says: the key sent \
         another transaction meanwhile; deploy again with a fresh genesis"
    )]
    AddressMoved {
        /// Where the genesis expected it.
        expected: Address,
        /// Where it is.
        deployed: Address,
    },
    /// The `[l1]` section could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A deployed bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// The bridge's address.
    pub bridge: Address,
    /// The L1's chain id.
    pub l1_chain_id: u64,
    /// The L1 block the bridge was deployed in.
    pub deployed_at: u64,
    /// The proposer (the key's address), bonded.
    pub proposer: Address,
    /// The settlement mode.
    pub mode: SettlementMode,
    /// The gas the transactions that prewarmed its history ring used.
    pub prewarm_gas: u64,
    /// The `[l1]` configuration section of a node that settles through it.
    pub config_section: String,
}

/// Reads a hex private key from `path` (surrounding whitespace and a `0x` prefix allowed).
pub fn read_key_file(path: &std::path::Path) -> Result<PrivateKeySigner, DeployError> {
    let error = |reason: String| DeployError::Key { path: path.to_owned(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    text.trim().parse::<PrivateKeySigner>().map_err(|_| error("not a hex secp256k1 private key".to_owned()))
}

/// Deploys the bridge as `args` say, bonds the key's address, and writes the `[l1]` section.
/// The L2 genesis names the bridge (`config.rollup.l1Bridge`, for its L2 bridge predeploy), so
/// the bridge must land at the address the key's next deployment gets: the built-in dev genesis
/// is built with it, a genesis file must already name it.
pub async fn deploy(args: &DeployArgs) -> Result<Deployment, DeployError> {
    let signer = read_key_file(&args.key_file)?;
    let bridge = next_contract_address(&args.l1_rpc, signer.address()).await?;
    let genesis = match &args.genesis {
        Some(path) => {
            let genesis = ChainGenesis::load(path)?;
            if genesis.l1_bridge != Some(bridge) {
                return Err(DeployError::GenesisBridge { path: path.clone(), expected: bridge });
            }
            genesis
        }
        None => ChainGenesis::dev_with_bridge(Some(bridge))?,
    };
    let ether = |flag: &'static str, text: &str| {
        parse_ether(text).map_err(|e| DeployError::Flag { flag, reason: e.to_string() })
    };
    let parameters = BridgeParameters {
        chain_id: genesis.chain_id,
        execute: args.execute_address,
        mode: args.mode,
        sequencer: (!args.any_proposer).then(|| signer.address()),
        proposer_bond: ether("proposer-bond-eth", &args.proposer_bond_eth)?,
        challenge_bond: ether("challenge-bond-eth", &args.challenge_bond_eth)?,
        challenge_window: args.challenge_window_secs,
        bond_withdrawal_delay: args.bond_withdrawal_delay_secs,
        history: args.history,
        genesis_block_hash: genesis.hash,
        genesis_state_root: genesis.header.state_root,
    };
    let deployment = deploy_bridge(&args.l1_rpc, signer, &parameters).await?;
    if deployment.bridge != bridge {
        return Err(DeployError::AddressMoved { expected: bridge, deployed: deployment.bridge });
    }
    match &args.out {
        Some(path) => std::fs::write(path, &deployment.config_section)
            .map_err(|source| DeployError::Write { path: path.clone(), source })?,
        None => print!("{}", deployment.config_section),
    }
    Ok(deployment)
}

/// The address of the next contract `deployer` creates on the L1 at `url` (from its pending
/// nonce): where a bridge it deploys now lands, which the L2 genesis must name.
pub async fn next_contract_address(url: &Url, deployer: Address) -> Result<Address, DeployError> {
    let provider = ProviderBuilder::new().connect_http(url.clone());
    let nonce = provider
        .get_transaction_count(deployer)
        .pending()
        .await
        .map_err(|e| DeployError::L1 { url: url.clone(), reason: e.to_string() })?;
    Ok(deployer.create(nonce))
}

/// Deploys a bridge with `parameters` on the L1 at `url` from `signer`, prewarms its history
/// ring ([`bridge::prewarm_history`]), and bonds `signer`.
pub async fn deploy_bridge(
    url: &Url,
    signer: PrivateKeySigner,
    parameters: &BridgeParameters,
) -> Result<Deployment, DeployError> {
    let proposer = signer.address();
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url.clone());
    let l1_error = |e: &dyn std::fmt::Display| DeployError::L1 { url: url.clone(), reason: e.to_string() };
    let l1_chain_id = provider.get_chain_id().await.map_err(|e| l1_error(&e))?;
    let bridge = bridge::deploy(&provider, parameters).await.map_err(|error| match error.revert() {
        Some(BridgeRevert::ExecuteUnavailable(_)) => DeployError::NoExecute { address: parameters.execute },
        _ => DeployError::Bridge(error),
    })?;
    let deployed_at = provider.get_block_number().await.map_err(|e| l1_error(&e))?;
    let prewarm_gas = bridge::prewarm_history(&provider, bridge, parameters.history).await?;
    let contract = NativeRollupBridge::new(bridge, &provider);
    let pending = contract.bond().value(parameters.proposer_bond).send().await.map_err(bridge::refusal)?;
    bridge::succeeded(pending.get_receipt().await.map_err(BridgeError::from)?)?;
    let config_section = config_section(url, l1_chain_id, bridge, deployed_at, parameters);
    Ok(Deployment {
        bridge,
        l1_chain_id,
        deployed_at,
        proposer,
        mode: parameters.mode,
        prewarm_gas,
        config_section,
    })
}

/// The `[l1]` section of a node that settles through `bridge`.
fn config_section(
    url: &Url,
    l1_chain_id: u64,
    bridge: Address,
    deployed_at: u64,
    parameters: &BridgeParameters,
) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "# The L1 this chain settles on: written by `sequencer deploy`.");
    let _ =
        writeln!(text, "# Bridge mode {}, proposer bond {} wei.", parameters.mode, parameters.proposer_bond);
    let _ = writeln!(text, "[l1]");
    let _ = writeln!(text, "rpc_url = \"{url}\"");
    let _ = writeln!(text, "chain_id = {l1_chain_id}");
    let _ = writeln!(text, "execute_address = \"{}\"", parameters.execute);
    let _ = writeln!(text, "bridge_address = \"{bridge}\"");
    let _ = writeln!(text, "bridge_deployed_at = {deployed_at}");
    let _ = writeln!(text, "settlement = \"{}\"", parameters.mode);
    text
}

/// Bridge parameters for a dev chain: bonds of 1 and 0.1 ether, the given window.
pub fn dev_parameters(
    genesis: &ChainGenesis,
    mode: SettlementMode,
    proposer: Address,
    window: u64,
) -> BridgeParameters {
    BridgeParameters {
        chain_id: genesis.chain_id,
        execute: DEFAULT_EXECUTE_ADDRESS,
        mode,
        sequencer: Some(proposer),
        proposer_bond: U256::from(10u64).pow(U256::from(18u64)),
        challenge_bond: U256::from(10u64).pow(U256::from(17u64)),
        challenge_window: window,
        bond_withdrawal_delay: window.max(1) * 2,
        history: DEFAULT_HISTORY,
        genesis_block_hash: genesis.hash,
        genesis_state_root: genesis.header.state_root,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// The section `sequencer deploy` writes is a node's `[l1]` section as it stands: it
    /// parses, validates, and names the bridge the node then follows.
    #[test]
    fn the_written_section_configures_a_node_that_follows_the_bridge() {
        let genesis = ChainGenesis::dev().expect("the dev genesis");
        let url: Url = "http://127.0.0.1:8546".parse().expect("a URL");
        let bridge = Address::repeat_byte(0xb1);
        for mode in [SettlementMode::Native, SettlementMode::Optimistic] {
            let parameters = dev_parameters(&genesis, mode, Address::repeat_byte(0x5e), 3_600);
            let text = config_section(&url, 900, bridge, 42, &parameters);
            let config = Config::parse(&text).expect("the written section parses");
            config.validate(true).expect("and validates");
            let l1 = &config.l1;
            assert_eq!(
                l1.rpc_url().expect("valid").map(String::from).as_deref(),
                Some("http://127.0.0.1:8546/")
            );
            assert_eq!(l1.chain_id, Some(900));
            assert_eq!(l1.execute_address, parameters.execute);
            assert_eq!((l1.bridge_address, l1.bridge_deployed_at, l1.settlement), (Some(bridge), 42, mode));
        }
    }
}
