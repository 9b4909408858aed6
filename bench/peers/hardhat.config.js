// The Hardhat node that scripts/bench-peers.sh measures: the same accounts as the other nodes
// (Hardhat's default test mnemonic), 1 s blocks and a 1 Ggas block gas limit.
export default {
  networks: {
    node: {
      type: "edr-simulated",
      chainId: 31337,
      blockGasLimit: 1000000000,
      mining: { auto: false, interval: 1000 },
      accounts: { count: 2000, accountsBalance: "1000000000000000000000000" },
    },
  },
};
