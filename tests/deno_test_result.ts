/** Reading `deno test`'s outcome from its exit code and output (used by tests/run.ts). */

/** What one `deno test` process did. */
export interface DenoTestResult {
  passed: number;
  /** Failed tests, or 1 when the process failed without a summary line. */
  failed: number;
  /**
   * Every test passed and the process then exited non-zero: the crash at exit that Deno's
   * WebGPU on Mesa has shown ("double free or corruption"), not a test failure.
   */
  crashedAfterPassing: boolean;
}

/** The outcome of a `deno test` run that printed `out` and exited with `code`. */
export function denoTestResult(code: number, out: string): DenoTestResult {
  const m = out.match(/(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/);
  const passed = m ? Number(m[1]) : 0;
  const failed = m ? Number(m[2]) : 0;
  return {
    passed,
    failed: failed || (code !== 0 ? 1 : 0),
    crashedAfterPassing: code !== 0 && m !== null && failed === 0,
  };
}
