// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title LogAnchor
/// @notice Keeps, per transparency log, the last anchored checkpoint (tree size, root hash) and
///         accepts a newer checkpoint only together with a valid RFC 9162 consistency proof
///         (section 2.1.4.2) from the anchored one. The chain itself therefore refuses a
///         rewritten log history instead of merely recording it.
/// @dev Hashing is RFC 6962 SHA-256 (node = SHA256(0x01 || left || right)) through the SHA-256
///      precompile at address 0x02. The first anchor of a log is trust-on-first-use: it carries
///      no proof. A stored size of zero means "nothing anchored yet".
contract LogAnchor {
    /// @dev Two storage slots per log: the root, then size and block number packed together,
    ///      so an anchor rewrites exactly two warm-after-read slots.
    struct Head {
        bytes32 root;
        uint64 size;
        uint64 blockNumber;
    }

    /// @notice A checkpoint of log `logId` was anchored. `noteHash` is SHA-256 of the signed
    ///         checkpoint note text as passed by the submitter (not checked on chain).
    event Anchored(bytes32 indexed logId, uint64 size, bytes32 root, bytes32 noteHash);
    event SubmitterAdded(address indexed account);
    event SubmitterRemoved(address indexed account);
    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// @notice The caller is not the owner.
    error NotOwner(address caller);
    /// @notice The caller is not the account ownership is being transferred to.
    error NotPendingOwner(address caller);
    /// @notice The caller is not an authorised submitter.
    error NotSubmitter(address caller);
    /// @notice The zero address cannot be a submitter or an owner.
    error ZeroAddress();
    /// @notice Tree sizes only grow: the new size must exceed the anchored one.
    error SizeNotIncreasing(uint64 anchoredSize, uint64 newSize);
    /// @notice The first anchor of a log has nothing to be consistent with, so carries no proof.
    error UnexpectedProof();
    /// @notice A consistency proof between different sizes is never empty (RFC 9162 step 1).
    error EmptyProof();
    /// @notice The proof has more nodes than the tree shapes allow.
    error ProofTooLong();
    /// @notice The proof has fewer nodes than the tree shapes need.
    error ProofTooShort();
    /// @notice The proof does not rebuild the anchored root: the log history was rewritten.
    error ProofDoesNotMatchAnchoredRoot();
    /// @notice The proof does not rebuild the proposed new root.
    error ProofDoesNotMatchNewRoot();

    address public owner;
    address public pendingOwner;
    mapping(address account => bool) public isSubmitter;
    mapping(bytes32 logId => Head) private _heads;

    constructor(address initialOwner) {
        if (initialOwner == address(0)) revert ZeroAddress();
        owner = initialOwner;
        emit OwnershipTransferred(address(0), initialOwner);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    // --- administration -----------------------------------------------------------------

    function addSubmitter(address account) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        if (!isSubmitter[account]) {
            isSubmitter[account] = true;
            emit SubmitterAdded(account);
        }
    }

    function removeSubmitter(address account) external onlyOwner {
        if (isSubmitter[account]) {
            isSubmitter[account] = false;
            emit SubmitterRemoved(account);
        }
    }

    /// @notice Two-step transfer: `newOwner` must call acceptOwnership, so a typo cannot brick
    ///         the contract. Passing the zero address cancels a pending transfer.
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

    /// @notice The last anchored checkpoint of `logId`; size 0 when none.
    function latest(bytes32 logId)
        external
        view
        returns (uint64 size, bytes32 root, uint64 blockNumber)
    {
        Head storage h = _heads[logId];
        return (h.size, h.root, h.blockNumber);
    }

    // --- anchoring -----------------------------------------------------------------------

    /// @notice Anchor checkpoint (`size`, `root`) of log `logId`.
    /// @param noteHash SHA-256 of the signed checkpoint note, recorded in the event only.
    /// @param proof RFC 9162 PROOF(anchoredSize, D[size]); empty for the first anchor.
    function anchor(
        bytes32 logId,
        uint64 size,
        bytes32 root,
        bytes32 noteHash,
        bytes32[] calldata proof
    ) external {
        if (!isSubmitter[msg.sender]) revert NotSubmitter(msg.sender);
        Head storage h = _heads[logId];
        uint64 oldSize = h.size;
        if (size <= oldSize) revert SizeNotIncreasing(oldSize, size);
        if (oldSize == 0) {
            if (proof.length != 0) revert UnexpectedProof();
        } else {
            _verifyConsistency(oldSize, size, h.root, root, proof);
        }
        h.root = root;
        h.size = size;
        h.blockNumber = uint64(block.number);
        emit Anchored(logId, size, root, noteHash);
    }

    /// @dev RFC 9162 section 2.1.4.2 for 0 < size1 < size2, reverting with the failing step.
    ///      One assembly loop reads the proof straight from calldata (no copy into memory)
    ///      and lays the 65-byte node preimage 0x01 || left || right out past the free memory
    ///      pointer (scratch use, nothing allocated); digests land in the 0x00 scratch slot.
    ///      The variable names are the RFC's: fn, sn, fr, sr, c.
    function _verifyConsistency(
        uint256 size1,
        uint256 size2,
        bytes32 root1,
        bytes32 root2,
        bytes32[] calldata proof
    ) private view {
        if (proof.length == 0) revert EmptyProof();
        bytes32 fr;
        bytes32 sr;
        uint256 sn;
        bool tooLong;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore8(buf, 0x01)
            let left := add(buf, 0x01)
            let right := add(buf, 0x21)
            let off := proof.offset
            let end := add(off, shl(5, proof.length))
            // Step 2: a power-of-two old tree is a node of the new one; the RFC prepends its
            // root to the path, we start from it instead of building a longer array.
            switch and(size1, sub(size1, 1))
            case 0 { fr := root1 }
            default {
                fr := calldataload(off)
                off := add(off, 0x20)
            }
            sr := fr
            // Steps 3 and 4.
            let fn := sub(size1, 1)
            sn := sub(size2, 1)
            for {} and(fn, 1) {} {
                fn := shr(1, fn)
                sn := shr(1, sn)
            }
            // Step 6. The precompile only fails when out of gas: nothing to report then.
            for {} lt(off, end) { off := add(off, 0x20) } {
                if iszero(sn) {
                    tooLong := 1
                    break
                }
                let c := calldataload(off)
                switch or(and(fn, 1), eq(fn, sn))
                case 0 {
                    // sr = HASH(0x01 || sr || c)
                    mstore(left, sr)
                    mstore(right, c)
                    if iszero(staticcall(gas(), 0x02, buf, 0x41, 0x00, 0x20)) { revert(0, 0) }
                    sr := mload(0x00)
                }
                default {
                    // fr = HASH(0x01 || c || fr), sr = HASH(0x01 || c || sr). Until the two
                    // paths part, fr == sr and one hash serves both.
                    let same := eq(fr, sr)
                    mstore(left, c)
                    mstore(right, fr)
                    if iszero(staticcall(gas(), 0x02, buf, 0x41, 0x00, 0x20)) { revert(0, 0) }
                    fr := mload(0x00)
                    switch same
                    case 1 { sr := fr }
                    default {
                        mstore(right, sr)
                        if iszero(staticcall(gas(), 0x02, buf, 0x41, 0x00, 0x20)) {
                            revert(0, 0)
                        }
                        sr := mload(0x00)
                    }
                    if iszero(and(fn, 1)) {
                        for {} and(iszero(and(fn, 1)), iszero(iszero(fn))) {} {
                            fn := shr(1, fn)
                            sn := shr(1, sn)
                        }
                    }
                }
                fn := shr(1, fn)
                sn := shr(1, sn)
            }
        }
        // Step 7.
        if (tooLong) revert ProofTooLong();
        if (sn != 0) revert ProofTooShort();
        if (fr != root1) revert ProofDoesNotMatchAnchoredRoot();
        if (sr != root2) revert ProofDoesNotMatchNewRoot();
    }
}
