/**
 * Optimizer: holds parameters and their per-parameter state, applies `update` to every
 * parameter that has a gradient. State tensors are kept across steps and updated in place
 * (`assign`), so parameters keep their identity and nothing leaks between steps.
 *
 * `stateDict()` has PyTorch's structure and names, so a state saved by rnnkit loads into
 * `torch.optim` and back (python/rnnkit_torch.py): `state` maps a parameter's index to its
 * `step` and buffers (`exp_avg`, `momentum_buffer`, ...), `param_groups` holds the
 * hyperparameters under PyTorch's names and the indices of the parameters. rnnkit's
 * optimizers have one parameter group.
 */
import { keep, tidy } from "../engine.ts";
import { tensor, zeros } from "../ops.ts";
import { noGrad, Tensor } from "../tensor.ts";
import type { TensorLike } from "../nn/module.ts";

/** One parameter's optimizer state: its step count and named buffers (moments, momentum). */
export interface ParamState {
  /** Updates applied to this parameter so far. */
  step: number;
  /** Buffers by PyTorch's names (`exp_avg`, `exp_avg_sq`, `momentum_buffer`, ...). */
  buffers: Record<string, Tensor>;
}

/** A hyperparameter in a parameter group: a number, a flag, a pair (Adam's betas) or null. */
export type Hyperparameter = number | boolean | readonly number[] | null;

/** One parameter group, as PyTorch's `param_groups[i]`. */
export interface ParamGroup {
  /** Indices of the group's parameters in the optimizer's parameter list. */
  params: number[];
  /** Hyperparameters by PyTorch's names: `lr`, `betas`, `weight_decay`, ... */
  [name: string]: Hyperparameter | number[];
}

/**
 * An optimizer's state as PyTorch's `optimizer.state_dict()` lays it out. `stateDict()`
 * returns the live tensors (not copies); `loadStateDict()` also takes host values.
 */
export interface OptimizerStateDict {
  /** Per parameter index (only parameters that have been updated): `step` and buffers. */
  state: Record<number, Record<string, number | TensorLike>>;
  /** rnnkit's optimizers have exactly one group. */
  param_groups: ParamGroup[];
}

/**
 * Options PyTorch writes into every group of its optimizers: accepted when they have
 * PyTorch's default value (rnnkit implements only that behaviour), an error otherwise.
 */
const TORCH_DEFAULTS: Record<string, readonly Hyperparameter[]> = {
  amsgrad: [false],
  maximize: [false],
  foreach: [null, false],
  capturable: [false],
  differentiable: [false],
  fused: [null, false],
};

/** Base of SGD, Adam, AdamW and RMSprop, with PyTorch's `step`/`zero_grad`/`state_dict`. */
export abstract class Optimizer {
  /** The parameters, in the order `stateDict()` numbers them. */
  readonly params: Tensor[];
  /** Per-parameter state, created at a parameter's first update. */
  readonly state: Map<Tensor, ParamState> = new Map();
  #lr = 0;

  /** Buffers a parameter's state must hold (all others in `stateNames` are optional). */
  protected abstract readonly requiredState: readonly string[];
  /** Every buffer name this optimizer may keep, and "step" if PyTorch saves one. */
  protected abstract readonly stateNames: readonly string[];

  /** Takes the parameters to optimize; an empty list is an error. */
  constructor(params: Iterable<Tensor>) {
    this.params = [...params];
    if (this.params.length === 0) {
      throw new Error(`rnnkit: ${this.constructor.name}: no parameters given`);
    }
  }

  /** The learning rate; schedulers and the LR hook of `fit` set it between steps. */
  get lr(): number {
    return this.#lr;
  }

  set lr(value: number) {
    this.checkRange("lr", value, 0, Infinity);
    this.#lr = value;
  }

  /** Drops every parameter's gradient (PyTorch's default `set_to_none=True`). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees the gradients and all optimizer state (the parameters stay). */
  dispose(): void {
    this.zeroGrad();
    this.#clearState();
  }

  /** Updates every parameter that has a gradient. */
  step(): void {
    noGrad(() =>
      tidy(() => {
        for (const p of this.params) {
          if (!p.grad) continue;
          let s = this.state.get(p);
          if (!s) this.state.set(p, s = { step: 0, buffers: {} });
          s.step++;
          this.update(p, p.grad, s);
        }
      })
    );
  }

  /** The hyperparameters under PyTorch's names, e.g. `{ lr, betas, eps, weight_decay }`. */
  abstract hyperparameters(): Record<string, Hyperparameter>;

  /** PyTorch's `state_dict()`: the live state tensors and the hyperparameters. */
  stateDict(): OptimizerStateDict {
    const state: OptimizerStateDict["state"] = {};
    this.params.forEach((p, i) => {
      const s = this.state.get(p);
      if (!s) return;
      state[i] = { ...(this.stateNames.includes("step") ? { step: s.step } : {}), ...s.buffers };
    });
    return {
      state,
      param_groups: [{ ...this.hyperparameters(), params: this.params.map((_, i) => i) }],
    };
  }

  /**
   * PyTorch's `load_state_dict()`: replaces the hyperparameters and the state of every
   * parameter with copies of `dict`'s. Everything is checked first (parameter count,
   * hyperparameter names and ranges, buffer names and shapes, finite values); on any
   * problem nothing changes and the error lists every problem.
   */
  loadStateDict(dict: OptimizerStateDict): void {
    const name = `${this.constructor.name}.loadStateDict`;
    const problems = this.stateDictProblems(dict);
    if (problems.length) throw new Error(`rnnkit: ${name}: ${problems.join("; ")}`);
    const group: Record<string, Hyperparameter> = { ...dict.param_groups[0] };
    delete group.params;
    for (const key of Object.keys(TORCH_DEFAULTS)) delete group[key];
    try {
      // Checks every value before setting any.
      this.configure(group);
    } catch (e) {
      throw new Error(`rnnkit: ${name}: ${(e as Error).message.replace(/^rnnkit: \w+: /, "")}`);
    }
    // Copies first: `dict` may hold this optimizer's own tensors (its stateDict()).
    const loaded = noGrad(() =>
      Object.entries(dict.state).map(([index, entry]): [Tensor, ParamState] => {
        const buffers: Record<string, Tensor> = {};
        for (const [key, value] of Object.entries(entry)) {
          if (typeof value === "number") continue;
          buffers[key] = keep(
            value instanceof Tensor ? value.clone() : tensor(value.data, value.shape),
          );
        }
        return [this.params[Number(index)], { step: Number(entry.step ?? 0), buffers }];
      })
    );
    this.#clearState();
    for (const [p, s] of loaded) this.state.set(p, s);
  }

  /**
   * Every reason `loadStateDict(dict)` would refuse `dict` for its structure (parameter
   * count, names, shapes, values); empty when it fits. Hyperparameter ranges are checked
   * by `loadStateDict` itself.
   */
  stateDictProblems(dict: OptimizerStateDict): string[] {
    if (typeof dict !== "object" || dict === null) {
      return [`expected { state, param_groups }, got ${JSON.stringify(dict)}`];
    }
    const problems: string[] = [];
    const groups = dict.param_groups;
    if (!Array.isArray(groups) || groups.length !== 1) {
      return [`expected param_groups to be a list of one group, got ${JSON.stringify(groups)}`];
    }
    const group = groups[0];
    const n = this.params.length;
    const indices = group.params;
    if (!Array.isArray(indices) || indices.length !== n || indices.some((p, i) => p !== i)) {
      problems.push(
        `param_groups[0].params must be [0, ..., ${n - 1}] for this optimizer's ${n} ` +
          `parameters, got ${JSON.stringify(indices)}`,
      );
    }
    const known = Object.keys(this.hyperparameters());
    for (const key of known) if (!(key in group)) problems.push(`missing hyperparameter "${key}"`);
    for (const [key, value] of Object.entries(group)) {
      if (key === "params" || known.includes(key)) continue;
      if (!(key in TORCH_DEFAULTS)) problems.push(`unexpected hyperparameter "${key}"`);
      else if (!TORCH_DEFAULTS[key].includes(value as Hyperparameter)) {
        problems.push(`${key}=${JSON.stringify(value)} is not implemented by rnnkit`);
      }
    }
    if (typeof dict.state !== "object" || dict.state === null) return [...problems, "no state"];
    for (const [index, entry] of Object.entries(dict.state)) {
      const p = this.params[Number(index)];
      if (!/^\d+$/.test(index) || !p) {
        problems.push(`state of parameter ${index}: no such parameter (there are ${n})`);
        continue;
      }
      for (const key of this.requiredState) {
        if (!(key in entry)) problems.push(`state of parameter ${index}: missing "${key}"`);
      }
      for (const [key, value] of Object.entries(entry)) {
        const where = `state of parameter ${index}: "${key}"`;
        if (!this.stateNames.includes(key)) {
          problems.push(`${where} is not one of ${this.constructor.name}'s (${this.stateNames})`);
        } else if (key === "step") {
          if (!(Number.isInteger(value) && (value as number) >= 0)) {
            problems.push(`${where} must be an integer >= 0, got ${JSON.stringify(value)}`);
          }
        } else problems.push(...tensorProblems(where, value, p.shape));
      }
    }
    return problems;
  }

  #clearState(): void {
    for (const s of this.state.values()) for (const b of Object.values(s.buffers)) b.dispose();
    this.state.clear();
  }

  /** A zero buffer for `p`, created once and kept across steps. */
  protected buffer(s: ParamState, name: string, p: Tensor): Tensor {
    return s.buffers[name] ??= keep(zeros(p.shape));
  }

  /**
   * Checks and sets the hyperparameters (PyTorch's names, as in a param group); checks
   * every value before setting any, so a bad one changes nothing.
   */
  protected abstract configure(group: Record<string, Hyperparameter>): void;

  /** Computes the new value of `p` from its gradient and state; assigns it. */
  protected abstract update(p: Tensor, grad: Tensor, s: ParamState): void;

  /** Checks that a hyperparameter is finite and in its range, naming it and the optimizer. */
  protected checkRange(name: string, value: unknown, low: number, high: number): void {
    if (!(typeof value === "number" && Number.isFinite(value) && value >= low && value <= high)) {
      const range = high === Infinity ? `>= ${low}` : `in [${low}, ${high}]`;
      throw new Error(
        `rnnkit: ${this.constructor.name}: ${name} must be a finite number ${range}, ` +
          `got ${typeof value === "number" ? value : JSON.stringify(value)}`,
      );
    }
  }
}

/** Problems of a state tensor given as a tensor or host values, or none. */
function tensorProblems(where: string, value: unknown, shape: readonly number[]): string[] {
  const v = value as TensorLike;
  if (typeof v !== "object" || v === null || !Array.isArray(v.shape)) {
    return [`${where} must be a tensor or { shape, data }, got ${JSON.stringify(value)}`];
  }
  if (v.shape.join() !== shape.join()) {
    return [`${where} has shape [${v.shape}], expected the parameter's [${shape}]`];
  }
  if (v instanceof Tensor) return v.disposed ? [`${where} is a disposed tensor`] : [];
  if (v.data?.length !== v.shape.reduce((a, b) => a * b, 1)) {
    return [`${where} has ${v.data?.length} values for shape [${v.shape}]`];
  }
  for (let i = 0; i < v.data.length; i++) {
    if (!Number.isFinite(v.data[i])) return [`${where} holds a non-finite value (${v.data[i]})`];
  }
  return [];
}
