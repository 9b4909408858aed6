// The staking contract as the wallet calls it, through its ABI from contracts/build.
import { abi } from '../../../contracts/build/Staking.json';
import type { Abi } from 'viem';

export const STAKING_ADDRESS = '0x0000000000000000000000000000000000001000' as const;
export const STAKING_ABI = abi as Abi;
