/**
 * Tensor and reverse-mode autograd.
 *
 * A tensor wraps a backend handle plus the shape and dtype core keeps for it. An op whose
 * inputs need gradients attaches a `Node` to its outputs: the inputs and a closure that
 * maps output gradients to input gradients. `backward()` walks the nodes in reverse
 * topological order, like micrograd, and accumulates into `.grad` of leaf tensors that
 * have `requiresGrad`. Under `noGrad` (or when no input needs a gradient) nothing is
 * recorded, so inference pays nothing for autograd.
 */
import type { Backend, DType, Handle } from "./backend.ts";
import { getBackend, keep, track, untrack } from "./engine.ts";
// Only called inside methods, so the import cycle (ops.ts makes Tensors) is harmless.
import * as ops from "./ops.ts";

/** Maps the gradients of a node's outputs to the gradients of its inputs. */
export type BackwardFn = (grads: Tensor[]) => (Tensor | null)[];

/**
 * The record of one differentiable op in the autograd graph (PyTorch's `grad_fn`), attached
 * to the tensors it produced.
 */
export interface Node {
  /** The op's name, e.g. "matmul". */
  readonly name: string;
  /** The tensors the op read. */
  readonly inputs: readonly Tensor[];
  /** The tensors the op produced. */
  readonly outputs: readonly Tensor[];
  /** Maps the outputs' gradients to the inputs' (null: no gradient for that input). */
  readonly backward: BackwardFn;
  /** Set once `backward()` has gone through this node without `retainGraph`. */
  released?: boolean;
}

/** Options of `Tensor.backward`. */
export interface BackwardOptions {
  /**
   * Keep the graph usable for another `backward()` through it (PyTorch's `retain_graph`).
   * Default false: a second `backward()` through the same ops is an error, as in PyTorch.
   */
  retainGraph?: boolean;
}

let gradEnabled = true;

/** Runs `fn` without recording gradients (PyTorch's `torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Whether ops record gradients now: false inside `noGrad`. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * An n-dimensional array of float32 or int32 values on the current backend, with PyTorch's
 * autograd: make one with `tensor()` or `intTensor()`, compute with `ops`, call
 * `backward()` on a scalar result. Storage is freed by `dispose()` or by the enclosing
 * `tidy`, not by the garbage collector (GPU memory is invisible to it).
 */
export class Tensor {
  #handle: Handle | null;
  /** The backend that owns the handle: the current one when the tensor was made. */
  readonly #backend: Backend;
  /** The size of every axis; [] for a scalar. */
  readonly shape: readonly number[];
  /** "float32" or "int32" (indices, class labels). */
  readonly dtype: DType;
  /** Host copy of int32 tensors made from host data: indices are validated against it. */
  readonly hostInts: Int32Array | null;
  /** Whether `backward()` accumulates a gradient into this leaf's `.grad` (default false). */
  requiresGrad = false;
  /** The gradient accumulated by `backward()`, or null. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when it was recorded for autograd. */
  node: Node | null = null;

  /**
   * Wraps a backend handle of this shape and dtype (default "float32"); `hostInts` is the
   * host copy of an int32 tensor's values. Model code makes tensors with `tensor()`,
   * `intTensor()`, `zeros()` or `full()`; backend code and ops use this.
   */
  constructor(
    handle: Handle,
    shape: readonly number[],
    dtype: DType = "float32",
    hostInts?: Int32Array,
  ) {
    this.#handle = handle;
    this.#backend = getBackend();
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.hostInts = hostInts ?? null;
    track(this);
  }

  /**
   * The backend's storage, for ops on the current backend: an error after `dispose()`, or
   * when `setBackend` has switched to another backend since the tensor was made.
   */
  get handle(): Handle {
    const current = getBackend();
    if (this.#backend !== current) {
      throw new Error(
        `rnnkit: tensor [${this.shape}] was made on backend "${this.#backend.name}" but the ` +
          `current backend is "${current.name}": tensors cannot cross backends; read its ` +
          "values with data() and make a new tensor after setBackend",
      );
    }
    return this.#own();
  }

  /** The handle for this tensor's own backend (reading and freeing work after a switch). */
  #own(): Handle {
    if (!this.#handle) throw new Error(`rnnkit: tensor [${this.shape}] used after dispose()`);
    return this.#handle;
  }

  /** The number of elements (PyTorch's `numel()`). */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /**
   * Sets `requiresGrad` (default true) and returns this tensor (PyTorch's `requires_grad_`).
   * Only float32 leaves can require gradients; a tensor made by an op already tracks them.
   */
  requiresGrad_(flag = true): this {
    if (flag && this.dtype !== "float32") {
      throw new Error(`rnnkit: requiresGrad_(): only float32 tensors can require gradients`);
    }
    if (this.node && !flag) {
      throw new Error(
        `rnnkit: requiresGrad_(false) on the output of op ${this.node.name}: only leaf ` +
          "tensors' flag can change; use detach() for a tensor without history",
      );
    }
    this.requiresGrad = flag;
    return this;
  }

  /** Fills this tensor with zeros in place, keeping its identity (PyTorch's `zero_()`). */
  zero_(): this {
    if (this.dtype !== "float32") throw new Error("rnnkit: zero_(): needs a float32 tensor");
    const zeroed = this.#backend.fill(this.shape, 0);
    this.#backend.dispose(this.#own());
    this.#handle = zeroed;
    return this;
  }

  /** Whether `dispose()` has freed the storage. */
  get disposed(): boolean {
    return this.#handle === null;
  }

  /** Frees the backend storage. Safe to call twice. */
  dispose(): void {
    if (!this.#handle) return;
    this.#backend.dispose(this.#handle);
    this.#handle = null;
    untrack(this);
  }

  /** Replaces this tensor's storage with `src`'s (same shape), consuming `src`. */
  assign(src: Tensor): void {
    if (src.shape.join() !== this.shape.join()) {
      throw new Error(`rnnkit: assign of shape [${src.shape}] into [${this.shape}]`);
    }
    if (src.#backend !== this.#backend) {
      throw new Error(
        `rnnkit: assign: the tensor is on backend "${this.#backend.name}", the value on ` +
          `"${src.#backend.name}"`,
      );
    }
    const h = src.#own();
    src.#handle = null;
    untrack(src);
    if (this.#handle) this.#backend.dispose(this.#handle);
    this.#handle = h;
  }

  /** A copy with its own storage, detached from autograd (PyTorch's `detach().clone()`). */
  clone(): Tensor {
    return new Tensor(
      getBackend().scale(this.handle, 1),
      this.shape,
      this.dtype,
      this.hostInts ?? undefined,
    );
  }

  /**
   * The same values without autograd history (PyTorch's `detach()`): no gradient flows back
   * through the result. Backends share the storage where they can (no copy); the result has
   * its own handle, so either tensor can be disposed first.
   */
  detach(): Tensor {
    return new Tensor(
      getBackend().reshape(this.handle, this.shape),
      this.shape,
      this.dtype,
      this.hostInts ?? undefined,
    );
  }

  /** Values in row-major order. */
  async data(): Promise<Float32Array | Int32Array> {
    return await this.#backend.read(this.#own());
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`rnnkit: item() needs one element, got [${this.shape}]`);
    return (await this.data())[0];
  }

  /** Nested arrays, for printing and tests. */
  async toArray(): Promise<unknown> {
    const flat = Array.from(await this.data());
    const nest = (dims: readonly number[], off: number): unknown =>
      dims.length === 0 ? flat[off] : Array.from(
        { length: dims[0] },
        (_, i) => nest(dims.slice(1), off + i * dims.slice(1).reduce((a, b) => a * b, 1)),
      );
    return nest(this.shape, 0);
  }

  /**
   * Back-propagates from this scalar (or from `grad`, of this tensor's shape) and
   * accumulates into `.grad` of every leaf with `requiresGrad`.
   */
  backward(grad?: Tensor, options: BackwardOptions = {}): void {
    if (!grad && this.size !== 1) {
      throw new Error(`rnnkit: backward() without a gradient needs a scalar, got [${this.shape}]`);
    }
    const nodes = topoSort(this);
    if (nodes.length === 0 && !this.requiresGrad) {
      throw new Error("rnnkit: backward() on a tensor that does not require grad");
    }
    const used = nodes.find((n) => n.released);
    if (used) {
      throw new Error(
        `rnnkit: backward() through the graph a second time (at op ${used.name}): the first ` +
          "backward() released it; pass { retainGraph: true } to that first call to go " +
          "through it again",
      );
    }
    if (!options.retainGraph) { for (const node of nodes) node.released = true; }
    const grads = new Map<Tensor, Tensor>();
    grads.set(this, grad ?? new Tensor(getBackend().fill(this.shape, 1), this.shape));
    for (const node of nodes.reverse()) {
      const outGrads = node.outputs.map((o) =>
        grads.get(o) ?? new Tensor(getBackend().fill(o.shape, 0), o.shape)
      );
      // Gradients of gradients are not supported, so record nothing while computing them.
      const inGrads = noGrad(() => node.backward(outGrads));
      node.inputs.forEach((input, i) => {
        const g = inGrads[i];
        if (!g || !(input.requiresGrad || input.node)) return;
        const prev = grads.get(input);
        grads.set(input, prev ? addTensors(prev, g) : g);
      });
    }
    const assigned = new Set<Tensor>();
    for (const [t, g] of grads) {
      if (t.node || !t.requiresGrad) continue;
      // Accumulate into an existing .grad in place, as PyTorch does (its identity stays).
      if (t.grad) {
        t.grad.assign(addTensors(t.grad, g));
        continue;
      }
      // Two leaves may share one gradient tensor (e.g. a + b): give each its own.
      // The caller's `grad` (a leaf's own gradient) is copied too: .grad is never aliased.
      const own = assigned.has(g) || g === grad ? g.clone() : g;
      assigned.add(own);
      // Leaf gradients outlive the step's scope, like parameters do.
      t.grad = keep(own);
    }
  }

  // --- PyTorch-style methods: each is the op of the same name in ops.ts -----------------

  /** this + other (`ops.add`). */
  add(other: Tensor | number): Tensor {
    return ops.add(this, other);
  }

  /** this - other (`ops.sub`). */
  sub(other: Tensor | number): Tensor {
    return ops.sub(this, other);
  }

  /** this * other elementwise (`ops.mul`). */
  mul(other: Tensor | number): Tensor {
    return ops.mul(this, other);
  }

  /** this / other elementwise (`ops.div`). */
  div(other: Tensor | number): Tensor {
    return ops.div(this, other);
  }

  /** -this (`ops.neg`). */
  neg(): Tensor {
    return ops.neg(this);
  }

  /** Matrix product this @ other, 2-D or batched 3-D (`ops.matmul`). */
  matmul(other: Tensor): Tensor {
    return ops.matmul(this, other);
  }

  /** Sum over `dim` (default: all), dropping it unless keepDim (`ops.sum`). */
  sum(dim?: number | readonly number[], keepDim = false): Tensor {
    return ops.sum(this, dim, keepDim);
  }

  /** Mean over `dim` (default: all), dropping it unless keepDim (`ops.mean`). */
  mean(dim?: number | readonly number[], keepDim = false): Tensor {
    return ops.mean(this, dim, keepDim);
  }

  /** Variance over `dim` (default: all), correction 1 unless given (`ops.var`). */
  var(dim?: number | readonly number[], options?: ops.VarOptions): Tensor {
    return ops.var(this, dim, options);
  }

  /** Standard deviation over `dim` (default: all) (`ops.std`). */
  std(dim?: number | readonly number[], options?: ops.VarOptions): Tensor {
    return ops.std(this, dim, options);
  }

  /** The same values with a new shape, as `x.reshape(2, -1)` or `x.reshape([2, -1])`. */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return ops.reshape(this, shape.flat());
  }

  /** `reshape` under PyTorch's other name (rnnkit's reshapes never copy on the host). */
  view(...shape: number[] | [readonly number[]]): Tensor {
    return ops.reshape(this, shape.flat());
  }

  /** Swaps axes dim0 and dim1 (`torch.transpose`). */
  transpose(dim0: number, dim1: number): Tensor {
    return ops.transpose(this, dim0, dim1);
  }

  /** Axes permuted: result axis i is axis dims[i], as `x.permute(1, 0, 2)` (`ops.permute`). */
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return ops.permute(this, dims.flat());
  }

  /** tanh, elementwise (`ops.tanh`). */
  tanh(): Tensor {
    return ops.tanh(this);
  }

  /** 1 / (1 + e^-x), elementwise (`ops.sigmoid`). */
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }

  /** max(x, 0), elementwise (`ops.relu`). */
  relu(): Tensor {
    return ops.relu(this);
  }

  /** GELU, exact erf form (`ops.gelu`). */
  gelu(): Tensor {
    return ops.gelu(this);
  }

  /** e^x, elementwise (`ops.exp`). */
  exp(): Tensor {
    return ops.exp(this);
  }

  /** Natural logarithm, elementwise (`ops.log`). */
  log(): Tensor {
    return ops.log(this);
  }

  /** Square root, elementwise (`ops.sqrt`). */
  sqrt(): Tensor {
    return ops.sqrt(this);
  }

  /** |x|, elementwise (`ops.abs`). */
  abs(): Tensor {
    return ops.abs(this);
  }

  /** x ** exponent for a number exponent (`ops.pow`). */
  pow(exponent: number): Tensor {
    return ops.pow(this, exponent);
  }

  /** Values limited to [min, max]; either bound may be null (`ops.clamp`). */
  clamp(min?: number | null, max?: number | null): Tensor {
    return ops.clamp(this, min, max);
  }

  /** softmax along `dim` (default -1) (`ops.softmax`). */
  softmax(dim = -1): Tensor {
    return ops.softmax(this, dim);
  }

  /** log(softmax) along `dim` (default -1) (`ops.logSoftmax`). */
  logSoftmax(dim = -1): Tensor {
    return ops.logSoftmax(this, dim);
  }

  /** int32 index of the maximum, of all values or along `dim` (`ops.argmax`). */
  argmax(dim?: number, keepDim = false): Tensor {
    return ops.argmax(this, dim, keepDim);
  }

  /** int32 index of the minimum, of all values or along `dim` (`ops.argmin`). */
  argmin(dim?: number, keepDim = false): Tensor {
    return ops.argmin(this, dim, keepDim);
  }

  /** The maximum of all values; with `dim`, `{ values, indices }` along it (`ops.max`). */
  max(): Tensor;
  /** The maxima along `dim` and their int32 indices (`ops.max`). */
  max(dim: number, keepDim?: boolean): ops.ValuesIndices;
  max(dim?: number, keepDim = false): Tensor | ops.ValuesIndices {
    return dim === undefined ? ops.max(this) : ops.max(this, dim, keepDim);
  }

  /** The minimum of all values; with `dim`, `{ values, indices }` along it (`ops.min`). */
  min(): Tensor;
  /** The minima along `dim` and their int32 indices (`ops.min`). */
  min(dim: number, keepDim?: boolean): ops.ValuesIndices;
  min(dim?: number, keepDim = false): Tensor | ops.ValuesIndices {
    return dim === undefined ? ops.min(this) : ops.min(this, dim, keepDim);
  }

  /** `value` where `mask` (float32 0/1) is nonzero (`ops.maskedFill`). */
  maskedFill(mask: Tensor, value: number): Tensor {
    return ops.maskedFill(this, mask, value);
  }

  /** `length` entries along `dim` from `start` (`ops.narrow`). */
  narrow(dim: number, start: number, length: number): Tensor {
    return ops.narrow(this, dim, start, length);
  }

  /** The slice at `index` along `dim`, without that dim (`ops.select`). */
  select(dim: number, index: number): Tensor {
    return ops.select(this, dim, index);
  }

  /** The slices along `dim` (default 0), each without that dim (`ops.unbind`). */
  unbind(dim = 0): Tensor[] {
    return ops.unbind(this, dim);
  }

  /** The entries at int32 `index` along `dim` (`ops.indexSelect`). */
  indexSelect(dim: number, index: Tensor): Tensor {
    return ops.indexSelect(this, dim, index);
  }
}

function addTensors(a: Tensor, b: Tensor): Tensor {
  return new Tensor(getBackend().add(a.handle, b.handle), a.shape);
}

/** Nodes reachable from `root`, inputs before the nodes that consume them. */
function topoSort(root: Tensor): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  // Iterative DFS: recurrent graphs over long sequences are deep.
  const stack: [Node, boolean][] = root.node ? [[root.node, false]] : [];
  while (stack.length) {
    const [node, expanded] = stack.pop()!;
    if (expanded) {
      order.push(node);
      continue;
    }
    if (seen.has(node)) continue;
    seen.add(node);
    stack.push([node, true]);
    for (const input of node.inputs) {
      if (input.node && !seen.has(input.node)) stack.push([input.node, false]);
    }
  }
  return order;
}

/** Whether an op on `inputs` must be recorded. */
export function needsGrad(inputs: readonly Tensor[]): boolean {
  return gradEnabled && inputs.some((t) => t.requiresGrad || t.node !== null);
}
