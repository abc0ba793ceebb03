/**
 * The current backend and the memory scopes.
 *
 * A scope (`tidy`) records every tensor created while it is open and disposes, when it
 * closes, all of them except the ones returned or explicitly kept. Parameters, their
 * gradients and optimizer state are kept; everything else a training step makes is freed.
 */
import type { Backend } from "./backend.ts";
import type { Tensor } from "./tensor.ts";

let current: Backend | null = null;
const scopes: Set<Tensor>[] = [];
let live = 0;

/** Makes `backend` the one every new tensor and op uses. */
export function setBackend(backend: Backend): void {
  current = backend;
}

export function getBackend(): Backend {
  if (!current) {
    throw new Error("rnnkit: no backend set; call setBackend(await createBackend(...)) first");
  }
  return current;
}

/** Called by the Tensor constructor. */
export function track(t: Tensor): void {
  live++;
  scopes.at(-1)?.add(t);
}

/** Called when a tensor is disposed. */
export function untrack(t: Tensor): void {
  live--;
  for (const s of scopes) s.delete(t);
}

/** Removes `t` from every open scope so that it outlives them. Returns `t`. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/** Tensors alive in core (created and not yet disposed). */
export function liveTensors(): number {
  return live;
}

type Result = Tensor | Tensor[] | Record<string, Tensor> | number | void;

/**
 * Runs `fn` and disposes every tensor it created, except those it returns (which move to
 * the enclosing scope, if any). Synchronous on purpose: an `await` inside would let other
 * work open and close scopes in between.
 */
export function tidy<T extends Result>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T | undefined;
  try {
    result = fn();
    return result;
  } finally {
    scopes.splice(scopes.lastIndexOf(scope), 1);
    const out = new Set(resultTensors(result));
    for (const t of scope) if (!out.has(t)) t.dispose();
    // Only tensors this scope owned move up: a returned parameter must stay unowned.
    for (const t of out) if (scope.has(t)) scopes.at(-1)?.add(t);
  }
}

function resultTensors(r: Result): Tensor[] {
  if (r === undefined || typeof r === "number") return [];
  if (Array.isArray(r)) return r;
  if (isTensor(r)) return [r];
  return Object.values(r);
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === "object" && x !== null && "shape" in x && "dispose" in x;
}
