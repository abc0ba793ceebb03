// Item 24 of the reliability issue: only a crash after every test passed counts as one.
import assert from "node:assert/strict";
import { denoTestResult } from "../deno_test_result.ts";

const summary = (passed: number, failed: number) =>
  `ok | ${passed} passed (3 steps) | ${failed} failed (1s)\n`;

Deno.test("deno test result: a clean run", () => {
  assert.deepEqual(denoTestResult(0, summary(12, 0)), {
    passed: 12,
    failed: 0,
    crashedAfterPassing: false,
  });
});

Deno.test("deno test result: a crash at exit after every test passed", () => {
  assert.deepEqual(denoTestResult(134, summary(12, 0)), {
    passed: 12,
    failed: 1,
    crashedAfterPassing: true,
  });
});

Deno.test("deno test result: failed tests, or no summary, are never a crash at exit", () => {
  assert.deepEqual(denoTestResult(1, summary(10, 2)), {
    passed: 10,
    failed: 2,
    crashedAfterPassing: false,
  });
  assert.deepEqual(denoTestResult(1, "error: Module not found\n"), {
    passed: 0,
    failed: 1,
    crashedAfterPassing: false,
  });
});
