// Seeded, stateless randomness: every percentage, weight, error and arrival decision
// is a pure function of the scenario's seed and the request's identity (flow, request
// number, hop, attempt), never of shared mutable random state. So request n of a flow
// gets the same decisions on every run, in every process, on every runtime.

/** A number in [0, 1) fixed by the seed and the parts; 53 bits of a cyrb53 hash. */
export function unit(seed: number, ...parts: string[]): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p]!;
    for (let i = 0; i < part.length; i++) {
      const c = part.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    // A separator, so ("ab", "c") and ("a", "bc") differ.
    h1 = Math.imul(h1 ^ 0x1f, 2654435761);
    h2 = Math.imul(h2 ^ 0x1f, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  const bits = 2097152 * (h2 >>> 0) + (h1 >>> 11);
  return bits / 9007199254740992;
}

/** True for `percentage` % of the identities: the same ones every run. */
export function chance(percentage: number, seed: number, ...parts: string[]): boolean {
  if (percentage <= 0) return false;
  if (percentage >= 100) return true;
  return unit(seed, ...parts) * 100 < percentage;
}

/** A seed for runs that do not name one: printed, so a run can be repeated. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 1_000_000);
}
