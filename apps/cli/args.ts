/**
 * Command-line parsing shared by the CLI's commands: `node:util`'s parseArgs (strict, so an
 * unknown flag is an error) plus checked conversions that name the flag and the bad value.
 */
import { parseArgs } from "node:util";

/** A mistake in how the command was called: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

export type FlagSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

export function parse(
  argv: string[],
  spec: FlagSpec,
): Record<string, string | boolean | undefined> {
  // parseArgs reads "--epochs -1" as a missing value; join such pairs so the range check
  // can report the number itself.
  const args = argv.flatMap((a, i) =>
    spec[a.slice(2)]?.type === "string" && /^-\d/.test(argv[i + 1] ?? "")
      ? [`${a}=${argv[i + 1]}`]
      : i > 0 && spec[argv[i - 1].slice(2)]?.type === "string" && /^-\d/.test(a)
      ? []
      : [a]
  );
  // parseArgs keeps the last of a repeated flag: a typo's silent override. Refuse it.
  for (const [name, { short }] of Object.entries(spec)) {
    const times = args.filter((a) =>
      a === `--${name}` || a.startsWith(`--${name}=`) || (short && a === `-${short}`)
    ).length;
    if (times > 1) {
      throw new UsageError(`--${name} is given ${times} times; give it once`);
    }
  }
  try {
    return parseArgs({ args, options: spec, strict: true, allowPositionals: false }).values;
  } catch (e) {
    // parseArgs' messages already name the flag; drop its hint about positionals.
    throw new UsageError((e as Error).message.replace(/\. To specify a positional.*$/s, ""));
  }
}

/**
 * An integer flag in [min, max] (default: up to 2^53 - 1, the largest exact integer),
 * written in decimal digits only (no "0x10", "1e3" or "16.0"), or `undefined` when absent.
 */
export function intFlag(
  values: Record<string, unknown>,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^-?\d+$/.test(String(raw)) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    const upTo = max === Number.MAX_SAFE_INTEGER ? " (up to 2^53 - 1)" : "";
    throw new UsageError(`--${name} must be a whole number ${range}${upTo}, got "${raw}"`);
  }
  return n;
}

/** "1 character", "2 characters". */
export function plural(n: number, noun: string): string {
  return `${n.toLocaleString("en-US")} ${noun}${n === 1 ? "" : "s"}`;
}

/** A finite number flag > 0 (or >= 0 when allowZero), or `undefined` when absent. */
export function numberFlag(
  values: Record<string, unknown>,
  name: string,
  allowZero = false,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (String(raw).trim() === "" || !Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    throw new UsageError(`--${name} must be a number ${allowZero ? ">=" : ">"} 0, got "${raw}"`);
  }
  return n;
}

/** One of `choices`, or `fallback` when absent. */
export function choiceFlag<T extends string>(
  values: Record<string, unknown>,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const raw = values[name] ?? fallback;
  if (!(choices as readonly unknown[]).includes(raw)) {
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}; got "${raw}"`);
  }
  return raw as T;
}

/** Runs a command's main, turning errors into a message on stderr and an exit code. */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    const err = e as Error;
    console.error(`error: ${err.message.replace(/^rnnkit: /, "")}`);
    if (Deno.env.get("RNNKIT_DEBUG")) console.error(err.stack);
    Deno.exit(e instanceof UsageError ? 2 : 1);
  }
}
