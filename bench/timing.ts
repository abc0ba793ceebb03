/**
 * How long a measurement runs, shared by rnnkit's runner (measure.ts) and the tfjs-layers
 * peer; no imports, so that a peer stays independent of rnnkit. pytorch_charlm.py follows
 * the same rule.
 */

/**
 * Calls `step` at least `count` times and for at least `minMs` milliseconds; returns the
 * milliseconds per call. A fixed count alone times a 3 ms step over 30 ms, which JIT
 * warm-up and a core waking from idle decide; a fixed duration gives fast steps as many
 * calls as they need.
 */
export async function timeSteps(
  step: () => unknown,
  count: number,
  minMs: number,
): Promise<number> {
  const t0 = performance.now();
  let calls = 0;
  let elapsed = 0;
  while (calls < count || elapsed < minMs) {
    await step();
    calls++;
    elapsed = performance.now() - t0;
  }
  return elapsed / calls;
}
