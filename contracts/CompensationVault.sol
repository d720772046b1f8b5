// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @dev The one LogAnchor function the vault reads.
interface ILogAnchorHead {
    function latest(bytes32 logId)
        external
        view
        returns (uint64 size, bytes32 root, uint64 blockNumber);
}

/// @title CompensationVault
/// @notice Pays accepted compensation offers of one complaint log, and only those: a payout
///         must prove, against the tree that `LogAnchor` holds for the log, the officers'
///         offer leaf and the customer's acceptance leaf, and its token, amount and recipient
///         must be exactly what those leaves commit to. Each offer is paid at most once,
///         within per-token caps per payout and per UTC day, and never while paused.
/// @dev Leaves are RFC 8785 JSON; the vault does not parse them. It checks exact texts at
///      offsets the caller names: the leaf's type, and one commitment that it recomputes
///      (ledger/complaints/payouts.py):
///        offer:      "payout_terms":"<hex SHA-256(abi.encode(chainid, vault, token, amount))>"
///        acceptance: "payout":"<hex SHA-256(abi.encode(chainid, vault, token, amount,
///                                                      recipient, offerLeafHash))>"
///      In canonical JSON a quote inside a string is always escaped, so such a text can only
///      be a real key and value. Hashing is RFC 6962 SHA-256 through the precompile at 0x02:
///      leaf = SHA256(0x00 || leaf), node = SHA256(0x01 || left || right).
contract CompensationVault {
    /// @notice Which leaf a refusal is about (ABI: uint8).
    enum LeafRole {
        Offer,
        Acceptance,
        Withdrawal
    }

    /// @notice Everything a payout proves. Offsets are byte positions in the leaf.
    struct Claim {
        address token; // address(0): the chain's native coin
        address recipient;
        uint256 amount; // base units of the token
        uint64 size; // the tree size LogAnchor holds for the log now
        bytes offerLeaf;
        uint256 offerIndex;
        bytes32[] offerProof;
        uint256 offerTypeAt; // "type":"compensation_offered"
        uint256 offerTermsAt; // "payout_terms":"<hex>"
        bytes acceptLeaf;
        uint256 acceptIndex;
        bytes32[] acceptProof;
        uint256 acceptTypeAt; // "type":"compensation_accepted"
        uint256 acceptPayoutAt; // "payout":"<hex>"
    }

    /// @notice What voiding an offer proves: its acceptance (bound to the offer by its payout
    ///         commitment) and the withdrawal that directly follows the acceptance.
    struct Withdrawal {
        bytes32 offerLeafHash;
        address token;
        address recipient;
        uint256 amount;
        uint64 size;
        bytes acceptLeaf;
        uint256 acceptIndex;
        bytes32[] acceptProof;
        uint256 acceptTypeAt;
        uint256 acceptPayoutAt;
        bytes withdrawnLeaf;
        uint256 withdrawnIndex;
        bytes32[] withdrawnProof;
        uint256 withdrawnTypeAt; // "type":"withdrawn"
        uint256 withdrawnPrevAt; // "prev":"<hex acceptance leaf hash>"
    }

    /// @dev Both caps of a token in one storage slot.
    struct Caps {
        uint128 perPayout;
        uint128 daily;
    }

    /// @dev A token's total paid on its last day of payouts, in one slot rewritten in place:
    ///      a new day overwrites the old total instead of opening a fresh slot (a zero to
    ///      non-zero store costs 22,100 gas, a rewrite 5,000). Earlier days' totals are the
    ///      sums of their Paid events.
    struct Spend {
        uint64 day;
        uint192 spent;
    }

    event Paid(
        bytes32 indexed offerLeafHash,
        bytes32 indexed acceptLeafHash,
        address indexed recipient,
        address token,
        uint256 amount,
        uint64 treeSize
    );
    event Voided(bytes32 indexed offerLeafHash, bytes32 indexed withdrawnLeafHash);
    event CapsSet(address indexed token, uint128 perPayout, uint128 daily);
    event Paused(address indexed account);
    event Unpaused(address indexed account);
    event Withdrawn(address indexed token, address indexed to, uint256 amount);
    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// @notice The caller is not the owner.
    error NotOwner(address caller);
    /// @notice The caller is not the account ownership is being transferred to.
    error NotPendingOwner(address caller);
    /// @notice The zero address cannot be the anchor, an owner, a recipient or a destination.
    error ZeroAddress();
    /// @notice Payouts are paused by the owner.
    error IsPaused();
    /// @notice The claim is not built on the tree size LogAnchor holds now.
    error NotAnchoredSize(uint64 anchoredSize, uint64 claimedSize);
    /// @notice A leaf index is not below the anchored tree size: not anchored yet.
    error NotAnchored();
    /// @notice The inclusion proof of that leaf does not lead to the anchored root.
    error InclusionProofInvalid(LeafRole which);
    /// @notice That leaf does not have the expected type at the offset given.
    error WrongLeafType(LeafRole which);
    /// @notice The offer does not commit to this token and amount from this vault.
    error TermsMismatch();
    /// @notice The acceptance does not commit to this token, amount, recipient and offer.
    error PayoutMismatch();
    /// @notice The withdrawal does not name the acceptance as its predecessor.
    error NotSuccessor();
    /// @notice This offer was paid already.
    error AlreadyPaid(bytes32 offerLeafHash);
    /// @notice This offer was voided by a withdrawal shown on chain.
    error OfferVoided(bytes32 offerLeafHash);
    /// @notice The amount exceeds the token's cap per payout (0: the token is not paid at all).
    error OverPayoutCap(uint256 cap, uint256 amount);
    /// @notice Today's payouts in the token plus this one would exceed its daily cap.
    error OverDailyCap(uint256 cap, uint256 spentToday, uint256 amount);
    /// @notice The coin or token transfer failed.
    error TransferFailed();

    bytes32 private constant OFFERED = '"type":"compensation_offered"';
    uint256 private constant OFFERED_LEN = 29;
    bytes32 private constant ACCEPTED = '"type":"compensation_accepted"';
    uint256 private constant ACCEPTED_LEN = 30;
    bytes32 private constant WITHDRAWN = '"type":"withdrawn"';
    uint256 private constant WITHDRAWN_LEN = 18;
    bytes32 private constant TERMS = '"payout_terms":"';
    uint256 private constant TERMS_LEN = 16;
    bytes32 private constant PAYOUT = '"payout":"';
    uint256 private constant PAYOUT_LEN = 10;
    bytes32 private constant PREV = '"prev":"';
    uint256 private constant PREV_LEN = 8;

    // 0x01 in each of the 32 bytes of a word.
    uint256 private constant EVERY_BYTE = type(uint256).max / 0xff;

    uint256 private constant PAID = 1;
    uint256 private constant VOIDED = 2;

    address public immutable anchor;
    bytes32 public immutable logId;

    address public owner;
    bool public paused;
    address public pendingOwner;
    mapping(address token => Caps) public caps;
    mapping(address token => Spend) private _spent;
    // PAID or VOIDED per offer leaf hash: one slot answers both questions.
    mapping(bytes32 offerLeafHash => uint256) private _offers;

    constructor(address anchor_, bytes32 logId_, address owner_) {
        if (anchor_ == address(0) || owner_ == address(0)) revert ZeroAddress();
        anchor = anchor_;
        logId = logId_;
        owner = owner_;
        emit OwnershipTransferred(address(0), owner_);
    }

    /// @notice Funding in the native coin; ERC-20 tokens are simply transferred to the vault.
    receive() external payable {}

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    // --- administration -----------------------------------------------------------------

    /// @notice Caps of `token` (address(0): native coin). Zero per payout stops its payouts.
    function setCaps(address token, uint128 perPayout, uint128 daily) external onlyOwner {
        caps[token] = Caps(perPayout, daily);
        // The owner pays to make the token's daily total slot non-zero, so that no payout
        // ever pays for creating it.
        if (_spent[token].day == 0) _spent[token].day = uint64(block.timestamp / 1 days);
        emit CapsSet(token, perPayout, daily);
    }

    function pause() external onlyOwner {
        paused = true;
        emit Paused(msg.sender);
    }

    function unpause() external onlyOwner {
        paused = false;
        emit Unpaused(msg.sender);
    }

    /// @notice The firm takes funds back (allowed while paused).
    function withdraw(address token, address to, uint256 amount) external onlyOwner {
        if (to == address(0)) revert ZeroAddress();
        _send(token, to, amount);
        emit Withdrawn(token, to, amount);
    }

    /// @notice Two-step transfer: `newOwner` must call acceptOwnership, so a typo cannot lock
    ///         the vault. Passing the zero address cancels a pending transfer.
    function transferOwnership(address newOwner) external onlyOwner {
        pendingOwner = newOwner;
        emit OwnershipTransferStarted(msg.sender, newOwner);
    }

    function acceptOwnership() external {
        if (msg.sender != pendingOwner || msg.sender == address(0)) {
            revert NotPendingOwner(msg.sender);
        }
        emit OwnershipTransferred(owner, msg.sender);
        owner = msg.sender;
        pendingOwner = address(0);
    }

    // --- reading -------------------------------------------------------------------------

    function paidOffers(bytes32 offerLeafHash) external view returns (bool) {
        return _offers[offerLeafHash] == PAID;
    }

    function voided(bytes32 offerLeafHash) external view returns (bool) {
        return _offers[offerLeafHash] == VOIDED;
    }

    /// @notice The UTC day number the daily caps count in now.
    function today() external view returns (uint256) {
        return block.timestamp / 1 days;
    }

    /// @notice What was paid in `token` on UTC day `day`, for today or the last day with
    ///         payouts (0 for any other day: only the latest day's total is kept on chain).
    function spentOn(address token, uint256 day) external view returns (uint256) {
        Spend memory s = _spent[token];
        return s.day == day ? s.spent : 0;
    }

    // --- paying --------------------------------------------------------------------------

    /// @notice Pay an accepted offer. Anyone may send it: the claim proves itself.
    function payout(Claim calldata c) external {
        if (paused) revert IsPaused();
        (bytes32 offerHash, bytes32 acceptHash) = _proven(c);
        address token = c.token;
        address recipient = c.recipient;
        uint256 amount = c.amount;
        if (recipient == address(0)) revert ZeroAddress();
        (bytes32 terms, bytes32 payoutHash) = _commitments(token, amount, recipient, offerHash);
        if (!_hexAt(c.offerLeaf, c.offerTermsAt, TERMS, TERMS_LEN, terms)) revert TermsMismatch();
        if (!_hexAt(c.acceptLeaf, c.acceptPayoutAt, PAYOUT, PAYOUT_LEN, payoutHash)) {
            revert PayoutMismatch();
        }
        uint256 state = _offers[offerHash];
        if (state == PAID) revert AlreadyPaid(offerHash);
        if (state == VOIDED) revert OfferVoided(offerHash);
        // Effects before the transfer: a re-entering recipient finds the offer paid.
        _offers[offerHash] = PAID;
        _spend(token, amount);
        emit Paid(offerHash, acceptHash, recipient, token, amount, c.size);
        _send(token, recipient, amount);
    }

    /// @dev Both leaves proven in the anchored tree and of the right types; their hashes.
    function _proven(Claim calldata c)
        private
        view
        returns (bytes32 offerHash, bytes32 acceptHash)
    {
        uint64 size = c.size;
        bytes32 root = _anchoredRoot(size);
        bytes calldata offerLeaf = c.offerLeaf;
        bytes calldata acceptLeaf = c.acceptLeaf;
        offerHash = _included(offerLeaf, c.offerIndex, size, c.offerProof, root, LeafRole.Offer);
        acceptHash =
            _included(acceptLeaf, c.acceptIndex, size, c.acceptProof, root, LeafRole.Acceptance);
        if (!_textAt(offerLeaf, c.offerTypeAt, OFFERED, OFFERED_LEN)) {
            revert WrongLeafType(LeafRole.Offer);
        }
        if (!_textAt(acceptLeaf, c.acceptTypeAt, ACCEPTED, ACCEPTED_LEN)) {
            revert WrongLeafType(LeafRole.Acceptance);
        }
    }

    /// @notice Void an accepted offer whose acceptance is directly followed on the log by the
    ///         customer's withdrawal. Only that case can be shown on chain (a withdrawal after
    ///         other steps does not name the acceptance); the service's payout worker reads
    ///         the log and never pays after a withdrawal in any case.
    function voidOffer(Withdrawal calldata w) external {
        bytes32 root = _anchoredRoot(w.size);
        bytes32 acceptHash = _included(
            w.acceptLeaf, w.acceptIndex, w.size, w.acceptProof, root, LeafRole.Acceptance
        );
        bytes32 withdrawnHash = _included(
            w.withdrawnLeaf, w.withdrawnIndex, w.size, w.withdrawnProof, root, LeafRole.Withdrawal
        );
        if (!_textAt(w.acceptLeaf, w.acceptTypeAt, ACCEPTED, ACCEPTED_LEN)) {
            revert WrongLeafType(LeafRole.Acceptance);
        }
        if (!_textAt(w.withdrawnLeaf, w.withdrawnTypeAt, WITHDRAWN, WITHDRAWN_LEN)) {
            revert WrongLeafType(LeafRole.Withdrawal);
        }
        (, bytes32 payoutHash) = _commitments(w.token, w.amount, w.recipient, w.offerLeafHash);
        if (!_hexAt(w.acceptLeaf, w.acceptPayoutAt, PAYOUT, PAYOUT_LEN, payoutHash)) {
            revert PayoutMismatch();
        }
        if (!_hexAt(w.withdrawnLeaf, w.withdrawnPrevAt, PREV, PREV_LEN, acceptHash)) {
            revert NotSuccessor();
        }
        uint256 state = _offers[w.offerLeafHash];
        if (state == PAID) revert AlreadyPaid(w.offerLeafHash);
        if (state == VOIDED) revert OfferVoided(w.offerLeafHash);
        _offers[w.offerLeafHash] = VOIDED;
        emit Voided(w.offerLeafHash, withdrawnHash);
    }

    // --- internals -----------------------------------------------------------------------

    /// @dev The root LogAnchor holds for the log, if the claim was built on that very size.
    ///      A plain staticcall into the scratch slots (about 400 gas below a high-level call);
    ///      an anchor that does not answer with the three words counts as nothing anchored.
    function _anchoredRoot(uint64 claimedSize) private view returns (bytes32 root) {
        address anchor_ = anchor;
        bytes32 logId_ = logId;
        bytes4 selector = ILogAnchorHead.latest.selector;
        uint256 size;
        bool ok;
        assembly ("memory-safe") {
            mstore(0x00, selector)
            mstore(0x04, logId_)
            ok := staticcall(gas(), anchor_, 0x00, 0x24, 0x00, 0x40)
            ok := and(ok, gt(returndatasize(), 0x5f))
            size := mload(0x00)
            root := mload(0x20)
        }
        if (!ok) revert NotAnchored();
        if (claimedSize != size) revert NotAnchoredSize(uint64(size), claimedSize);
    }

    /// @dev RFC 9162 section 2.1.3.2: recompute the root from `leaf` at `index` of a tree of
    ///      `size`; return the leaf hash when it is `root`. As in LogAnchor, the proof is read
    ///      straight from calldata and one 65-byte buffer past the free memory pointer holds
    ///      each node preimage (scratch, nothing allocated); the leaf preimage is laid out
    ///      there first. Digests land in the 0x00 scratch slot.
    function _included(
        bytes calldata leaf,
        uint256 index,
        uint256 size,
        bytes32[] calldata proof,
        bytes32 root,
        LeafRole which
    ) private view returns (bytes32 leafHash) {
        if (index >= size) revert NotAnchored();
        bool valid;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore8(buf, 0x00)
            calldatacopy(add(buf, 0x01), leaf.offset, leaf.length)
            // The precompile only fails when out of gas: nothing to report then.
            if iszero(staticcall(gas(), 0x02, buf, add(leaf.length, 0x01), 0x00, 0x20)) {
                revert(0, 0)
            }
            leafHash := mload(0x00)
            let r := leafHash
            mstore8(buf, 0x01)
            let left := add(buf, 0x01)
            let right := add(buf, 0x21)
            let fn := index
            let sn := sub(size, 1)
            let off := proof.offset
            let end := add(off, shl(5, proof.length))
            valid := 1
            for {} lt(off, end) { off := add(off, 0x20) } {
                if iszero(sn) {
                    // Proof too long.
                    valid := 0
                    break
                }
                let p := calldataload(off)
                switch or(and(fn, 1), eq(fn, sn))
                case 0 {
                    mstore(left, r)
                    mstore(right, p)
                }
                default {
                    mstore(left, p)
                    mstore(right, r)
                    if iszero(and(fn, 1)) {
                        for {} and(iszero(and(fn, 1)), iszero(iszero(fn))) {} {
                            fn := shr(1, fn)
                            sn := shr(1, sn)
                        }
                    }
                }
                if iszero(staticcall(gas(), 0x02, buf, 0x41, 0x00, 0x20)) { revert(0, 0) }
                r := mload(0x00)
                fn := shr(1, fn)
                sn := shr(1, sn)
            }
            // Too short when sn is not down to zero.
            valid := and(valid, and(iszero(sn), eq(r, root)))
        }
        if (!valid) revert InclusionProofInvalid(which);
    }

    /// @dev The offer's and the acceptance's commitments: the first is SHA-256 of the first
    ///      four words of the second's preimage, so one layout serves both.
    function _commitments(address token, uint256 amount, address recipient, bytes32 offerHash)
        private
        view
        returns (bytes32 terms, bytes32 payoutHash)
    {
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore(buf, chainid())
            mstore(add(buf, 0x20), address())
            mstore(add(buf, 0x40), token)
            mstore(add(buf, 0x60), amount)
            mstore(add(buf, 0x80), recipient)
            mstore(add(buf, 0xa0), offerHash)
            if iszero(staticcall(gas(), 0x02, buf, 0x80, 0x00, 0x20)) { revert(0, 0) }
            terms := mload(0x00)
            if iszero(staticcall(gas(), 0x02, buf, 0xc0, 0x00, 0x20)) { revert(0, 0) }
            payoutHash := mload(0x00)
        }
    }

    /// @dev Whether `leaf` holds the first `len` bytes of `text` at offset `pos`.
    function _textAt(bytes calldata leaf, uint256 pos, bytes32 text, uint256 len)
        private
        pure
        returns (bool found)
    {
        if (leaf.length < len || pos > leaf.length - len) return false;
        assembly ("memory-safe") {
            let shift := sub(256, shl(3, len))
            found := eq(shr(shift, calldataload(add(leaf.offset, pos))), shr(shift, text))
        }
    }

    /// @dev Whether `leaf` holds, at offset `pos`, the first `len` bytes of `prefix`, then the
    ///      64 lower-case hex characters of `digest`, then a closing quote.
    function _hexAt(bytes calldata leaf, uint256 pos, bytes32 prefix, uint256 len, bytes32 digest)
        private
        pure
        returns (bool found)
    {
        uint256 total = len + 65;
        if (leaf.length < total || pos > leaf.length - total) return false;
        bytes32 high = _hex16(bytes16(digest));
        bytes32 low = _hex16(bytes16(digest << 128));
        assembly ("memory-safe") {
            let p := add(leaf.offset, pos)
            let shift := sub(256, shl(3, len))
            let q := add(p, len)
            found := and(
                and(
                    eq(shr(shift, calldataload(p)), shr(shift, prefix)),
                    eq(byte(0, calldataload(add(q, 0x40))), 0x22)
                ),
                and(eq(calldataload(q), high), eq(calldataload(add(q, 0x20)), low))
            )
        }
    }

    /// @dev 16 bytes as 32 lower-case hex characters, without a loop: spread each nibble into
    ///      its own byte, then add '0' or, for 10..15, 'a' - 10.
    function _hex16(bytes16 data) private pure returns (bytes32 r) {
        uint256 x = uint256(bytes32(data));
        x = (x & 0xffffffffffffffff000000000000000000000000000000000000000000000000)
            | ((x & 0x0000000000000000ffffffffffffffff00000000000000000000000000000000) >> 64);
        x = (x & 0xffffffff000000000000000000000000ffffffff000000000000000000000000)
            | ((x & 0x00000000ffffffff000000000000000000000000ffffffff0000000000000000) >> 32);
        x = (x & 0xffff000000000000ffff000000000000ffff000000000000ffff000000000000)
            | ((x & 0x0000ffff000000000000ffff000000000000ffff000000000000ffff00000000) >> 16);
        x = (x & 0xff000000ff000000ff000000ff000000ff000000ff000000ff000000ff000000)
            | ((x & 0x00ff000000ff000000ff000000ff000000ff000000ff000000ff000000ff0000) >> 8);
        x = ((x & 0xf000f000f000f000f000f000f000f000f000f000f000f000f000f000f000f000) >> 4)
            | ((x & 0x0f000f000f000f000f000f000f000f000f000f000f000f000f000f000f000f00) >> 8);
        unchecked {
            // Per byte: 6 + n carries into the high nibble exactly when n >= 10.
            uint256 letters = ((x + EVERY_BYTE * 6) >> 4) & (EVERY_BYTE * 0x0f);
            r = bytes32(x + EVERY_BYTE * 0x30 + letters * 39);
        }
    }

    /// @dev Apply the token's caps to `amount` and count it in today's total.
    function _spend(address token, uint256 amount) private {
        Caps memory cap = caps[token];
        if (cap.perPayout == 0 || amount > cap.perPayout) {
            revert OverPayoutCap(cap.perPayout, amount);
        }
        uint256 day = block.timestamp / 1 days;
        Spend memory s = _spent[token];
        uint256 spent = s.day == day ? s.spent : 0;
        // No overflow, and the total fits 192 bits: amount <= perPayout < 2**128 and
        // spent < 2**128 (it was at most a daily cap when written).
        unchecked {
            if (spent + amount > cap.daily) revert OverDailyCap(cap.daily, spent, amount);
            _spent[token] = Spend(uint64(day), uint192(spent + amount));
        }
    }

    /// @dev Native coin (token 0) by a plain call; an ERC-20 by `transfer`, accepting a token
    ///      that returns true or, from a contract, nothing at all.
    function _send(address token, address to, uint256 amount) private {
        bool ok;
        if (token == address(0)) {
            assembly ("memory-safe") {
                ok := call(gas(), to, amount, 0, 0, 0, 0)
            }
        } else {
            assembly ("memory-safe") {
                let buf := mload(0x40)
                mstore(buf, shl(224, 0xa9059cbb)) // transfer(address,uint256)
                mstore(add(buf, 0x04), to)
                mstore(add(buf, 0x24), amount)
                ok := call(gas(), token, 0, buf, 0x44, 0x00, 0x20)
                switch returndatasize()
                case 0 { ok := and(ok, iszero(iszero(extcodesize(token)))) }
                default { ok := and(ok, and(gt(returndatasize(), 0x1f), eq(mload(0x00), 1))) }
            }
        }
        if (!ok) revert TransferFailed();
    }
}
