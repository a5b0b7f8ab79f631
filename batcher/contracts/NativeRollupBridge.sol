// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {MerklePatricia} from "./MerklePatricia.sol";
import {Messages} from "./Messages.sol";

/// @notice EXECUTE's bound form (docs/trace-format.md §6): re-executes a batch's trace and
/// answers whether it takes `preStateRoot` to `postStateRoot` with `gasUsed` and the bindings.
interface IExecute {
    /// @notice An L1 block a batch's blocks are anchored to.
    struct L1Anchor {
        uint64 number;
        bytes32 blockHash;
    }

    /// @notice What the bridge pins of a batch without reading its trace.
    struct Bindings {
        uint64 chainId;
        bytes32 parentBlockHash;
        bytes32 lastBlockHash;
        uint64 lastNumber;
        uint64 lastTimestamp;
        L1Anchor[] anchors;
    }

    /// @notice True exactly when the trace (calldata mode) or the calling transaction's blobs
    /// named by `data` (blob mode: 0x01 followed by versioned hashes) verify with these claims.
    function execute(
        bytes32 preStateRoot,
        bytes32 postStateRoot,
        uint256 gasUsed,
        Bindings calldata bindings,
        bytes calldata data
    ) external returns (bool);
}

/// @title The bridge of a native rollup: its settled head on L1, proven by EXECUTE.
/// @notice Native mode: every batch is re-executed by the EXECUTE precompile when it is
/// submitted; true advances the head, false rejects the batch and slashes its proposer.
/// Optimistic mode: a claim becomes the head after a challenge window unless a challenger sends
/// the same data again and EXECUTE answers false. No key can move the head or change the rules.
/// Messages: deposits and messages to the L2 are recorded here for the L2 bridge to prove against
/// its L1 anchor; messages from the L2 are proven against a settled L2 state root and relayed.
/// @dev Reference: docs/bridge.md.
contract NativeRollupBridge {
    /// @notice How batches are settled.
    enum Mode {
        Native,
        Optimistic
    }

    /// @notice A batch, as its proposer claims it. `anchors` are the L1 block numbers of the
    /// distinct L1 anchors of its blocks, in block order; the bridge reads their hashes itself.
    struct Batch {
        bytes32 parentBlockHash;
        uint64 lastNumber;
        bytes32 lastBlockHash;
        uint64 lastTimestamp;
        bytes32 postStateRoot;
        uint256 gasUsed;
        uint64[] anchors;
    }

    /// @notice What a challenger sends back of a claim, checked against its commitment.
    struct ClaimDetails {
        uint256 gasUsed;
        uint64 lastTimestamp;
        IExecute.L1Anchor[] anchors;
    }

    /// @notice A pending claim (optimistic mode).
    struct Claim {
        bytes32 postStateRoot;
        bytes32 lastBlockHash;
        /// keccak256(gasUsed, lastTimestamp, anchors, keccak256(EXECUTE's data)).
        bytes32 commitment;
        address proposer;
        /// When the claim stands unless challenged (a claim EXECUTE confirmed stands at once).
        uint64 deadline;
        uint64 lastNumber;
        /// The L1 block number of the claim's newest anchor.
        uint64 newestAnchor;
    }

    /// @notice The settled head and the bridge's counters, in one slot: what every submission
    /// reads and every settlement writes.
    struct Head {
        uint64 number;
        /// The L1 block number of the newest anchor a settled batch used.
        uint64 newestAnchor;
        /// Settlements so far, the genesis included: the next settlement's index.
        uint64 settlements;
        /// `canPropose(sequencer)`, kept beside the head whenever the sequencer's bond changes,
        /// so that a submission by the sequencer does not read its bond's slot.
        bool sequencerCanPropose;
    }

    /// @notice The EIP-2935 block hash history contract.
    address public constant BLOCK_HASH_HISTORY = 0x0000F90827F1C53a10cb7A02335B175320002935;
    /// @notice How far back EIP-2935 serves block hashes.
    uint256 public constant BLOCK_HASH_HISTORY_WINDOW = 8191;
    /// @notice Blob hashes a batch may name (EXECUTE's envelope limit).
    uint256 public constant MAX_BLOBS = 16;
    /// @notice The L2 bridge: the predeploy in the L2's genesis that records messages to L1.
    address public constant L2_BRIDGE = 0x000000000000000000000000000000000000b21D;

    /// @notice The L2's chain id.
    uint64 public immutable chainId;
    /// @notice The EXECUTE precompile's address.
    address public immutable executePrecompile;
    /// @notice How batches settle.
    Mode public immutable mode;
    /// @notice The only address that may propose, or zero for anyone bonded.
    address public immutable sequencer;
    /// @notice The bond a proposer must hold.
    uint256 public immutable proposerBond;
    /// @notice The bond a challenger sends with a challenge (optimistic mode).
    uint256 public immutable challengeBond;
    /// @notice Seconds a claim can be challenged (optimistic mode).
    uint64 public immutable challengeWindow;
    /// @notice Seconds between asking for a bond back and getting it.
    uint64 public immutable bondWithdrawalDelay;
    /// @notice How many of the newest settlements' state roots are kept (a ring: a settlement
    /// overwrites the one `history` before it).
    uint256 public immutable history;

    /// What `prewarmHistory` writes into a ring slot no settlement wrote yet (and into a free
    /// lane of a numbers slot). No lookup reads it: lookups read only the slots of settlements
    /// the ring holds. No L2 number or state root is this value, so that no settlement's write
    /// happens to leave a slot as it found it (which would make its gas depend on luck).
    uint256 internal constant PLACEHOLDER = type(uint64).max;

    Head internal head_;
    bytes32 internal headBlockHash_;
    /// State roots by settlement index modulo `history`.
    mapping(uint256 => bytes32) internal roots_;
    /// L2 block numbers by settlement index modulo `history`, four 64-bit lanes a slot.
    mapping(uint256 => uint256) internal numberLanes_;

    /// @notice A proposer's bond and when it asked for it back (zero: it did not), in one slot.
    struct Proposer {
        uint192 bond;
        uint64 withdrawalRequestedAt;
    }

    mapping(address => Proposer) internal proposers_;
    /// @notice ETH owed to an address (challenge rewards and returned bonds), withdrawn by it.
    mapping(address => uint256) public credits;
    /// @notice L1 block hashes recorded for anchors older than `blockhash` and EIP-2935 serve.
    mapping(uint256 => bytes32) public recordedL1BlockHashes;

    /// @notice How many messages were sent to the L2: the next message's nonce.
    uint256 public messageNonce;
    /// @notice Wei the L2 holds for L1: what messages to the L2 carried, less what messages
    /// from it released. No message from the L2 can release more.
    uint256 public messageBalance;
    /// @notice Messages from the L2 relayed here, by hash: each is relayed once.
    mapping(bytes32 => bool) public relayedMessages;
    /// The L2 sender of the message being relayed, during its call.
    address internal transient l2Sender_;

    /// @notice Pending claims by id (optimistic mode): ids `firstPendingClaim` to `nextClaim - 1`.
    mapping(uint256 => Claim) public claims;
    /// @notice The oldest pending claim's id.
    uint256 public firstPendingClaim;
    /// @notice The id the next claim gets.
    uint256 public nextClaim;

    /// @notice A proposer added to its bond.
    event Bonded(address indexed proposer, uint256 amount, uint256 bond);
    /// @notice A proposer asked for its bond back; it can no longer propose.
    event BondWithdrawalRequested(address indexed proposer, uint64 availableAt);
    /// @notice A proposer took its bond back.
    event BondWithdrawn(address indexed proposer, uint256 amount);
    /// @notice A proposer lost its bond: `reward` of it was credited to `challenger`, the rest burned.
    event ProposerSlashed(address indexed proposer, uint256 amount, address indexed challenger, uint256 reward);
    /// @notice ETH owed to `account` was paid out.
    event CreditWithdrawn(address indexed account, uint256 amount);
    /// @notice The head moved to L2 block `number`: settlement `index`.
    event BatchSettled(
        uint256 indexed index, uint64 indexed number, bytes32 blockHash, bytes32 stateRoot, address indexed proposer
    );
    /// @notice EXECUTE answered false for a submitted batch (native mode): the trace does not take
    /// the head to `postStateRoot` with the claimed gas and bindings. The proposer was slashed.
    event BatchRejected(address indexed proposer, uint64 indexed lastNumber, bytes32 postStateRoot, bytes32 parentBlockHash);
    /// @notice A claim was posted (optimistic mode).
    event ClaimProposed(
        uint256 indexed claimId,
        address indexed proposer,
        uint64 lastNumber,
        bytes32 lastBlockHash,
        bytes32 postStateRoot,
        uint64 deadline,
        bytes32 commitment
    );
    /// @notice EXECUTE judged a challenged claim: `valid` false removed it and every claim after it.
    event ClaimChallenged(uint256 indexed claimId, address indexed challenger, bool valid);
    /// @notice Claims `fromClaimId` to `fromClaimId + count - 1` were removed.
    event ClaimsRemoved(uint256 indexed fromClaimId, uint256 count);
    /// @notice An L1 block hash was recorded for later anchors.
    event L1BlockHashRecorded(uint64 indexed number, bytes32 blockHash);
    /// @notice The history ring's slots for settlement positions `from` to `to - 1` that no
    /// settlement wrote yet now hold a placeholder: nothing any lookup answers changed.
    event HistoryPrewarmed(uint256 from, uint256 to);
    /// @notice A message to the L2 was sent and recorded (storage slot `hash` holds 1).
    event MessageSent(
        bytes32 indexed hash,
        uint256 indexed nonce,
        address indexed sender,
        address to,
        uint256 value,
        uint256 fee,
        bytes data
    );
    /// @notice A message from the L2, proven against the settled state root of L2 block
    /// `l2Block`, was relayed.
    event MessageRelayed(bytes32 indexed hash, uint64 indexed l2Block, address indexed relayer);

    /// @notice The call needs the other mode.
    error WrongMode();
    /// @notice The sender may not propose (not the sequencer, not bonded, or leaving).
    error NotProposer(address sender);
    /// @notice The batch does not build on the head (or the newest claim): expected parent hash.
    error StaleHead(bytes32 expected, bytes32 claimed);
    /// @notice The batch's last number does not move past its parent's.
    error NotExtending(uint64 parentNumber, uint64 lastNumber);
    /// @notice The batch's last L2 timestamp is after this L1 block's.
    error FutureTimestamp(uint64 lastTimestamp, uint256 l1Timestamp);
    /// @notice The batch names no anchor.
    error NoAnchor();
    /// @notice An anchor is older than the newest one already used, or anchors are out of order.
    error AnchorBackwards(uint64 number, uint64 newest);
    /// @notice The bridge cannot read this L1 block's hash (future, too old and not recorded).
    error UnknownAnchor(uint64 number);
    /// @notice A blob-mode batch whose transaction carries no blob, or too many.
    error BadBlobCount(uint256 count);
    /// @notice The EXECUTE call failed (out of gas or refused input): nothing was judged.
    error ExecuteFailed();
    /// @notice Nothing answers at the EXECUTE address: this L1 cannot judge a batch.
    error ExecuteUnavailable();
    /// @notice No such pending claim.
    error UnknownClaim(uint256 claimId);
    /// @notice The claim's challenge window is over.
    error ChallengeWindowOver(uint256 claimId);
    /// @notice The challenge does not resend the claim's data and details.
    error CommitmentMismatch(uint256 claimId);
    /// @notice The wrong amount of ETH was sent.
    error WrongValue(uint256 expected, uint256 sent);
    /// @notice The bond cannot be withdrawn yet (or was never asked for).
    error BondLocked(uint64 availableAt);
    /// @notice Nothing to withdraw.
    error NothingToWithdraw();
    /// @notice A header does not hash to the block hash it must have.
    error HeaderMismatch(uint64 number);
    /// @notice An ETH transfer failed.
    error TransferFailed();
    /// @notice A constructor argument is out of range.
    error BadConfiguration();
    /// @notice The fee is more than the ETH sent.
    error FeeOverValue(uint256 fee, uint256 sent);
    /// @notice The bridge settled no state root at this L2 block (or its history forgot it).
    error NotSettled(uint64 l2Block);
    /// @notice The proofs do not show the message recorded by the L2 bridge.
    error MessageNotProven(bytes32 hash);
    /// @notice The message was relayed already.
    error AlreadyRelayed(bytes32 hash);
    /// @notice The message would release more than the L2 holds for L1.
    error OverBalance(uint256 amount, uint256 balance);
    /// @notice The message's call reverted: nothing was relayed, it can be relayed again.
    error MessageCallFailed(bytes32 hash);
    /// @notice No message from the L2 is being relayed.
    error NotRelaying();
    /// @notice A message may not call the bridge on the other side.
    error BadTarget(address to);

    /// @param chainId_ the L2's chain id.
    /// @param executePrecompile_ EXECUTE's address (required to answer in native mode).
    /// @param mode_ native or optimistic.
    /// @param sequencer_ the only proposer, or zero for anyone bonded.
    /// @param proposerBond_ the bond a proposer must hold (non-zero).
    /// @param challengeBond_ the bond a challenger sends (optimistic mode).
    /// @param challengeWindow_ seconds a claim can be challenged (optimistic mode).
    /// @param bondWithdrawalDelay_ seconds from asking for a bond back to getting it (at least the window).
    /// @param history_ how many settlements' state roots to keep (at least 1).
    /// @param genesisBlockHash the L2 genesis block's hash: the first head.
    /// @param genesisStateRoot the L2 genesis state root.
    constructor(
        uint64 chainId_,
        address executePrecompile_,
        Mode mode_,
        address sequencer_,
        uint256 proposerBond_,
        uint256 challengeBond_,
        uint64 challengeWindow_,
        uint64 bondWithdrawalDelay_,
        uint256 history_,
        bytes32 genesisBlockHash,
        bytes32 genesisStateRoot
    ) {
        if (chainId_ == 0 || proposerBond_ == 0 || bondWithdrawalDelay_ < challengeWindow_ || history_ == 0) {
            revert BadConfiguration();
        }
        if (mode_ == Mode.Optimistic && (challengeWindow_ == 0 || challengeBond_ == 0)) {
            revert BadConfiguration();
        }
        chainId = chainId_;
        executePrecompile = executePrecompile_;
        mode = mode_;
        sequencer = sequencer_;
        proposerBond = proposerBond_;
        challengeBond = challengeBond_;
        challengeWindow = challengeWindow_;
        bondWithdrawalDelay = bondWithdrawalDelay_;
        history = history_;
        if (mode_ == Mode.Native && !executeAnswers()) revert ExecuteUnavailable();
        headBlockHash_ = genesisBlockHash;
        roots_[0] = genesisStateRoot;
        // The genesis' number is 0: its lanes slot would stay zero, and the first settlement would
        // pay for a fresh slot. Lane 1 is ring position 1, which no lookup reads before a
        // settlement replaces it (or, with a history of 1, never).
        numberLanes_[0] = PLACEHOLDER << 64;
        head_ = Head({number: 0, newestAnchor: 0, settlements: 1, sequencerCanPropose: false});
        emit BatchSettled(0, 0, genesisBlockHash, genesisStateRoot, address(0));
    }

    // ------------------------------------------------------------------ reads

    /// @notice The settled head: L2 block number, block hash and state root.
    function head() external view returns (uint256 number, bytes32 blockHash, bytes32 stateRoot) {
        Head memory h = head_;
        return (h.number, headBlockHash_, roots_[(h.settlements - 1) % history]);
    }

    /// @notice The L1 block number of the newest anchor a settled batch used.
    function newestAnchor() external view returns (uint64) {
        return head_.newestAnchor;
    }

    /// @notice Settlements so far, the genesis included.
    function settlements() external view returns (uint256) {
        return head_.settlements;
    }

    /// @notice Settlement `index` (the genesis is 0), while the history holds it.
    /// @return number its L2 block number; stateRoot its state root (zero once it left the history).
    function settlement(uint256 index) public view returns (uint64 number, bytes32 stateRoot) {
        uint256 count = head_.settlements;
        if (index >= count || count - index > history) return (0, bytes32(0));
        return (numberAt(index % history), roots_[index % history]);
    }

    /// @notice The settled state root of L2 block `number`: zero unless a batch ended at it and
    /// the history still holds it.
    function settledStateRoot(uint256 number) public view returns (bytes32) {
        uint256 count = head_.settlements;
        uint256 low = count > history ? count - history : 0;
        uint256 high = count - 1;
        while (low <= high) {
            uint256 middle = (low + high) / 2;
            uint256 found = numberAt(middle % history);
            if (found == number) return roots_[middle % history];
            if (found < number) {
                low = middle + 1;
            } else {
                if (middle == 0) break;
                high = middle - 1;
            }
        }
        return bytes32(0);
    }

    /// @notice The hash of L1 block `number` as the bridge can read it: from `blockhash`, the
    /// EIP-2935 history, or a recorded hash; zero if none.
    function l1BlockHash(uint64 number) public view returns (bytes32) {
        if (number < block.number) {
            uint256 age = block.number - number;
            if (age <= 256) return blockhash(number);
            if (age <= BLOCK_HASH_HISTORY_WINDOW) {
                (bool ok, bytes memory answer) = BLOCK_HASH_HISTORY.staticcall(abi.encode(uint256(number)));
                if (ok && answer.length == 32) return abi.decode(answer, (bytes32));
            }
        }
        return recordedL1BlockHashes[number];
    }

    // ------------------------------------------------------------------ proposers

    /// @notice Adds the ETH sent to the sender's bond.
    function bond() external payable {
        if (sequencer != address(0) && msg.sender != sequencer) revert NotProposer(msg.sender);
        Proposer memory state = proposers_[msg.sender];
        uint256 total = state.bond + msg.value;
        state.bond = uint192(total);
        setProposer(msg.sender, state);
        emit Bonded(msg.sender, msg.value, total);
    }

    /// @notice Asks for the sender's bond back. It can no longer propose, and gets the bond
    /// after `bondWithdrawalDelay` seconds (by then none of its claims can be challenged).
    function requestBondWithdrawal() external {
        Proposer memory state = proposers_[msg.sender];
        if (state.bond == 0) revert NothingToWithdraw();
        uint64 availableAt = uint64(block.timestamp) + bondWithdrawalDelay;
        state.withdrawalRequestedAt = uint64(block.timestamp);
        setProposer(msg.sender, state);
        emit BondWithdrawalRequested(msg.sender, availableAt);
    }

    /// @notice Pays the sender its bond, `bondWithdrawalDelay` seconds after it asked.
    function withdrawBond() external {
        Proposer memory proposer = proposers_[msg.sender];
        uint64 requestedAt = proposer.withdrawalRequestedAt;
        uint64 availableAt = requestedAt + bondWithdrawalDelay;
        if (requestedAt == 0 || block.timestamp < availableAt) revert BondLocked(availableAt);
        uint256 amount = proposer.bond;
        if (amount == 0) revert NothingToWithdraw();
        setProposer(msg.sender, Proposer({bond: 0, withdrawalRequestedAt: 0}));
        emit BondWithdrawn(msg.sender, amount);
        pay(msg.sender, amount);
    }

    /// @notice Pays the sender what the bridge owes it.
    function withdrawCredit() external {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        credits[msg.sender] = 0;
        emit CreditWithdrawn(msg.sender, amount);
        pay(msg.sender, amount);
    }

    /// @notice A proposer's bond.
    function bonds(address proposer) external view returns (uint256) {
        return proposers_[proposer].bond;
    }

    /// @notice When a proposer asked for its bond back (zero: it did not).
    function bondWithdrawalRequestedAt(address proposer) external view returns (uint64) {
        return proposers_[proposer].withdrawalRequestedAt;
    }

    /// @notice Whether `proposer` may propose now.
    function canPropose(address proposer) public view returns (bool) {
        Proposer memory state = proposers_[proposer];
        return (sequencer == address(0) || proposer == sequencer) && state.bond >= proposerBond
            && state.withdrawalRequestedAt == 0;
    }

    /// @notice Writes a placeholder into the history ring's slots for positions `from` to
    /// `to - 1` that no settlement wrote yet, so that the settlements of the ring's first lap
    /// overwrite a slot instead of creating one (about 20,000 gas less each). Anyone may call
    /// it; no answer of the bridge changes. `sequencer deploy` calls it for the whole ring.
    function prewarmHistory(uint256 from, uint256 to) external {
        uint256 written = head_.settlements;
        if (to > history) to = history;
        // Positions below `written` hold settlements (or held them: the ring wrapped).
        if (from < written) from = written;
        if (from >= to) return;
        for (uint256 position = from; position < to; position++) {
            if (roots_[position] == bytes32(0)) roots_[position] = bytes32(PLACEHOLDER);
        }
        // A lanes slot past the first that is zero holds no settlement's number (every number
        // but the genesis' is above zero): all its lanes are free.
        for (uint256 slot = from / 4 == 0 ? 1 : from / 4; slot <= (to - 1) / 4; slot++) {
            if (numberLanes_[slot] == 0) numberLanes_[slot] = PLACEHOLDER;
        }
        emit HistoryPrewarmed(from, to);
    }

    // ------------------------------------------------------------------ L1 block hashes

    /// @notice Records the hashes of L1 blocks the bridge can read now, so that batches anchored
    /// to them still settle after `blockhash` and EIP-2935 forgot them. Anyone may call it.
    function recordL1BlockHashes(uint64[] calldata numbers) external {
        for (uint256 i = 0; i < numbers.length; i++) {
            bytes32 hash = l1BlockHash(numbers[i]);
            if (hash == bytes32(0)) revert UnknownAnchor(numbers[i]);
            recordedL1BlockHashes[numbers[i]] = hash;
            emit L1BlockHashRecorded(numbers[i], hash);
        }
    }

    /// @notice Records the hash of L1 block `number - headers.length` by walking parent hashes
    /// down from block `number`, whose hash the bridge can read: `headers[i]` is the RLP header
    /// of block `number - i`. Anyone may call it, in as many steps as a long gap needs.
    function proveL1BlockHash(uint64 number, bytes[] calldata headers) external {
        bytes32 hash = l1BlockHash(number);
        if (hash == bytes32(0)) revert UnknownAnchor(number);
        for (uint256 i = 0; i < headers.length; i++) {
            if (keccak256(headers[i]) != hash) revert HeaderMismatch(number - uint64(i));
            hash = parentHash(headers[i]);
        }
        uint64 oldest = number - uint64(headers.length);
        recordedL1BlockHashes[oldest] = hash;
        emit L1BlockHashRecorded(oldest, hash);
    }

    // ------------------------------------------------------------------ native mode

    /// @notice Submits a batch (native mode). `trace` is the trace (calldata mode), or empty when
    /// the trace is in this transaction's blobs (blob mode). EXECUTE judges it at once: true
    /// advances the head; false emits `BatchRejected` and slashes the sender's bond.
    function submitBatch(Batch calldata batch, bytes calldata trace) external {
        if (mode != Mode.Native) revert WrongMode();
        Head memory h = head_;
        checkProposer(h);
        bytes32 parentHash_ = headBlockHash_;
        checkExtends(batch, parentHash_, h.number);
        bytes32 preStateRoot;
        unchecked {
            preStateRoot = roots_[(h.settlements - 1) % history];
        }
        (bytes memory input, uint64 anchor) = executeInput(preStateRoot, batch, parentHash_, h.newestAnchor, trace);
        if (judge(input)) {
            settle(h, batch.lastNumber, batch.lastBlockHash, batch.postStateRoot, anchor, msg.sender);
        } else {
            emit BatchRejected(msg.sender, batch.lastNumber, batch.postStateRoot, batch.parentBlockHash);
            slash(msg.sender, address(0), 0);
        }
    }

    // ------------------------------------------------------------------ optimistic mode

    /// @notice Posts a claim (optimistic mode), with its data in this transaction's blobs
    /// (`trace` empty) or in `trace`. It extends the newest pending claim, or the head.
    function propose(Batch calldata batch, bytes calldata trace) external returns (uint256 claimId) {
        if (mode != Mode.Optimistic) revert WrongMode();
        if (!canPropose(msg.sender)) revert NotProposer(msg.sender);
        (bytes32 parentHash_, uint64 parentNumber, uint64 parentAnchor) = newestClaimedHead();
        checkExtends(batch, parentHash_, parentNumber);
        IExecute.L1Anchor[] memory anchors = readAnchors(batch.anchors, parentAnchor);
        bytes32 commitment = commit(batch.gasUsed, batch.lastTimestamp, anchors, keccak256(data(trace)));
        uint64 deadline = uint64(block.timestamp) + challengeWindow;
        claimId = nextClaim++;
        claims[claimId] = Claim({
            postStateRoot: batch.postStateRoot,
            lastBlockHash: batch.lastBlockHash,
            commitment: commitment,
            proposer: msg.sender,
            deadline: deadline,
            lastNumber: batch.lastNumber,
            newestAnchor: lastAnchor(batch.anchors)
        });
        emit ClaimProposed(
            claimId, msg.sender, batch.lastNumber, batch.lastBlockHash, batch.postStateRoot, deadline, commitment
        );
    }

    /// @notice Challenges pending claim `claimId` by sending its data again (the same blobs in
    /// this transaction, or the same trace) with its details and `challengeBond`. EXECUTE judges
    /// it: false removes it and every claim after it, slashes its proposer and credits the
    /// challenger its bond back and half the proposer's; true credits the challenge bond to the
    /// proposer and lets the claim stand at once.
    function challenge(uint256 claimId, ClaimDetails calldata details, bytes calldata trace) external payable {
        if (mode != Mode.Optimistic) revert WrongMode();
        if (msg.value != challengeBond) revert WrongValue(challengeBond, msg.value);
        if (claimId < firstPendingClaim || claimId >= nextClaim) revert UnknownClaim(claimId);
        Claim memory claim = claims[claimId];
        if (block.timestamp >= claim.deadline) revert ChallengeWindowOver(claimId);
        bytes memory executeData = data(trace);
        if (commit(details.gasUsed, details.lastTimestamp, details.anchors, keccak256(executeData)) != claim.commitment)
        {
            revert CommitmentMismatch(claimId);
        }
        (bytes32 preStateRoot, bytes32 parentHash_) = parentOf(claimId);
        IExecute.Bindings memory bound = IExecute.Bindings({
            chainId: chainId,
            parentBlockHash: parentHash_,
            lastBlockHash: claim.lastBlockHash,
            lastNumber: claim.lastNumber,
            lastTimestamp: details.lastTimestamp,
            anchors: details.anchors
        });
        bool valid = judge(
            abi.encodeCall(IExecute.execute, (preStateRoot, claim.postStateRoot, details.gasUsed, bound, executeData))
        );
        emit ClaimChallenged(claimId, msg.sender, valid);
        if (valid) {
            claims[claimId].deadline = uint64(block.timestamp);
            credits[claim.proposer] += msg.value;
        } else {
            emit ClaimsRemoved(claimId, nextClaim - claimId);
            nextClaim = claimId;
            credits[msg.sender] += msg.value;
            slash(claim.proposer, msg.sender, 2);
        }
    }

    /// @notice Makes up to `limit` pending claims whose window is over the head, oldest first.
    /// Anyone may call it. Returns how many settled.
    function settleClaims(uint256 limit) external returns (uint256 settled) {
        if (mode != Mode.Optimistic) revert WrongMode();
        uint256 id = firstPendingClaim;
        while (settled < limit && id < nextClaim) {
            Claim memory claim = claims[id];
            if (block.timestamp < claim.deadline) break;
            settle(
                head_, claim.lastNumber, claim.lastBlockHash, claim.postStateRoot, claim.newestAnchor, claim.proposer
            );
            delete claims[id];
            id++;
            settled++;
        }
        firstPendingClaim = id;
    }

    // ------------------------------------------------------------------ messages

    /// @notice Deposits the ETH sent to `to` on the L2: the L2 bridge credits it once the L2's
    /// anchor covers this block (the sequencer delivers it; anyone can).
    function deposit(address to) external payable returns (bytes32) {
        return send(to, 0, "");
    }

    /// @notice Sends a message to the L2: `to` is called with `payload` and the ETH sent less
    /// `fee`; `fee` is paid on the L2 to whoever delivers it.
    function sendMessage(address to, uint256 fee, bytes calldata payload) external payable returns (bytes32) {
        if (fee > msg.value) revert FeeOverValue(fee, msg.value);
        return send(to, fee, payload);
    }

    /// @notice Relays a message the L2 bridge recorded, proven against the settled state root of
    /// L2 block `l2Block` (`settledStateRoot`): the L2 bridge's account, then the message's
    /// storage slot (eth_getProof's `accountProof` and `storageProof` at that block). Calls `to`
    /// with `data` and `value` (`l2Sender()` answers the sender during the call) and pays
    /// `fee` to the caller. Each message is relayed once; a reverting call relays nothing.
    function relayMessage(
        Messages.Message calldata message,
        uint64 l2Block,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof
    ) external {
        bytes32 stateRoot = settledStateRoot(l2Block);
        if (stateRoot == bytes32(0)) revert NotSettled(l2Block);
        bytes32 messageHash = Messages.hash(Messages.Direction.L2ToL1, chainId, message);
        if (relayedMessages[messageHash]) revert AlreadyRelayed(messageHash);
        bytes32 storageRoot = MerklePatricia.storageRoot(stateRoot, L2_BRIDGE, accountProof);
        if (MerklePatricia.storageValue(storageRoot, messageHash, storageProof) != 1) {
            revert MessageNotProven(messageHash);
        }
        uint256 amount = message.value + message.fee;
        if (amount > messageBalance) revert OverBalance(amount, messageBalance);
        relayedMessages[messageHash] = true;
        messageBalance -= amount;
        emit MessageRelayed(messageHash, l2Block, msg.sender);
        // The outer message's sender comes back after a relay nested in the call.
        address outer = l2Sender_;
        l2Sender_ = message.sender;
        (bool ok,) = message.to.call{value: message.value}(message.data);
        l2Sender_ = outer;
        if (!ok) revert MessageCallFailed(messageHash);
        if (message.fee != 0) pay(msg.sender, message.fee);
    }

    /// @notice The L2 sender of the message being relayed, for its target to read during the call.
    function l2Sender() external view returns (address sender) {
        sender = l2Sender_;
        if (sender == address(0)) revert NotRelaying();
    }

    // ------------------------------------------------------------------ internals

    /// Records a message to the L2 from the sender with the ETH sent.
    function send(address to, uint256 fee, bytes memory payload) internal returns (bytes32 messageHash) {
        if (to == L2_BRIDGE) revert BadTarget(to);
        uint256 nonce = messageNonce++;
        Messages.Message memory message = Messages.Message({
            nonce: nonce, sender: msg.sender, to: to, value: msg.value - fee, fee: fee, data: payload
        });
        messageHash = Messages.hash(Messages.Direction.L1ToL2, chainId, message);
        Messages.record(messageHash);
        messageBalance += msg.value;
        emit MessageSent(messageHash, nonce, msg.sender, to, msg.value - fee, fee, payload);
    }

    /// Refuses a batch that does not extend (`parentHash_`, `parentNumber`) or whose last
    /// timestamp is after this L1 block's.
    function checkExtends(Batch calldata batch, bytes32 parentHash_, uint64 parentNumber) internal view {
        if (batch.parentBlockHash != parentHash_) revert StaleHead(parentHash_, batch.parentBlockHash);
        if (batch.lastNumber <= parentNumber) revert NotExtending(parentNumber, batch.lastNumber);
        if (batch.lastTimestamp > block.timestamp) revert FutureTimestamp(batch.lastTimestamp, block.timestamp);
    }

    /// The batch's anchors with the hashes the bridge reads, refusing any it cannot read and
    /// any that goes backwards (from `newest`, then from each other).
    function readAnchors(uint64[] calldata numbers, uint64 newest) internal view returns (IExecute.L1Anchor[] memory) {
        if (numbers.length == 0) revert NoAnchor();
        IExecute.L1Anchor[] memory anchors = new IExecute.L1Anchor[](numbers.length);
        for (uint256 i = 0; i < numbers.length; i++) {
            uint64 number = numbers[i];
            if (i == 0 ? number < newest : number <= numbers[i - 1]) {
                revert AnchorBackwards(number, i == 0 ? newest : numbers[i - 1]);
            }
            bytes32 hash = l1BlockHash(number);
            if (hash == bytes32(0)) revert UnknownAnchor(number);
            anchors[i] = IExecute.L1Anchor({number: number, blockHash: hash});
        }
        return anchors;
    }

    /// The batch's last anchor's L1 block number.
    function lastAnchor(uint64[] calldata numbers) internal pure returns (uint64) {
        return numbers[numbers.length - 1];
    }

    /// EXECUTE's data: `trace` (calldata mode), or the envelope of this transaction's blobs.
    function data(bytes calldata trace) internal view returns (bytes memory) {
        if (trace.length != 0) return trace;
        uint256 count = blobCount();
        bytes memory envelope = new bytes(1 + 32 * count);
        envelope[0] = 0x01;
        for (uint256 i = 0; i < count; i++) {
            bytes32 hash = blobhash(i);
            assembly ("memory-safe") {
                mstore(add(add(envelope, 33), mul(i, 32)), hash)
            }
        }
        return envelope;
    }

    /// How many blobs this transaction carries: at least one, at most `MAX_BLOBS`.
    function blobCount() internal view returns (uint256 count) {
        while (count < MAX_BLOBS && blobhash(count) != bytes32(0)) count++;
        if (count == 0 || blobhash(count) != bytes32(0)) revert BadBlobCount(count);
    }

    /// EXECUTE's input for `batch` on the head (`preStateRoot`, `parentHash_`, anchors from
    /// `newest` on): `abi.encodeCall(IExecute.execute, (preStateRoot, postStateRoot, gasUsed,
    /// bindings, data(trace)))` with the bindings the bridge builds, written in one pass, each
    /// anchor's hash read as it is placed; and the batch's newest anchor. Refuses anchors as
    /// `readAnchors` does.
    function executeInput(
        bytes32 preStateRoot,
        Batch calldata batch,
        bytes32 parentHash_,
        uint64 newest,
        bytes calldata trace
    ) internal view returns (bytes memory input, uint64 lastAnchor_) {
        uint64[] calldata anchors = batch.anchors;
        if (anchors.length == 0) revert NoAnchor();
        uint256 blobs = trace.length == 0 ? blobCount() : 0;
        uint256 dataLength = blobs == 0 ? trace.length : 1 + 32 * blobs;
        input = executeHead(preStateRoot, batch, parentHash_, anchors.length, dataLength);
        lastAnchor_ = placeAnchors(input, anchors, newest);
        assembly ("memory-safe") {
            // The data, after its length word; first the zeros that pad it to a whole word.
            let start := add(input, add(0x1c4, shl(6, anchors.length)))
            if and(dataLength, 31) { mstore(add(start, and(dataLength, not(31))), 0) }
            switch blobs
            case 0 { calldatacopy(start, trace.offset, trace.length) }
            default {
                mstore8(start, 0x01)
                for { let i := 0 } lt(i, blobs) { i := add(i, 1) } { mstore(add(add(start, 1), shl(5, i)), blobhash(i)) }
            }
        }
    }

    /// EXECUTE's input with everything but the anchors and the data written (memory not
    /// cleared: the callers write every other byte). After the selector: the head (0x00 pre,
    /// 0x20 post, 0x40 gasUsed, 0x60 and 0x80 the offsets of the bindings and the data), the
    /// bindings at 0xa0 (chainId, parent, lastBlockHash, lastNumber, lastTimestamp, 0xc0 the
    /// anchors' offset, then their count and each anchor's number and hash), the data's length
    /// at 0x180 + 64 * anchors, then the data, zero-padded to a whole word.
    function executeHead(
        bytes32 preStateRoot,
        Batch calldata batch,
        bytes32 parentHash_,
        uint256 anchors,
        uint256 dataLength
    ) internal view returns (bytes memory input) {
        bytes4 selector = IExecute.execute.selector;
        uint64 chainId_ = chainId;
        // `checkExtends` read (and so validated) the batch's fields before.
        assembly ("memory-safe") {
            let dataAt := add(0x180, shl(6, anchors))
            let size := add(add(dataAt, 36), and(add(dataLength, 31), not(31)))
            input := mload(0x40)
            mstore(input, size)
            mstore(0x40, add(input, and(add(size, 63), not(31))))
            mstore(add(input, 32), selector)
            let args := add(input, 36)
            mstore(args, preStateRoot)
            calldatacopy(add(args, 0x20), add(batch, 0x80), 0x40) // postStateRoot, gasUsed
            mstore(add(args, 0x60), 0xa0)
            mstore(add(args, 0x80), dataAt)
            mstore(add(args, 0xa0), chainId_)
            mstore(add(args, 0xc0), parentHash_)
            mstore(add(args, 0xe0), calldataload(add(batch, 0x40))) // lastBlockHash
            mstore(add(args, 0x100), calldataload(add(batch, 0x20))) // lastNumber
            mstore(add(args, 0x120), calldataload(add(batch, 0x60))) // lastTimestamp
            mstore(add(args, 0x140), 0xc0)
            mstore(add(args, 0x160), anchors)
            mstore(add(args, dataAt), dataLength)
        }
    }

    /// Writes each anchor's number and the hash the bridge reads for it into EXECUTE's `input`,
    /// refusing any it cannot read and any that goes backwards (from `newest`, then from each
    /// other). Returns the last one's number (`numbers` is not empty).
    function placeAnchors(bytes memory input, uint64[] calldata numbers, uint64 newest)
        internal
        view
        returns (uint64 last)
    {
        uint256 count = numbers.length;
        // The lowest number the next anchor may have.
        uint256 lowest = newest;
        uint256 i = 0;
        while (true) {
            // Anchors in order and among the last 256 blocks, whose hashes `blockhash` reads,
            // in one loop; one that is not (or does not fit 64 bits: `numbers[i]` below refuses
            // it) ends the loop.
            assembly ("memory-safe") {
                let entry := add(add(input, 0x1a4), shl(6, i))
                let at := add(numbers.offset, shl(5, i))
                let end := add(numbers.offset, shl(5, count))
                let current := number()
                for {} lt(at, end) { at := add(at, 0x20) } {
                    let anchor := calldataload(at)
                    // Not below `lowest`, and 1 <= current - anchor <= 256.
                    if or(lt(anchor, lowest), gt(sub(current, add(anchor, 1)), 255)) { break }
                    let hash := blockhash(anchor)
                    if iszero(hash) { break }
                    mstore(entry, anchor)
                    mstore(add(entry, 0x20), hash)
                    entry := add(entry, 0x40)
                    lowest := add(anchor, 1)
                }
                i := shr(5, sub(at, numbers.offset))
            }
            if (i == count) return last = uint64(lowest - 1);
            // One that goes backwards, or one `blockhash` does not serve.
            uint64 anchor = numbers[i];
            if (anchor < lowest) revert AnchorBackwards(anchor, uint64(i == 0 ? lowest : lowest - 1));
            bytes32 hash = l1BlockHash(anchor);
            if (hash == bytes32(0)) revert UnknownAnchor(anchor);
            assembly ("memory-safe") {
                let entry := add(add(input, 0x1a4), shl(6, i))
                mstore(entry, anchor)
                mstore(add(entry, 0x20), hash)
            }
            lowest = uint256(anchor) + 1;
            i++;
        }
    }

    /// Asks EXECUTE with `input` (an encoded `IExecute.execute` call). Reverts when the call
    /// fails or nothing answers (so nobody is slashed for a batch that was not judged).
    function judge(bytes memory input) internal view returns (bool) {
        address execute = executePrecompile;
        bool ok;
        uint256 size;
        uint256 answer;
        assembly ("memory-safe") {
            ok := staticcall(gas(), execute, add(input, 32), mload(input), 0, 32)
            size := returndatasize()
            answer := mload(0)
        }
        if (!ok) revert ExecuteFailed();
        if (size != 32 || answer > 1) revert ExecuteUnavailable();
        return answer == 1;
    }

    /// Whether EXECUTE answers at its address: it judges an empty trace (false); an address
    /// without EXECUTE answers nothing.
    function executeAnswers() internal view returns (bool) {
        IExecute.Bindings memory probe;
        probe.chainId = chainId;
        (bool ok, bytes memory answer) = executePrecompile.staticcall(
            abi.encodeCall(IExecute.execute, (bytes32(0), bytes32(0), 0, probe, hex"c0"))
        );
        return ok && answer.length == 32;
    }

    /// Makes L2 block `number` the head; `h` is the head it replaces, as read.
    function settle(
        Head memory h,
        uint64 number,
        bytes32 blockHash,
        bytes32 stateRoot,
        uint64 anchor,
        address proposer
    ) internal {
        uint64 index = h.settlements;
        unchecked {
            uint256 position = index % history;
            roots_[position] = stateRoot;
            uint256 lane = (position % 4) * 64;
            uint256 lanes = numberLanes_[position / 4];
            numberLanes_[position / 4] = (lanes & ~(uint256(type(uint64).max) << lane)) | (uint256(number) << lane);
            headBlockHash_ = blockHash;
        }
        // The head's slot in one write (assigning the struct writes it a member at a time).
        uint256 packed = uint256(number) | (uint256(anchor) << 64) | (uint256(index + 1) << 128)
            | (h.sequencerCanPropose ? 1 << 192 : 0);
        assembly ("memory-safe") {
            sstore(head_.slot, packed)
        }
        emit BatchSettled(index, number, blockHash, stateRoot, proposer);
    }

    /// The L2 block number of the settlement in ring slot `slot`.
    function numberAt(uint256 slot) internal view returns (uint64) {
        return uint64(numberLanes_[slot / 4] >> ((slot % 4) * 64));
    }

    /// Refuses a sender that may not propose (`canPropose`), reading the sequencer's standing
    /// from the head `h` when there is one sequencer.
    function checkProposer(Head memory h) internal view {
        if (sequencer != address(0)) {
            if (msg.sender != sequencer || !h.sequencerCanPropose) revert NotProposer(msg.sender);
        } else if (!canPropose(msg.sender)) {
            revert NotProposer(msg.sender);
        }
    }

    /// Sets `account`'s bond and withdrawal request, and the sequencer's standing in the head
    /// when `account` is the sequencer.
    function setProposer(address account, Proposer memory state) internal {
        proposers_[account] = state;
        if (account == sequencer) {
            head_.sequencerCanPropose = state.bond >= proposerBond && state.withdrawalRequestedAt == 0;
        }
    }

    /// Takes `proposer`'s bond: `1/rewardDivisor` of it is credited to `challenger` (none when
    /// the divisor is zero), the rest is burned (kept by the bridge, owed to nobody).
    function slash(address proposer, address challenger, uint256 rewardDivisor) internal {
        Proposer memory state = proposers_[proposer];
        uint256 amount = state.bond;
        state.bond = 0;
        setProposer(proposer, state);
        uint256 reward = rewardDivisor == 0 ? 0 : amount / rewardDivisor;
        if (reward != 0) credits[challenger] += reward;
        emit ProposerSlashed(proposer, amount, challenger, reward);
    }

    /// The newest pending claim's block hash, number and newest anchor, or the head's.
    function newestClaimedHead() internal view returns (bytes32, uint64, uint64) {
        if (nextClaim > firstPendingClaim) {
            Claim storage newest = claims[nextClaim - 1];
            return (newest.lastBlockHash, newest.lastNumber, newest.newestAnchor);
        }
        Head memory h = head_;
        return (headBlockHash_, h.number, h.newestAnchor);
    }

    /// The state root and block hash claim `claimId` builds on.
    function parentOf(uint256 claimId) internal view returns (bytes32 stateRoot, bytes32 blockHash) {
        if (claimId > firstPendingClaim) {
            Claim storage parent = claims[claimId - 1];
            return (parent.postStateRoot, parent.lastBlockHash);
        }
        return (roots_[(head_.settlements - 1) % history], headBlockHash_);
    }

    /// What a claim commits to beside its roots.
    function commit(uint256 gasUsed, uint64 lastTimestamp, IExecute.L1Anchor[] memory anchors, bytes32 dataHash)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(gasUsed, lastTimestamp, anchors, dataHash));
    }

    /// The parent hash of an RLP block header: its first field.
    function parentHash(bytes calldata header) internal pure returns (bytes32 hash) {
        uint8 prefix = uint8(header[0]);
        uint256 offset = prefix > 0xf7 ? 1 + (prefix - 0xf7) : 1;
        if (header.length < offset + 33 || uint8(header[offset]) != 0xa0) revert HeaderMismatch(0);
        return bytes32(header[offset + 1:offset + 33]);
    }

    /// Sends `amount` to `to`.
    function pay(address to, uint256 amount) internal {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
