/**
 * The conformance suite is a plain list of named cases, so one set of test files runs
 * under `deno test` (one Deno.test per case) and inside a browser page (webgl) alike.
 */
export interface Case {
  name: string;
  fn: () => void | Promise<void>;
}

export const cases: Case[] = [];

export function test(name: string, fn: () => void | Promise<void>): void {
  cases.push({ name, fn });
}
