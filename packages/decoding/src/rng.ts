/**
 * The seeded generator every strategy samples with. splitmix32 is integer-only, so a seed
 * gives the same stream in Node, Deno, browsers and Workers.
 */
import { splitmix32 } from "@edgespec/runtime";
import { DecodingOptionsError } from "./errors";

export type Rng = () => number;

export function seededRng(seed: number): Rng {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new DecodingOptionsError(`seed must be an integer in [0, 2^32), got ${seed}`);
  return splitmix32(seed);
}
