// One seeded pseudo-random generator for the whole course: mulberry32 (Tommy
// Ettinger, public domain). Same seed, same numbers, everywhere — weight
// initialisation and shuffling (lib/train), synthetic test data, and phi-2's random
// benchmark weights (lib/phi2/random, which also needs to jump to the i-th number).
//
// mulberry32 keeps one 32-bit state that advances by a constant per call, so the
// i-th output can be computed directly.

/** What the state advances by per number. */
export const STEP = 0x6d2b79f5;

/** The mulberry32 output (in [0, 1)) for state `a` (after the step). */
export function mix(a: number): number {
  let t = Math.imul(a ^ (a >>> 15), 1 | a);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Classic mulberry32: returns a generator of uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + STEP) | 0;
    return mix(a);
  };
}

/** The output number `index` (0-based) of mulberry32(seed), without running the first ones. */
export function mulberry32At(seed: number, index: number): number {
  // state after index+1 steps = seed + (index+1) * STEP  (mod 2^32)
  // Math.imul multiplies mod 2^32, which is all the state keeps.
  const a = (seed + Math.imul((index + 1) >>> 0, STEP)) | 0;
  return mix(a);
}
