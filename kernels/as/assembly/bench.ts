// Memory-bandwidth probe for the roofline: a SIMD sum over a large buffer, four
// independent accumulators so the adds never wait on each other.
import { hsum } from "./common";

export function stream_sum(p: usize, bytes: i32): f32 {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  const end = p + (<usize>bytes & ~(<usize>63));
  while (p < end) {
    a0 = f32x4.add(a0, v128.load(p));
    a1 = f32x4.add(a1, v128.load(p, 16));
    a2 = f32x4.add(a2, v128.load(p, 32));
    a3 = f32x4.add(a3, v128.load(p, 48));
    p += 64;
  }
  return hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
}
