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
      // Two leaves may share one gradient tensor (e.g. a + b): give each its own.
      const own = t.grad ? addTensors(t.grad, g) : assigned.has(g) ? g.clone() : g;
      t.grad?.dispose();
      assigned.add(own);
      // Leaf gradients outlive the step's scope, like parameters do.
      t.grad = keep(own);
    }
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
