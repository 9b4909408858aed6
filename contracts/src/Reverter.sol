// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title Reverter
/// @notice Test helper for the BTCR EVM: reverts in various ways and keeps a
///         single storage slot whose writes emit an event.
contract Reverter {
    /// Custom error used by `failCustom`.
    error CustomFailure(uint256 code, string reason);

    event ValueSet(address indexed sender, uint256 oldValue, uint256 newValue);

    uint256 private value;

    /// Always reverts with `Error(string)` reason "Reverter: always fails".
    function fail() external pure {
        revert("Reverter: always fails");
    }

    /// Always reverts with the custom error `CustomFailure(42, "custom")`.
    function failCustom() external pure {
        revert CustomFailure(42, "custom");
    }

    function set(uint256 newValue) external {
        uint256 old = value;
        value = newValue;
        emit ValueSet(msg.sender, old, newValue);
    }

    function get() external view returns (uint256) {
        return value;
    }
}
