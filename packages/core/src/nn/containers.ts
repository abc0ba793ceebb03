/**
 * Containers, as PyTorch's: `Sequential` chains modules, `ModuleList` and `ModuleDict` hold
 * them by index or key. Children are registered under their index or key, so state-dict keys
 * are PyTorch's (`0.weight`, `layers.1.weight_ih_l0`, `heads.out.bias`).
 */
import type { Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/** A module whose `forward` maps one tensor to one tensor: what `Sequential` chains. */
export type TensorModule = Module & { forward(x: Tensor): Tensor };

/** Runs its modules in order, each on the previous one's output (PyTorch's `nn.Sequential`). */
export class Sequential extends Module {
  readonly #layers: TensorModule[];

  /** The modules, registered as "0", "1", ... */
  constructor(...layers: TensorModule[]) {
    super();
    layers.forEach((m, i) => this.registerModule(String(i), m));
    this.#layers = layers;
  }

  /** How many modules it chains. */
  get length(): number {
    return this.#layers.length;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): TensorModule {
    return at(this.#layers, index, "Sequential");
  }

  /** `x` through every module in order. */
  forward(x: Tensor): Tensor {
    return this.#layers.reduce((h, m) => m.forward(h), x);
  }
}

/** Modules in a list, registered as "0", "1", ... (PyTorch's `nn.ModuleList`). */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  readonly #items: M[] = [];

  /** A list holding `modules` (default: none). */
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  /** Appends `module`, registered under its index; returns the list. */
  push(module: M): this {
    this.registerModule(String(this.#items.length), module);
    this.#items.push(module);
    return this;
  }

  /** How many modules it holds. */
  get length(): number {
    return this.#items.length;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): M {
    return at(this.#items, index, "ModuleList");
  }

  /** The modules in order. */
  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }
}

/** Modules by name, in insertion order (PyTorch's `nn.ModuleDict`). */
export class ModuleDict<M extends Module = Module> extends Module {
  readonly #items = new Map<string, M>();

  /** A dict holding `modules` (default: none), in their key order. */
  constructor(modules: Record<string, M> = {}) {
    super();
    for (const [key, m] of Object.entries(modules)) this.set(key, m);
  }

  /** Sets `key` to `module` (replacing one there, in its place); returns the dict. */
  set(key: string, module: M): this {
    this.registerModule(key, module);
    this.#items.set(key, module);
    return this;
  }

  /** The module under `key`; an error naming the keys when there is none. */
  get(key: string): M {
    const m = this.#items.get(key);
    if (!m) {
      throw new Error(`rnnkit: ModuleDict: no module "${key}"; keys: ${[...this.#items.keys()]}`);
    }
    return m;
  }

  /** Whether a module is under `key`. */
  has(key: string): boolean {
    return this.#items.has(key);
  }

  /** The keys, in insertion order. */
  keys(): string[] {
    return [...this.#items.keys()];
  }

  /** [key, module] pairs, in insertion order. */
  entries(): [string, M][] {
    return [...this.#items];
  }
}

function at<T>(items: T[], index: number, what: string): T {
  const i = index < 0 ? items.length + index : index;
  if (!Number.isInteger(i) || i < 0 || i >= items.length) {
    throw new Error(`rnnkit: ${what}: index ${index} out of range for ${items.length} modules`);
  }
  return items[i];
}
