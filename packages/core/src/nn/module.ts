/**
 * Module: the base of every layer. Parameters and submodules are registered by name, in
 * order, so that `stateDict()` yields PyTorch's keys in PyTorch's order.
 */
import { keep } from "../engine.ts";
import { tensor } from "../ops.ts";
import type { Random } from "../random.ts";
import { noGrad, Tensor } from "../tensor.ts";

/** A tensor or plain host values, as found in fixtures and checkpoints. */
export type TensorLike = Tensor | { shape: readonly number[]; data: ArrayLike<number> };

export abstract class Module {
  training = true;
  readonly #params = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  /** Registers a trainable tensor under a PyTorch state-dict name. */
  protected registerParameter(
    name: string,
    values: Float32Array,
    shape: readonly number[],
  ): Tensor {
    const p = keep(noGrad(() => tensor(values, shape)));
    p.requiresGrad = true;
    this.#params.set(name, p);
    return p;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this.#children.set(name, module);
    return module;
  }

  /** [name, parameter] pairs with dotted PyTorch names, in registration order. */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, p] of this.#params) out.push([prefix + name, p]);
    for (const [name, m] of this.#children) out.push(...m.namedParameters(`${prefix}${name}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** The parameters by PyTorch key (the tensors themselves, not copies). */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries(this.namedParameters());
  }

  /**
   * Copies values into the parameters. Every key must be present, known and of the right
   * shape; otherwise nothing is changed and the error lists every problem.
   */
  loadStateDict(state: Record<string, TensorLike>): void {
    const params = new Map(this.namedParameters());
    const problems: string[] = [];
    for (const key of params.keys()) if (!(key in state)) problems.push(`missing key "${key}"`);
    for (const [key, value] of Object.entries(state)) {
      const p = params.get(key);
      if (!p) problems.push(`unexpected key "${key}"`);
      else if (value.shape.join() !== p.shape.join()) {
        problems.push(`"${key}" has shape [${value.shape}], expected [${p.shape}]`);
      } else if (!(value instanceof Tensor) && value.data.length !== p.size) {
        problems.push(`"${key}" has ${value.data.length} values, expected ${p.size}`);
      }
    }
    if (problems.length) {
      throw new Error(`rnnkit: ${this.constructor.name}.loadStateDict: ${problems.join("; ")}`);
    }
    noGrad(() => {
      for (const [key, value] of Object.entries(state)) {
        const src = value instanceof Tensor ? value : tensor(value.data, value.shape);
        // Copy rather than alias a caller's tensor: the caller may dispose it.
        params.get(key)!.assign(value instanceof Tensor ? src.clone() : src);
      }
    });
  }

  /** Sets training mode (dropout active) on this module and its children. */
  train(mode = true): this {
    this.training = mode;
    for (const m of this.#children.values()) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Drops every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees the parameters' storage; the module is unusable afterwards. */
  dispose(): void {
    this.zeroGrad();
    for (const p of this.parameters()) p.dispose();
  }
}

/** PyTorch's default init for Linear and recurrent layers: U(-bound, bound). */
export function uniformInit(rng: Random, shape: readonly number[], bound: number): Float32Array {
  return rng.uniform(shape.reduce((a, b) => a * b, 1), -bound, bound);
}

/** Checks `x`'s last dimension, naming the module in the error. */
export function expectLastDim(module: string, x: Tensor, size: number, what = "input"): void {
  if (x.shape.at(-1) !== size) {
    throw new Error(
      `rnnkit: ${module}: expected ${what} of shape [..., ${size}], got [${x.shape.join(", ")}]`,
    );
  }
}

/** Rejects sizes that are not positive integers, naming the module and argument. */
export function checkSize(module: string, sizes: Record<string, number>): void {
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new Error(`rnnkit: ${module}: ${name} must be a positive integer, got ${v}`);
    }
  }
}
