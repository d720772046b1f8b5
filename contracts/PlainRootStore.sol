// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title PlainRootStore
/// @notice Benchmark baseline only: stores the latest (size, root) per log and emits the same
///         event as LogAnchor, with no submitter check and no consistency proof. The gas
///         difference to LogAnchor.anchor is the price of the on-chain proof check and access
///         control. Do not deploy it for real anchoring: anyone can overwrite any root.
contract PlainRootStore {
    struct Head {
        bytes32 root;
        uint64 size;
        uint64 blockNumber;
    }

    event Anchored(bytes32 indexed logId, uint64 size, bytes32 root, bytes32 noteHash);

    mapping(bytes32 logId => Head) private _heads;

    function latest(bytes32 logId)
        external
        view
        returns (uint64 size, bytes32 root, uint64 blockNumber)
    {
        Head storage h = _heads[logId];
        return (h.size, h.root, h.blockNumber);
    }

    function store(bytes32 logId, uint64 size, bytes32 root, bytes32 noteHash) external {
        Head storage h = _heads[logId];
        h.root = root;
        h.size = size;
        h.blockNumber = uint64(block.number);
        emit Anchored(logId, size, root, noteHash);
    }
}
