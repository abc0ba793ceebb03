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

/**
 * The base of every layer, as PyTorch's `nn.Module`: named parameters and submodules,
 * `stateDict`/`loadStateDict` with PyTorch's keys, training and evaluation mode.
 */
export abstract class Module {
  /** Training mode (dropout active); set by `train()` and `eval()`. Default true. */
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

  /**
   * Registers a submodule, whose parameters get the prefix `name.`; returns `module`.
   * Registering a name again replaces that submodule in place (its order is kept).
   */
  protected registerModule<M extends Module>(name: string, module: M): M {
    if (name === "" || name.includes(".")) {
      throw new Error(
        `rnnkit: ${this.constructor.name}: a module name cannot be empty or contain ".", got "${name}"`,
      );
    }
    this.#children.set(name, module);
    return module;
  }

  /**
   * [name, parameter] pairs with dotted PyTorch names, each after `prefix` (default ""), in
   * registration order.
   */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, p] of this.#params) out.push([prefix + name, p]);
    for (const [name, m] of this.#children) out.push(...m.namedParameters(`${prefix}${name}.`));
    return out;
  }

  /** The parameters of this module and its submodules, in registration order. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** The number of parameter values (PyTorch: `sum(p.numel() for p in m.parameters())`). */
  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** [name, module] of the direct submodules, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.#children];
  }

  /**
   * This module (named `prefix`, default "") and every module below it, with dotted names,
   * parents before children (PyTorch's `named_modules`).
   */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, m] of this.#children) {
      out.push(...m.namedModules(prefix ? `${prefix}.${name}` : name));
    }
    return out;
  }

  /** Calls `fn` on every submodule, children first, then on this module (PyTorch's `apply`). */
  apply(fn: (module: Module) => void): this {
    for (const m of this.#children.values()) m.apply(fn);
    fn(this);
    return this;
  }

  /** The parameters by PyTorch key (the tensors themselves, not copies). */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries(this.namedParameters());
  }

  /**
   * Copies values into the parameters (PyTorch's `load_state_dict`, strict). Every key must
   * be present, known and of the right shape, host values finite, tensors not disposed;
   * otherwise nothing is changed and the error lists every problem.
   */
  loadStateDict(state: Record<string, TensorLike>): void {
    const problems = this.stateDictProblems(state);
    if (problems.length) {
      throw new Error(`rnnkit: ${this.constructor.name}.loadStateDict: ${problems.join("; ")}`);
    }
    const params = new Map(this.namedParameters());
    noGrad(() => {
      for (const [key, value] of Object.entries(state)) {
        // Copy rather than alias a caller's tensor: the caller may dispose it.
        const src = value instanceof Tensor ? value.clone() : tensor(value.data, value.shape);
        params.get(key)!.assign(src);
      }
    });
  }

  /** Every reason `loadStateDict(state)` would refuse `state`; empty when it would load it. */
  stateDictProblems(state: Record<string, TensorLike>): string[] {
    if (typeof state !== "object" || state === null || Array.isArray(state)) {
      return [`expected a state dict (tensors by key), got ${JSON.stringify(state)}`];
    }
    const params = new Map(this.namedParameters());
    const problems: string[] = [];
    for (const key of params.keys()) if (!(key in state)) problems.push(`missing key "${key}"`);
    for (const [key, value] of Object.entries(state)) {
      const p = params.get(key);
      if (!p) problems.push(`unexpected key "${key}"`);
      else if (typeof value !== "object" || value === null || !Array.isArray(value.shape)) {
        problems.push(`"${key}" is not a tensor or { shape, data }`);
      } else if (value.shape.join() !== p.shape.join()) {
        problems.push(`"${key}" has shape [${value.shape}], expected [${p.shape}]`);
      } else if (value instanceof Tensor) {
        if (value.disposed) problems.push(`"${key}" is a disposed tensor`);
      } else if (value.data.length !== p.size) {
        problems.push(`"${key}" has ${value.data.length} values, expected ${p.size}`);
      } else {
        const bad = Array.prototype.find.call(value.data, (v: number) => !Number.isFinite(v));
        if (bad !== undefined) problems.push(`"${key}" holds a non-finite value (${bad})`);
      }
    }
    return problems;
  }

  /**
   * Sets training mode (`mode` true, the default: dropout active) or evaluation mode on this
   * module and its children.
   */
  train(mode = true): this {
    this.training = mode;
    for (const m of this.#children.values()) m.train(mode);
    return this;
  }

  /** Sets evaluation mode (dropout off): `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Clears every parameter's gradient, as PyTorch's `zero_grad`. `setToNone` (default true,
   * as PyTorch) frees the gradients and sets `.grad` to null; false zeroes the existing
   * `.grad` tensors in place (the same tensors, filled with zeros), where the next
   * `backward()` accumulates.
   */
  zeroGrad(options: { setToNone?: boolean } = {}): void {
    for (const p of this.parameters()) {
      if (options.setToNone === false) {
        p.grad?.zero_();
        continue;
      }
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
