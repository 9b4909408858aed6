// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title GreedyToken
/// @notice Test helper: looks like an ERC-20 (its constructor emits `Transfer` to the
///         deployer), but each of its views burns nearly all the gas it is given before
///         answering. It shows that a node bounds the work its explorer does for tokens.
contract GreedyToken {
    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor() {
        emit Transfer(address(0), msg.sender, 1);
    }

    /// Spins until less than 5,000 gas is left.
    function _burn() private view {
        uint256 x;
        while (gasleft() > 5_000) {
            x += 1;
        }
    }

    function name() external view returns (string memory) {
        _burn();
        return "Greedy";
    }

    function symbol() external view returns (string memory) {
        _burn();
        return "GRD";
    }

    function decimals() external view returns (uint8) {
        _burn();
        return 18;
    }

    function balanceOf(address) external view returns (uint256) {
        _burn();
        return 1;
    }
}
