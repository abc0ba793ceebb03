/**
 * Optimizer: holds parameter groups and per-parameter state, applies `update` to every
 * parameter that has a gradient, with the hyperparameters of its group. State tensors are
 * kept across steps and updated in place (`assign`), so parameters keep their identity and
 * nothing leaks between steps.
 *
 * Parameter groups are PyTorch's `param_groups`: the constructor takes a list of tensors (one
 * group with the options) or a list of groups, `{ params, ...overrides }`, each option
 * falling back to the constructor's; `addParamGroup` adds one later. `paramGroups[i]` holds a
 * group's hyperparameters under camelCase names (`lr`, `weightDecay`, `betas`, ...): they can
 * be set there, between steps, as in PyTorch's dicts, and every value set is checked.
 *
 * `stateDict()` has PyTorch's structure and names, so a state saved by rnnkit loads into
 * `torch.optim` and back (python/rnnkit_torch.py): `state` maps a parameter's index to its
 * `step` and buffers (`exp_avg`, `momentum_buffer`, ...), `param_groups` holds each group's
 * hyperparameters under PyTorch's names (`weight_decay`, `initial_lr`, ...) and the indices
 * of its parameters, numbered across the groups in order.
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

/**
 * One live parameter group, as PyTorch's `optimizer.param_groups[i]` with camelCase names:
 * the parameters and the hyperparameters every update of them reads (`lr` here; each
 * optimizer's group type adds its own, e.g. `AdamParamGroup`). Setting a hyperparameter
 * checks it (a bad value throws and changes nothing); the keys schedulers add are optional.
 */
export interface ParamGroup {
  /** The group's parameters, in the order `stateDict()` numbers them (fixed: add a group instead). */
  readonly params: readonly Tensor[];
  /** Learning rate. */
  lr: number;
  /** The learning rate a schedule starts from (PyTorch's `initial_lr`), set by the first scheduler. */
  initialLr?: number;
  /** OneCycleLR's peak learning rate (`max_lr`). */
  maxLr?: number;
  /** OneCycleLR's final learning rate (`min_lr`). */
  minLr?: number;
  /** OneCycleLR's upper momentum or beta1 (`max_momentum`). */
  maxMomentum?: number;
  /** OneCycleLR's lower momentum or beta1 (`base_momentum`). */
  baseMomentum?: number;
}

/**
 * A group given to an optimizer's constructor or `addParamGroup`: its parameters and any of
 * the group's hyperparameters, which override the optimizer's options (`defaults`).
 */
export type ParamGroupInput<G extends ParamGroup = ParamGroup> =
  & { params: Iterable<Tensor> | Tensor }
  & Partial<Omit<G, "params">>;

/** One parameter group in a state dict, as PyTorch's `state_dict()["param_groups"][i]`. */
export interface ParamGroupState {
  /** Indices of the group's parameters, numbered across all groups in order. */
  params: number[];
  /** Hyperparameters by PyTorch's names: `lr`, `betas`, `weight_decay`, `initial_lr`, ... */
  [name: string]: Hyperparameter | number[];
}

/**
 * An optimizer's state as PyTorch's `optimizer.state_dict()` lays it out. `stateDict()`
 * returns the live tensors (not copies); `loadStateDict()` also takes host values.
 */
export interface OptimizerStateDict {
  /** Per parameter index (only parameters that have been updated): `step` and buffers. */
  state: Record<number, Record<string, number | TensorLike>>;
  /** One entry per parameter group, in order. */
  param_groups: ParamGroupState[];
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

/** The keys learning-rate schedulers add to a group (camelCase; PyTorch's are snake_case). */
const SCHEDULER_KEYS: readonly string[] = [
  "initialLr",
  "maxLr",
  "minLr",
  "maxMomentum",
  "baseMomentum",
];

/** PyTorch's name of a camelCase key: weightDecay -> weight_decay. */
const torchName = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** rnnkit's name of a PyTorch key: initial_lr -> initialLr. */
const camelName = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** `[a, ..., b]`, `[a]` or `[]`: the indices a group's params must be, for messages. */
function range(start: number, length: number): string {
  if (length === 0) return "[]";
  return length === 1 ? `[${start}]` : `[${start}, ..., ${start + length - 1}]`;
}

/** Base of SGD, Adam, AdamW and RMSprop, with PyTorch's `step`/`zero_grad`/`state_dict`. */
export abstract class Optimizer<G extends ParamGroup = ParamGroup> {
  /** Every parameter, group after group: the order `stateDict()` numbers them. */
  readonly params: Tensor[] = [];
  /** Per-parameter state, created at a parameter's first update. */
  readonly state: Map<Tensor, ParamState> = new Map();
  /**
   * The parameter groups, as PyTorch's `param_groups`: each group's hyperparameters, which
   * may be set between steps (each value is checked when set).
   */
  readonly paramGroups: G[] = [];
  /**
   * The options given to the constructor, with their defaults: what a group given without
   * a hyperparameter (in the constructor or `addParamGroup`) gets. PyTorch's `defaults`.
   */
  readonly defaults: Readonly<Record<string, Hyperparameter>>;
  /** The values behind each group's proxy, in group order. */
  #values: Record<string, unknown>[] = [];
  /** True while options are given (constructor, addParamGroup, `lr =`): lr must be >= 0. */
  #strictLr = false;

  /** Buffers a parameter's state must hold (all others in `stateNames` are optional). */
  protected abstract readonly requiredState: readonly string[];
  /** Every buffer name this optimizer may keep, and "step" if PyTorch saves one. */
  protected abstract readonly stateNames: readonly string[];

  /**
   * Takes the parameters to optimize, a list of tensors or of groups (`{ params, ...
   * overrides }`), and `defaults`, every hyperparameter's value for groups that do not set
   * it (camelCase names, checked). No parameters at all is an error.
   */
  constructor(
    params: Iterable<Tensor> | Iterable<ParamGroupInput<G>>,
    defaults: Record<string, Hyperparameter>,
  ) {
    const name = this.constructor.name;
    const list = [...params as Iterable<unknown>];
    const groups = list.length > 0 && !(list[0] instanceof Tensor)
      ? list as ParamGroupInput<G>[]
      : [{ params: list } as unknown as ParamGroupInput<G>];
    const tensors = list[0] instanceof Tensor;
    for (const g of tensors ? list : groups) {
      const ok = tensors
        ? g instanceof Tensor
        : !(g instanceof Tensor) && typeof g === "object" && g !== null && "params" in g;
      if (!ok) {
        throw new Error(
          `rnnkit: ${name}: expected a list of tensors or a list of parameter groups ` +
            `({ params, ...options }), got a list holding ${describe(g)}`,
        );
      }
    }
    this.#strict(() => this.#check(defaults, -1));
    this.defaults = Object.freeze(freezePairs({ ...defaults }));
    for (const g of groups) this.addParamGroup(g);
    if (this.params.length === 0) throw new Error(`rnnkit: ${name}: no parameters given`);
  }

  /**
   * Adds a parameter group, as PyTorch's `add_param_group`: `group.params` (a tensor or a
   * list) with any hyperparameters of this optimizer (the others are `defaults`'). Its
   * parameters are numbered after the existing ones; a parameter already in a group is an
   * error, and so is an unknown or out-of-range hyperparameter (nothing is added then).
   */
  addParamGroup(group: ParamGroupInput<G>): void {
    const name = this.constructor.name;
    const index = this.paramGroups.length;
    const where = `param group ${index}`;
    const raw = group.params;
    const params = raw instanceof Tensor ? [raw] : [...(raw as Iterable<unknown>)];
    const taken = new Set<unknown>(this.params);
    for (const p of params) {
      if (!(p instanceof Tensor)) {
        throw new Error(`rnnkit: ${name}: ${where}: params must be tensors, got ${describe(p)}`);
      }
      if (taken.has(p)) {
        throw new Error(
          `rnnkit: ${name}: ${where}: a parameter of shape [${p.shape}] appears in more than ` +
            "one place (each parameter belongs to one group, once)",
        );
      }
      taken.add(p);
    }
    const values: Record<string, unknown> = { ...this.defaults };
    const extras: Record<string, number> = {};
    for (const [key, value] of Object.entries(group)) {
      if (key === "params" || value === undefined) continue;
      if (key in this.defaults) values[key] = value;
      else if (SCHEDULER_KEYS.includes(key)) {
        this.checkRange(key, value, 0, Infinity);
        extras[key] = value as number;
      } else {
        throw new Error(
          `rnnkit: ${name}: ${where}: unknown option "${key}" (${name}'s: ` +
            `${Object.keys(this.defaults).join(", ")})`,
        );
      }
    }
    this.#strict(() => this.#check(values, index));
    const target = { params: Object.freeze(params as Tensor[]), ...freezePairs(values), ...extras };
    this.#values.push(target);
    this.paramGroups.push(this.#proxy(target));
    this.params.push(...(params as Tensor[]));
  }

  /**
   * The first group's learning rate; setting it sets every group's (a finite number >= 0).
   * Schedulers set each group's `lr`.
   */
  get lr(): number {
    return this.paramGroups[0].lr;
  }

  set lr(value: number) {
    this.#strict(() => this.setEveryGroup("lr", value));
  }

  /**
   * Clears every parameter's gradient, as PyTorch's `zero_grad`. `setToNone` (default true,
   * as PyTorch) frees the gradients and sets `.grad` to null; false zeroes the existing
   * `.grad` tensors in place (the same tensors, filled with zeros), where the next
   * `backward()` accumulates.
   */
  zeroGrad(options: { setToNone?: boolean } = {}): void {
    for (const p of this.params) {
      if (options.setToNone === false) {
        p.grad?.zero_();
        continue;
      }
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees the gradients and all optimizer state (the parameters stay). */
  dispose(): void {
    this.zeroGrad();
    this.#clearState();
  }

  /** Updates every parameter that has a gradient, with its group's hyperparameters. */
  step(): void {
    noGrad(() =>
      tidy(() => {
        for (const group of this.paramGroups) {
          for (const p of group.params) {
            if (!p.grad) continue;
            let s = this.state.get(p);
            if (!s) this.state.set(p, s = { step: 0, buffers: {} });
            s.step++;
            this.update(p, p.grad, s, group);
          }
        }
      })
    );
  }

  /**
   * A group's hyperparameters under PyTorch's names, e.g. `{ lr, betas, eps, weight_decay }`
   * (the first group's by default), without the keys schedulers add.
   */
  hyperparameters(group = 0): Record<string, Hyperparameter> {
    const g = this.paramGroups[group] as unknown as Record<string, Hyperparameter>;
    if (!g) throw new Error(`rnnkit: ${this.constructor.name}: no param group ${group}`);
    const out: Record<string, Hyperparameter> = {};
    for (const key of Object.keys(this.defaults)) {
      const v = g[key];
      out[torchName(key)] = Array.isArray(v) ? [...v] : v;
    }
    return out;
  }

  /**
   * PyTorch's `state_dict()`: the live state tensors, and each group's hyperparameters
   * (with the keys schedulers added, e.g. `initial_lr`) and parameter indices.
   */
  stateDict(): OptimizerStateDict {
    const state: OptimizerStateDict["state"] = {};
    this.params.forEach((p, i) => {
      const s = this.state.get(p);
      if (!s) return;
      state[i] = { ...(this.stateNames.includes("step") ? { step: s.step } : {}), ...s.buffers };
    });
    let offset = 0;
    const param_groups = this.#values.map((values, i): ParamGroupState => {
      const extras: Record<string, number> = {};
      for (const key of Object.keys(values)) {
        if (SCHEDULER_KEYS.includes(key)) extras[torchName(key)] = values[key] as number;
      }
      const n = this.paramGroups[i].params.length;
      const params = Array.from({ length: n }, (_, k) => offset + k);
      offset += n;
      return { ...this.hyperparameters(i), ...extras, params };
    });
    return { state, param_groups };
  }

  /**
   * PyTorch's `load_state_dict()`: replaces every group's hyperparameters (the keys
   * schedulers added too) and the state of every parameter with copies of `dict`'s.
   * `dict` must have as many groups as this optimizer, each with as many parameters.
   * Everything is checked first (group sizes, hyperparameter names and ranges, buffer names
   * and shapes, finite values); on any problem nothing changes and the error lists every
   * problem.
   */
  loadStateDict(dict: OptimizerStateDict): void {
    const name = `${this.constructor.name}.loadStateDict`;
    const problems = this.stateDictProblems(dict);
    if (problems.length) throw new Error(`rnnkit: ${name}: ${problems.join("; ")}`);
    const groups = dict.param_groups.map((saved) => {
      const values: Record<string, unknown> = {};
      const extras: Record<string, number> = {};
      for (const [key, value] of Object.entries(saved)) {
        if (key === "params" || key in TORCH_DEFAULTS) continue;
        const camel = camelName(key);
        if (SCHEDULER_KEYS.includes(camel)) extras[camel] = value as number;
        else values[camel] = Array.isArray(value) ? [...value] : value;
      }
      return { values, extras };
    });
    try {
      // Checks every value of every group before setting any.
      groups.forEach(({ values }, i) => this.#check(values, i));
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
    groups.forEach(({ values, extras }, i) => {
      const target = this.#values[i];
      for (const key of SCHEDULER_KEYS) delete target[key];
      Object.assign(target, freezePairs(values), extras);
    });
    this.#clearState();
    for (const [p, s] of loaded) this.state.set(p, s);
  }

  /**
   * Every reason `loadStateDict(dict)` would refuse `dict` for its structure (group count
   * and sizes, names, shapes, values); empty when it fits. Hyperparameter ranges are checked
   * by `loadStateDict` itself.
   */
  stateDictProblems(dict: OptimizerStateDict): string[] {
    if (typeof dict !== "object" || dict === null) {
      return [`expected { state, param_groups }, got ${JSON.stringify(dict)}`];
    }
    const problems: string[] = [];
    const groups = dict.param_groups;
    const count = this.paramGroups.length;
    if (!Array.isArray(groups) || groups.length !== count) {
      const expected = count === 1 ? "one group" : `${count} groups (this optimizer's)`;
      return [`expected param_groups to be a list of ${expected}, got ${JSON.stringify(groups)}`];
    }
    const known = Object.keys(this.defaults).map(torchName);
    const extras = SCHEDULER_KEYS.map(torchName);
    let offset = 0;
    groups.forEach((group, g) => {
      const where = count === 1 ? "" : `param_groups[${g}]: `;
      if (typeof group !== "object" || group === null) {
        problems.push(`${where}expected a group object, got ${JSON.stringify(group)}`);
        return;
      }
      const n = this.paramGroups[g].params.length;
      const indices = group.params;
      if (
        !Array.isArray(indices) || indices.length !== n || indices.some((p, i) => p !== offset + i)
      ) {
        const whose = count === 1
          ? `this optimizer's ${n} parameters`
          : `the ${n} parameters of this optimizer's group ${g}`;
        problems.push(
          `param_groups[${g}].params must be ${range(offset, n)} for ${whose}, got ` +
            JSON.stringify(indices),
        );
      }
      offset += n;
      for (const key of known) {
        if (!(key in group)) problems.push(`${where}missing hyperparameter "${key}"`);
      }
      for (const [key, value] of Object.entries(group)) {
        if (key === "params" || known.includes(key)) continue;
        if (extras.includes(key)) {
          if (!(typeof value === "number" && Number.isFinite(value) && value >= 0)) {
            problems.push(
              `${where}${key} must be a finite number >= 0, got ${JSON.stringify(value)}`,
            );
          }
        } else if (!(key in TORCH_DEFAULTS)) {
          problems.push(`${where}unexpected hyperparameter "${key}"`);
        } else if (!TORCH_DEFAULTS[key].includes(value as Hyperparameter)) {
          // PyTorch's variants rnnkit does not offer (AMSGrad, maximize, ...): refused by name.
          const supported = TORCH_DEFAULTS[key].map((v) => JSON.stringify(v)).join(" or ");
          problems.push(
            `${where}${key}=${JSON.stringify(value)}: rnnkit supports only ${key}=${supported}`,
          );
        }
      }
    });
    const n = this.params.length;
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

  /**
   * Sets hyperparameter `key` (camelCase) of every group to `value`, checking it for every
   * group before setting any: what `lr` and the other optimizer-wide setters do.
   */
  protected setEveryGroup(key: string, value: Hyperparameter): void {
    this.#values.forEach((values, i) => this.#check({ ...values, [key]: value }, i));
    for (const values of this.#values) Object.assign(values, freezePairs({ [key]: value }));
  }

  /** Runs `fn` with the constructor's check of lr (>= 0). */
  #strict(fn: () => void): void {
    this.#strictLr = true;
    try {
      fn();
    } finally {
      this.#strictLr = false;
    }
  }

  /**
   * Checks a learning rate: a finite number >= 0 where it is given as an option
   * (constructor, `addParamGroup`, `optimizer.lr =`), as PyTorch's constructors check it; a
   * finite number where it is set in a group or loaded, as PyTorch's dicts take any (a
   * schedule may end below 0: OneCycleLR's linear one, stepped `totalSteps` times).
   */
  protected checkLr(value: unknown): void {
    this.checkRange("lr", value, this.#strictLr ? 0 : -Infinity, Infinity);
  }

  /** Checks a group's values, naming the group when there are several (index -1: defaults). */
  #check(values: Record<string, unknown>, index: number): void {
    try {
      this.checkGroup(values as Record<string, Hyperparameter>);
    } catch (e) {
      const several = index > 0 || this.paramGroups.length > 1;
      if (index < 0 || !several) throw e;
      const message = (e as Error).message.replace(/^(rnnkit: \w+: )/, `$1param group ${index}: `);
      throw new Error(message);
    }
  }

  /** A group as PyTorch's dict: reads are plain, writes are checked. */
  #proxy(target: Record<string, unknown>): G {
    const name = this.constructor.name;
    const index = () => this.#values.indexOf(target);
    return new Proxy(target, {
      set: (t, key, value) => {
        const k = String(key);
        if (k === "params") {
          throw new Error(
            `rnnkit: ${name}: a group's params cannot be replaced (add a group with addParamGroup)`,
          );
        }
        if (k in this.defaults) {
          this.#check({ ...t, [k]: value }, index());
          Object.assign(t, freezePairs({ [k]: value }));
        } else if (SCHEDULER_KEYS.includes(k)) {
          if (value === undefined) delete t[k];
          else {
            this.checkRange(k, value, 0, Infinity);
            t[k] = value;
          }
        } else {
          throw new Error(
            `rnnkit: ${name}: a param group has no "${k}" (${name}'s: ` +
              `${[...Object.keys(this.defaults), ...SCHEDULER_KEYS].join(", ")})`,
          );
        }
        return true;
      },
      deleteProperty: (t, key) => {
        const k = String(key);
        if (!SCHEDULER_KEYS.includes(k)) {
          throw new Error(`rnnkit: ${name}: cannot delete "${k}" from a param group`);
        }
        delete t[k];
        return true;
      },
      defineProperty: () => {
        throw new Error(`rnnkit: ${name}: set a param group's values by assignment`);
      },
    }) as unknown as G;
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
   * Checks one group's hyperparameters (camelCase names, e.g. `{ lr, betas, eps,
   * weightDecay }`), throwing on the first bad one; called before any value is set.
   */
  protected abstract checkGroup(group: Record<string, Hyperparameter>): void;

  /** Computes the new value of `p` from its gradient, state and group; assigns it. */
  protected abstract update(p: Tensor, grad: Tensor, s: ParamState, group: G): void;

  /** Checks that a hyperparameter is finite and in its range, naming it and the optimizer. */
  protected checkRange(name: string, value: unknown, low: number, high: number): void {
    if (!(typeof value === "number" && Number.isFinite(value) && value >= low && value <= high)) {
      const range = low === -Infinity && high === Infinity
        ? ""
        : high === Infinity
        ? ` >= ${low}`
        : ` in [${low}, ${high}]`;
      throw new Error(
        `rnnkit: ${this.constructor.name}: ${name} must be a finite number${range}, ` +
          `got ${typeof value === "number" ? value : JSON.stringify(value)}`,
      );
    }
  }
}

/** A short description of a value, for messages. */
function describe(v: unknown): string {
  if (v instanceof Tensor) return `a tensor of shape [${v.shape}]`;
  if (Array.isArray(v)) return "an array";
  return v === null ? "null" : typeof v === "object" ? "an object" : JSON.stringify(v);
}

/** `values` with its arrays (betas) copied and frozen, so they change only by assignment. */
function freezePairs<T extends Record<string, unknown>>(values: T): T {
  const out: Record<string, unknown> = { ...values };
  for (const [k, v] of Object.entries(out)) if (Array.isArray(v)) out[k] = Object.freeze([...v]);
  return out as T;
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
