/**
 * The current backend and the memory scopes.
 *
 * A scope (`tidy`) records every tensor created while it is open and disposes, when it
 * closes, all of them except the ones returned or explicitly kept. Parameters, their
 * gradients and optimizer state are kept; everything else a training step makes is freed.
 */
import type { Backend } from "./backend.ts";
import { Tensor } from "./tensor.ts";

let current: Backend | null = null;
const scopes: Set<Tensor>[] = [];
let live = 0;

/** Makes `backend` the one every new tensor and op uses. */
export function setBackend(backend: Backend): void {
  current = backend;
}

/** The current backend; an error until `setBackend` has been called. */
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

/**
 * Runs `fn` and disposes every tensor it created, except those it returns (which move to
 * the enclosing scope, if any). The result may be a tensor or any nesting of arrays,
 * tuples, Maps, Sets and objects holding tensors: every tensor found in it is kept, e.g.
 * `const [out, [h, c]] = tidy(() => lstm.forward(x))`. Synchronous on purpose: an `await`
 * inside would let other work open and close scopes in between, so a `fn` that returns a
 * Promise is an error.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T | undefined;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new Error("rnnkit: tidy(fn): fn returned a Promise; tidy takes a synchronous fn");
    }
    return result;
  } finally {
    scopes.splice(scopes.lastIndexOf(scope), 1);
    const out = tensorsIn(result);
    for (const t of scope) if (!out.has(t)) t.dispose();
    // Only tensors this scope owned move up: a returned parameter must stay unowned.
    for (const t of out) if (scope.has(t)) scopes.at(-1)?.add(t);
  }
}

/** Every tensor reachable from `value` through arrays, Maps, Sets and object properties. */
function tensorsIn(value: unknown): Set<Tensor> {
  const found = new Set<Tensor>();
  const seen = new Set<object>();
  const stack = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v !== "object" || v === null || seen.has(v) || ArrayBuffer.isView(v)) continue;
    seen.add(v);
    if (v instanceof Tensor) found.add(v);
    else if (v instanceof Map || v instanceof Set) stack.push(...v.values());
    else stack.push(...Object.values(v));
  }
  return found;
}
