// Proxy addresses: each gateway a block of the pool, each machine an address inside its block.
import { type Cidr, formatIpv4, parseIpv4, subBlock, subBlockCount } from "@meetpoint/common";

export interface ProxyPool {
  pool: Cidr;
  blockPrefix: number;
  /** Ranges inside the pool that are never handed out (the tunnel pool). */
  reserved?: Cidr[];
}

function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + 2 ** (32 - b.prefix) && b.base < a.base + 2 ** (32 - a.prefix);
}

/** The lowest block index not in `used` and not reserved, or null when every block is taken. */
export function freeBlock(pool: ProxyPool, used: Iterable<number>): number | null {
  const taken = new Set(used);
  const count = subBlockCount(pool.pool, pool.blockPrefix);
  for (let index = 0; index < count; index++) {
    if (taken.has(index)) continue;
    const block = subBlock(pool.pool, pool.blockPrefix, index);
    if (block && !(pool.reserved ?? []).some((r) => overlaps(block, r))) return index;
  }
  return null;
}

export function blockOf(pool: ProxyPool, index: number): Cidr {
  const block = subBlock(pool.pool, pool.blockPrefix, index);
  if (!block) throw new Error(`proxy block ${index} lies outside the pool`);
  return block;
}

/**
 * The lowest address of the block not in `used`, skipping the block's first and last address
 * (they read as network and broadcast addresses to people and some tools); null when full.
 */
export function freeAddress(block: Cidr, used: Iterable<string>): string | null {
  const taken = new Set([...used].map(parseIpv4));
  const size = 2 ** (32 - block.prefix);
  for (let offset = 1; offset < size - 1; offset++) {
    if (!taken.has(block.base + offset)) return formatIpv4(block.base + offset);
  }
  return null;
}
