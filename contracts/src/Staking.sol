// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Staking
/// @notice BTCR's staking contract. The chain deploys it at genesis at
///         0x0000000000000000000000000000000000001000 and calls it itself (from the
///         system address) at the end of every block and of every epoch.
///
///         Each validator keeps two pools of tokens counted in shares: the bonded pool,
///         which earns rewards and sets the validator's voting power, and the unbonding
///         pool, which holds what delegators asked back until their unbonding period ends.
///         A slash takes the same fraction from both pools, so every share of the
///         validator loses alike. Rewards are counted per bonded share.
///
///         All amounts are in wei. A proof-of-authority chain deploys the contract too,
///         but refuses every call that would change a stake.
contract Staking {
    /// Caller of the chain's own calls.
    address public constant SYSTEM = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE;
    /// Registered validators, at most.
    uint256 public constant MAX_CANDIDATES = 200;
    /// Validators one delegator may hold positions with.
    uint256 public constant MAX_POSITIONS = 32;
    /// Unbonding entries one delegator may have pending.
    uint256 public constant MAX_UNBONDINGS = 32;
    /// Commission is in basis points of the validator's share of the rewards.
    uint256 public constant MAX_BPS = 10_000;
    uint256 private constant PRECISION = 1e18;

    struct Params {
        uint64 epochLength;
        uint32 maxValidators;
        uint256 minStake;
        uint32 unbondingEpochs;
        uint32 slashBps;
        uint32 jailEpochs;
        bool poa;
    }

    struct Validator {
        bytes publicKey;
        uint16 commissionBps;
        bool registered;
        bool inSet;
        uint64 jailedUntil;
        uint256 tokens;
        uint256 shares;
        uint256 unbondingTokens;
        uint256 unbondingShares;
        uint256 rewardPerShare;
        uint256 commission;
        uint256 slashed;
    }

    struct Delegation {
        uint256 shares;
        uint256 rewardDebt;
        uint256 owed;
        bool listed;
    }

    struct Unbonding {
        address validator;
        uint256 shares;
        uint64 releaseEpoch;
    }

    /// One validator as the views return it. `status`: 0 candidate (registered, not in
    /// the current set), 1 active (in the current set), 2 jailed.
    struct ValidatorInfo {
        address validator;
        bytes publicKey;
        uint16 commissionBps;
        uint8 status;
        uint64 jailedUntil;
        uint256 stake;
        uint256 selfStake;
        uint256 unbonding;
        uint256 slashed;
        uint256 commission;
    }

    struct Position {
        address validator;
        uint256 stake;
        uint256 shares;
        uint256 pendingRewards;
    }

    struct UnbondingInfo {
        address validator;
        uint256 amount;
        uint64 releaseEpoch;
    }

    /// One of the two conflicting messages of double-signing evidence.
    struct SignedMessage {
        /// The block hash it was for; zero for a vote for nil.
        bytes32 value;
        /// For a proposal: its proof-of-lock round plus one, zero for none. Zero for a vote.
        uint64 polRound;
        /// The validator's 64-byte signature (r ‖ s) over SHA-256 of the sign bytes.
        bytes signature;
    }

    event Registered(address indexed validator, uint16 commissionBps, uint256 selfStake);
    event Delegated(address indexed delegator, address indexed validator, uint256 amount, uint256 shares);
    event Undelegated(address indexed delegator, address indexed validator, uint256 amount, uint64 releaseEpoch);
    event Withdrawn(address indexed delegator, uint256 amount);
    event RewardsClaimed(address indexed delegator, uint256 amount);
    event Slashed(address indexed validator, uint64 height, uint256 amount, uint64 jailedUntil);

    Params private params;
    bool public initialized;
    /// The current epoch.
    uint64 public epoch;
    /// Wei the contract owes: stakes, unbonding stakes, rewards and commission not claimed.
    /// Whatever the contract holds above it is new rewards (fees and the block reward).
    uint256 public accounted;
    uint256 public totalActiveStake;
    address[] private candidates;
    address[] private active;
    uint256[] private activeStake;
    mapping(address => Validator) private validators;
    mapping(address => mapping(address => Delegation)) private delegations;
    mapping(address => address[]) private positionsOf;
    mapping(address => Unbonding[]) private unbondingsOf;
    /// keccak256(validator, height) of every slash, so that one fault is punished once.
    mapping(bytes32 => bool) public evidenceUsed;

    modifier onlySystem() {
        require(msg.sender == SYSTEM, "Staking: only the chain calls this");
        _;
    }

    modifier notPoa() {
        require(!params.poa, "Staking: proof-of-authority chain: its validators are fixed at genesis");
        _;
    }

    // ---------------------------------------------------------------- chain calls

    /// Genesis: the parameters and the genesis validators with their self-stakes, which the
    /// chain has already credited to this contract. On a proof-of-authority chain the
    /// stakes are the validators' (equal) powers and nothing is bonded.
    function initialize(
        Params calldata p,
        address[] calldata addrs,
        bytes[] calldata keys,
        uint256[] calldata stakes
    ) external onlySystem {
        require(!initialized, "Staking: already initialized");
        require(addrs.length == keys.length && addrs.length == stakes.length, "Staking: lengths differ");
        initialized = true;
        params = p;
        uint256 total;
        for (uint256 i = 0; i < addrs.length; i++) {
            require(_keyAddress(keys[i]) == addrs[i], "Staking: a genesis key does not match its address");
            _addValidator(addrs[i], keys[i], 0);
            if (!p.poa) {
                accounted += stakes[i];
                _delegate(addrs[i], addrs[i], stakes[i]);
            }
            validators[addrs[i]].inSet = true;
            active.push(addrs[i]);
            activeStake.push(stakes[i]);
            total += stakes[i];
        }
        totalActiveStake = total;
    }

    /// End of every block: what the contract received beyond what it owes (priority fees
    /// and the block reward) is shared by the current set in proportion to stake. Each
    /// validator keeps its commission; the rest goes to its bonded shares.
    ///
    ///         A validator earns on the stake that was both elected with it and is still
    ///         bonded: stake undelegated or slashed since the election earns nothing, so a
    ///         1-wei delegation to a validator emptied since earns a 1-wei part, not the
    ///         validator's whole reward.
    function onBlock() external onlySystem {
        uint256 incoming = address(this).balance - accounted;
        if (incoming == 0 || params.poa) return;
        uint256 n = active.length;
        uint256[] memory earning = new uint256[](n);
        uint256 total;
        for (uint256 i = 0; i < n; i++) {
            uint256 bonded = validators[active[i]].tokens;
            earning[i] = bonded < activeStake[i] ? bonded : activeStake[i];
            total += earning[i];
        }
        if (total == 0) return;
        uint256 given;
        for (uint256 i = 0; i < n; i++) {
            Validator storage v = validators[active[i]];
            uint256 part = incoming * earning[i] / total;
            uint256 cut = part * v.commissionBps / MAX_BPS;
            uint256 rest = part - cut;
            if (v.shares == 0) {
                cut = part;
            } else {
                v.rewardPerShare += rest * PRECISION / v.shares;
            }
            v.commission += cut;
            given += part;
        }
        accounted += given;
    }

    /// End of the last block of an epoch: the next epoch begins, and its set is the
    /// registered validators that are not jailed and hold at least the minimum stake, the
    /// largest stakes first (ties by address), at most `maxValidators`. A selection that
    /// would leave no validator keeps the current set. Validators left out with less than
    /// the minimum stake are deregistered.
    function onEpochEnd() external onlySystem {
        epoch += 1;
        if (params.poa) return;
        uint256 n = candidates.length;
        address[] memory picked = new address[](n);
        uint256[] memory stakes = new uint256[](n);
        uint256 m;
        for (uint256 i = 0; i < n; i++) {
            address a = candidates[i];
            Validator storage v = validators[a];
            if (v.tokens < params.minStake || v.jailedUntil > epoch) continue;
            // Insertion into the sorted prefix.
            uint256 j = m;
            while (j > 0 && _before(a, v.tokens, picked[j - 1], stakes[j - 1])) {
                picked[j] = picked[j - 1];
                stakes[j] = stakes[j - 1];
                j--;
            }
            picked[j] = a;
            stakes[j] = v.tokens;
            m++;
        }
        if (m == 0) return;
        uint256 k = m < params.maxValidators ? m : params.maxValidators;
        for (uint256 i = 0; i < active.length; i++) validators[active[i]].inSet = false;
        delete active;
        delete activeStake;
        uint256 total;
        for (uint256 i = 0; i < k; i++) {
            active.push(picked[i]);
            activeStake.push(stakes[i]);
            validators[picked[i]].inSet = true;
            total += stakes[i];
        }
        totalActiveStake = total;
        // Validators outside the set with less than the minimum stake are deregistered, so
        // that registrations cannot fill the candidate list for good. Their delegators can
        // still undelegate, withdraw and claim; the operator may register again.
        uint256 c = 0;
        while (c < candidates.length) {
            Validator storage v = validators[candidates[c]];
            if (v.inSet || v.tokens >= params.minStake) {
                c++;
                continue;
            }
            v.registered = false;
            candidates[c] = candidates[candidates.length - 1];
            candidates.pop();
        }
    }

    // ---------------------------------------------------------------- staking

    /// Registers the sender as a validator. `publicKey` is its 64-byte uncompressed
    /// secp256k1 consensus key (x ‖ y), whose address must be the sender: the validator
    /// signs this transaction with its consensus key. The value sent is its self-stake.
    /// When `MAX_CANDIDATES` are registered, the candidate outside the set with the least
    /// stake gives way to a registration whose self-stake is larger than that stake (and
    /// is deregistered, its delegators keeping their stakes to undelegate), so that
    /// registrations at the minimum stake cannot fill the list for good.
    function register(bytes calldata publicKey, uint16 commissionBps) external payable notPoa {
        require(publicKey.length == 64, "Staking: publicKey must be the 64-byte uncompressed key");
        require(_keyAddress(publicKey) == msg.sender, "Staking: publicKey is not the sender's key");
        require(!validators[msg.sender].registered, "Staking: already registered");
        require(commissionBps <= MAX_BPS, "Staking: commission above 100%");
        require(msg.value >= params.minStake, "Staking: self-stake below the minimum stake");
        if (candidates.length >= MAX_CANDIDATES) _makeRoomFor(msg.value);
        _addValidator(msg.sender, publicKey, commissionBps);
        accounted += msg.value;
        _delegate(msg.sender, msg.sender, msg.value);
        emit Registered(msg.sender, commissionBps, msg.value);
    }

    /// Bonds the value sent to `validator`.
    function delegate(address validator) external payable notPoa {
        require(validators[validator].registered, "Staking: no such validator");
        require(msg.value > 0, "Staking: nothing to delegate");
        accounted += msg.value;
        _delegate(validator, msg.sender, msg.value);
    }

    /// Starts unbonding `amount` wei of the sender's stake with `validator`; it can be
    /// withdrawn once `unbondingEpochs` whole epochs have passed. Until then it can still
    /// be slashed, also once the validator is deregistered, and it earns nothing.
    function undelegate(address validator, uint256 amount) external notPoa {
        Validator storage v = validators[validator];
        Delegation storage d = delegations[validator][msg.sender];
        require(amount > 0, "Staking: nothing to undelegate");
        require(v.tokens > 0, "Staking: the delegation holds no stake");
        require(unbondingsOf[msg.sender].length < MAX_UNBONDINGS, "Staking: too many unbondings pending; withdraw first");
        uint256 shares = (amount * v.shares + v.tokens - 1) / v.tokens;
        require(shares <= d.shares, "Staking: amount exceeds the delegation");
        _settle(v, d);
        d.shares -= shares;
        d.rewardDebt = d.shares * v.rewardPerShare / PRECISION;
        v.shares -= shares;
        v.tokens -= amount;
        if (v.unbondingTokens == 0) v.unbondingShares = 0;
        uint256 unbondingShares =
            v.unbondingShares == 0 ? amount : amount * v.unbondingShares / v.unbondingTokens;
        v.unbondingTokens += amount;
        v.unbondingShares += unbondingShares;
        // One epoch more than the period, so that at least `unbondingEpochs` whole epochs
        // (the window in which evidence is accepted) pass before the stake can leave.
        uint64 release = epoch + params.unbondingEpochs + 1;
        unbondingsOf[msg.sender].push(Unbonding(validator, unbondingShares, release));
        emit Undelegated(msg.sender, validator, amount, release);
    }

    /// Pays out every unbonding of the sender whose period has ended.
    function withdraw() external notPoa returns (uint256 amount) {
        Unbonding[] storage list = unbondingsOf[msg.sender];
        uint256 i = 0;
        while (i < list.length) {
            Unbonding storage u = list[i];
            if (u.releaseEpoch > epoch) {
                i++;
                continue;
            }
            Validator storage v = validators[u.validator];
            uint256 tokens = v.unbondingShares == 0 ? 0 : u.shares * v.unbondingTokens / v.unbondingShares;
            v.unbondingShares -= u.shares;
            v.unbondingTokens -= tokens;
            amount += tokens;
            list[i] = list[list.length - 1];
            list.pop();
        }
        require(amount > 0, "Staking: nothing to withdraw yet");
        _pay(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    /// Pays the sender's rewards from every position, and its commission if it is a
    /// validator.
    function claimRewards() external notPoa returns (uint256 amount) {
        address[] storage list = positionsOf[msg.sender];
        uint256 i = 0;
        while (i < list.length) {
            Validator storage v = validators[list[i]];
            Delegation storage d = delegations[list[i]][msg.sender];
            _settle(v, d);
            amount += d.owed;
            d.owed = 0;
            if (d.shares == 0) {
                d.listed = false;
                list[i] = list[list.length - 1];
                list.pop();
            } else {
                i++;
            }
        }
        Validator storage own = validators[msg.sender];
        amount += own.commission;
        own.commission = 0;
        require(amount > 0, "Staking: no rewards to claim");
        _pay(msg.sender, amount);
        emit RewardsClaimed(msg.sender, amount);
    }

    /// Evidence that `validator` signed two different messages of one kind (0 proposal,
    /// 1 prevote, 2 precommit, 3 the signed end of a proposal stream) at `height` and
    /// `round`. Anyone may submit it; the nodes do when their consensus engine sees it. The
    /// validator loses `slashBps` of its bonded and unbonding stake (burned) and is left out
    /// of the next `jailEpochs` sets. Evidence must be newer than the unbonding period, and
    /// one height is punished once. A validator deregistered since (it undelegated
    /// everything, or gave way to a larger registration) is still slashed: its stake is
    /// unbonding for the whole period the evidence is accepted in.
    function submitEvidence(
        address validator,
        uint64 height,
        uint32 round,
        uint8 kind,
        SignedMessage calldata first,
        SignedMessage calldata second
    ) external notPoa {
        Validator storage v = validators[validator];
        require(v.publicKey.length != 0, "Staking: no such validator");
        require(kind <= 3, "Staking: unknown kind of evidence");
        require(height < block.number, "Staking: evidence from a future height");
        require(
            block.number - height <= uint256(params.unbondingEpochs) * params.epochLength,
            "Staking: evidence older than the unbonding period"
        );
        bytes32 id = keccak256(abi.encodePacked(validator, height));
        require(!evidenceUsed[id], "Staking: already slashed for this height");
        bytes memory a = _signBytes(validator, height, round, kind, first);
        bytes memory b = _signBytes(validator, height, round, kind, second);
        require(keccak256(a) != keccak256(b), "Staking: the two messages are the same");
        require(
            _signedBy(a, first.signature, validator) && _signedBy(b, second.signature, validator),
            "Staking: a signature does not verify"
        );
        evidenceUsed[id] = true;
        uint256 cut = v.tokens * params.slashBps / MAX_BPS;
        uint256 unbondingCut = v.unbondingTokens * params.slashBps / MAX_BPS;
        v.tokens -= cut;
        v.unbondingTokens -= unbondingCut;
        v.slashed += cut + unbondingCut;
        uint64 until = epoch + params.jailEpochs + 1;
        if (until > v.jailedUntil) v.jailedUntil = until;
        accounted -= cut + unbondingCut;
        // Burned: sent where nobody holds a key.
        (bool ok,) = payable(address(0)).call{value: cut + unbondingCut}("");
        require(ok, "Staking: burning the slashed stake failed");
        emit Slashed(validator, height, cut + unbondingCut, v.jailedUntil);
    }

    // ---------------------------------------------------------------- views

    function getParams() external view returns (Params memory) {
        return params;
    }

    /// The current set: addresses, 64-byte public keys and stakes, in the set's order.
    function activeValidators()
        external
        view
        returns (address[] memory addrs, bytes[] memory keys, uint256[] memory stakes)
    {
        addrs = active;
        stakes = activeStake;
        keys = new bytes[](addrs.length);
        for (uint256 i = 0; i < addrs.length; i++) keys[i] = validators[addrs[i]].publicKey;
    }

    /// Every registered validator.
    function getValidators() external view returns (ValidatorInfo[] memory out) {
        out = new ValidatorInfo[](candidates.length);
        for (uint256 i = 0; i < candidates.length; i++) out[i] = _info(candidates[i]);
    }

    function getValidator(address validator) external view returns (ValidatorInfo memory) {
        require(validators[validator].registered, "Staking: no such validator");
        return _info(validator);
    }

    /// A delegator's positions: stake (in wei, after any slash), shares and pending rewards.
    function getPositions(address delegator) external view returns (Position[] memory out) {
        address[] storage list = positionsOf[delegator];
        out = new Position[](list.length);
        for (uint256 i = 0; i < list.length; i++) {
            Validator storage v = validators[list[i]];
            Delegation storage d = delegations[list[i]][delegator];
            out[i] = Position(list[i], _tokensOf(v, d.shares), d.shares, _pending(v, d));
        }
    }

    function getUnbondings(address delegator) external view returns (UnbondingInfo[] memory out) {
        Unbonding[] storage list = unbondingsOf[delegator];
        out = new UnbondingInfo[](list.length);
        for (uint256 i = 0; i < list.length; i++) {
            Validator storage v = validators[list[i].validator];
            uint256 amount =
                v.unbondingShares == 0 ? 0 : list[i].shares * v.unbondingTokens / v.unbondingShares;
            out[i] = UnbondingInfo(list[i].validator, amount, list[i].releaseEpoch);
        }
    }

    /// Everything `claimRewards` would pay `delegator` now.
    function pendingRewards(address delegator) external view returns (uint256 amount) {
        address[] storage list = positionsOf[delegator];
        for (uint256 i = 0; i < list.length; i++) {
            amount += _pending(validators[list[i]], delegations[list[i]][delegator]);
        }
        amount += validators[delegator].commission;
    }

    // ---------------------------------------------------------------- internals

    function _addValidator(address a, bytes calldata publicKey, uint16 commissionBps) internal {
        Validator storage v = validators[a];
        v.publicKey = publicKey;
        v.commissionBps = commissionBps;
        v.registered = true;
        candidates.push(a);
    }

    /// Deregisters the candidate outside the set with the least stake, if `selfStake` is
    /// larger than it; reverts otherwise.
    function _makeRoomFor(uint256 selfStake) internal {
        uint256 n = candidates.length;
        uint256 least = n;
        uint256 leastStake = type(uint256).max;
        for (uint256 i = 0; i < n; i++) {
            Validator storage v = validators[candidates[i]];
            if (!v.inSet && v.tokens < leastStake) {
                least = i;
                leastStake = v.tokens;
            }
        }
        require(
            least < n && selfStake > leastStake,
            "Staking: too many validators registered; a self-stake above the least candidate's stake is needed"
        );
        validators[candidates[least]].registered = false;
        candidates[least] = candidates[n - 1];
        candidates.pop();
    }

    function _delegate(address validator, address delegator, uint256 amount) internal {
        Validator storage v = validators[validator];
        Delegation storage d = delegations[validator][delegator];
        require(v.shares == 0 || v.tokens > 0, "Staking: the validator has no stake left");
        if (!d.listed) {
            require(positionsOf[delegator].length < MAX_POSITIONS, "Staking: too many positions; claim or undelegate first");
            positionsOf[delegator].push(validator);
            d.listed = true;
        }
        _settle(v, d);
        uint256 shares = v.shares == 0 ? amount : amount * v.shares / v.tokens;
        require(shares > 0, "Staking: amount too small");
        v.tokens += amount;
        v.shares += shares;
        d.shares += shares;
        d.rewardDebt = d.shares * v.rewardPerShare / PRECISION;
        emit Delegated(delegator, validator, amount, shares);
    }

    function _settle(Validator storage v, Delegation storage d) internal {
        uint256 earned = d.shares * v.rewardPerShare / PRECISION;
        d.owed += earned - d.rewardDebt;
        d.rewardDebt = earned;
    }

    function _pending(Validator storage v, Delegation storage d) internal view returns (uint256) {
        return d.owed + d.shares * v.rewardPerShare / PRECISION - d.rewardDebt;
    }

    function _tokensOf(Validator storage v, uint256 shares) internal view returns (uint256) {
        return v.shares == 0 ? 0 : shares * v.tokens / v.shares;
    }

    function _info(address a) internal view returns (ValidatorInfo memory) {
        Validator storage v = validators[a];
        uint8 status = v.jailedUntil > epoch ? 2 : (v.inSet ? 1 : 0);
        return ValidatorInfo(
            a,
            v.publicKey,
            v.commissionBps,
            status,
            v.jailedUntil,
            v.tokens,
            _tokensOf(v, delegations[a][a].shares),
            v.unbondingTokens,
            v.slashed,
            v.commission
        );
    }

    function _pay(address to, uint256 amount) internal {
        accounted -= amount;
        (bool ok,) = payable(to).call{value: amount}("");
        require(ok, "Staking: payment failed");
    }

    /// Larger stake first; equal stakes by address.
    function _before(address a, uint256 stakeA, address b, uint256 stakeB) internal pure returns (bool) {
        return stakeA > stakeB || (stakeA == stakeB && a < b);
    }

    function _keyAddress(bytes calldata publicKey) internal pure returns (address) {
        return address(uint160(uint256(keccak256(publicKey))));
    }

    /// The bytes a validator signs for a proposal or vote (see the consensus crate).
    function _signBytes(address validator, uint64 height, uint32 round, uint8 kind, SignedMessage calldata m)
        internal
        view
        returns (bytes memory)
    {
        if (kind == 3) {
            // Two proposal streams: what each stream's Fin part signed.
            int64 pol3 = m.polRound == 0 ? int64(-1) : int64(m.polRound - 1);
            return abi.encodePacked(
                "btcr/bft/parts", bytes1(0), uint64(block.chainid), height, int64(uint64(round)), validator, pol3, m.value
            );
        }
        string memory tag = kind == 0 ? "btcr/bft/proposal" : (kind == 1 ? "btcr/bft/prevote" : "btcr/bft/precommit");
        bytes memory head =
            abi.encodePacked(tag, bytes1(0), uint64(block.chainid), height, int64(uint64(round)));
        if (kind == 0) {
            int64 pol = m.polRound == 0 ? int64(-1) : int64(m.polRound - 1);
            return abi.encodePacked(head, m.value, pol, validator);
        }
        if (m.value == bytes32(0)) return abi.encodePacked(head, bytes1(0), validator);
        return abi.encodePacked(head, bytes1(0x01), m.value, validator);
    }

    function _signedBy(bytes memory message, bytes calldata signature, address signer)
        internal
        pure
        returns (bool)
    {
        if (signature.length != 64) return false;
        bytes32 digest = sha256(message);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        return ecrecover(digest, 27, r, s) == signer || ecrecover(digest, 28, r, s) == signer;
    }
}
