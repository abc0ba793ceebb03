/**
 * Runs rnnkit's own WGSL kernels on tfjs-webgpu's device and tensors, and counts every
 * compute dispatch (tfjs's and these). tfjs's program mechanism (`runWebGPUProgram`) binds
 * one writable output per dispatch; a recurrent step writes several (h, the saved gates, c),
 * so these kernels bind the tensors' GPU buffers themselves, through the public members of
 * tfjs's WebGPUBackend only (`device`, `tensorMap`, `uploadToGPU`, `makeTensorInfo`,
 * `submitQueue`).
 */
import * as tf from "@tensorflow/tfjs-core";

/** The members of tfjs-webgpu's WebGPUBackend used here (all public in its typings). */
interface TfWebGPU {
  device: GPUDevice;
  tensorMap: { get(dataId: object): { resource?: unknown } };
  uploadToGPU(dataId: object): void;
  makeTensorInfo(shape: number[], dtype: "float32"): tf.TensorInfo;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  runWebGPUProgram(...args: unknown[]): tf.TensorInfo;
}

/** Threads per workgroup of every kernel here. */
export const WORKGROUP = 64;

/**
 * WGSL shared by the kernels: `thread()` is the invocation's flat index over a 2-D grid
 * of workgroups (one dimension holds at most 65535), and tfjs's overflow-safe tanh.
 */
export const PRELUDE = `
var<private> gid: vec3<u32>;
var<private> groups: vec3<u32>;
fn thread() -> u32 { return gid.y * groups.x * ${WORKGROUP}u + gid.x; }
fn tanh_(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
`;

/** The entry point, after PRELUDE: sets the index globals and calls the kernel's `main`. */
export const ENTRY = `
@compute @workgroup_size(${WORKGROUP})
fn entry(@builtin(global_invocation_id) g: vec3<u32>,
         @builtin(num_workgroups) n: vec3<u32>) {
  gid = g;
  groups = n;
  main();
}
`;

/** A binding of one kernel invocation: a tensor, or a range of a uniform buffer. */
type Resource = tf.Tensor | { uniform: GPUBuffer; offset: number };

/** One dispatch: the kernel, its bindings (binding i is resources[i]) and its threads. */
export interface Dispatch {
  /** The compiled kernel, from `KernelRunner.pipeline`. */
  pipeline: GPUComputePipeline;
  /** Binding i of the kernel's group 0. */
  resources: Resource[];
  /** Invocations to run (rounded up to whole workgroups; the kernel skips the extra). */
  threads: number;
}

/** Copies `bytes` of `from`, from byte `fromOffset` (default 0), to the start of `to`. */
export interface Copy {
  /** The source. */
  from: tf.Tensor;
  /** Where in the source to start, in bytes (a multiple of 4). Default 0. */
  fromOffset?: number;
  /** The destination, written from its start. */
  to: tf.Tensor;
  /** How many bytes (a multiple of 4). */
  bytes: number;
}

/**
 * What one `submit` records: copies and clears (buffer commands, not dispatches), the
 * dispatches in order in one compute pass (each sees the writes of those before), then
 * copies of results.
 */
export interface Work {
  /** Copies before the dispatches. Default none. */
  copies?: Copy[];
  /** Tensors zeroed before the dispatches. Default none. */
  clears?: tf.Tensor[];
  /** The dispatches, in order. */
  dispatches: Dispatch[];
  /** Copies after the dispatches. Default none. */
  copiesAfter?: Copy[];
}

/** rnnkit's kernels on tfjs-webgpu's device; `dispatches` counts every compute dispatch. */
export class KernelRunner {
  readonly #tf: TfWebGPU;
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  #count = 0;

  /** Wraps the active tfjs backend, which must be tfjs-webgpu, and starts counting. */
  constructor() {
    this.#tf = tf.backend() as unknown as TfWebGPU;
    // Every tfjs kernel on the GPU runs through runWebGPUProgram: one dispatch per call,
    // except an empty output, which it returns without dispatching.
    const run = this.#tf.runWebGPUProgram.bind(this.#tf);
    this.#tf.runWebGPUProgram = (...args: unknown[]) => {
      const out = run(...args);
      if (tf.util.sizeFromShape(out.shape) > 0) this.#count++;
      return out;
    };
  }

  /** Compute dispatches so far: tfjs's kernels and rnnkit's. */
  get dispatches(): number {
    return this.#count;
  }

  /** The compiled kernel for `code` (PRELUDE and ENTRY added), cached under `key`. */
  pipeline(key: string, code: string): GPUComputePipeline {
    let p = this.#pipelines.get(key);
    if (!p) {
      const module = this.#tf.device.createShaderModule({ code: PRELUDE + code + ENTRY });
      p = this.#tf.device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint: "entry" },
      });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /** A new float32 tensor of `shape` whose values the caller's kernels write. */
  empty(shape: number[]): tf.Tensor {
    const info = this.#tf.makeTensorInfo(shape, "float32");
    this.#tf.uploadToGPU(info.dataId);
    return tf.engine().makeTensorFromTensorInfo(info, tf.backend());
  }

  /**
   * A uniform buffer of `slots` 256-byte slots (WebGPU's offset alignment), slot i holding
   * the bytes of `fill(i)`; `submit` destroys it once its commands are queued.
   */
  uniforms(slots: number, fill: (i: number) => Int32Array | Float32Array): GPUBuffer {
    const data = new Uint8Array(slots * 256);
    for (let i = 0; i < slots; i++) {
      const f = fill(i);
      data.set(new Uint8Array(f.buffer, f.byteOffset, f.byteLength), i * 256);
    }
    const buffer = this.#tf.device.createBuffer({
      size: data.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.#tf.device.queue.writeBuffer(buffer, 0, data);
    return buffer;
  }

  /**
   * Records `work` in one command buffer and submits it, after whatever tfjs has recorded
   * and not yet submitted (its kernels may have produced the inputs); `uniforms` are
   * destroyed after, which WebGPU defers until the queued work is done.
   */
  submit(work: Work, uniforms: GPUBuffer[] = []): void {
    const t = this.#tf;
    // Buffers first: uploadToGPU records the uploads of host-side tensors in tfjs's queue.
    const buffers = new Map<tf.Tensor, GPUBuffer>();
    const buffer = (x: tf.Tensor) => buffers.get(x)!;
    const tensors = [
      ...work.dispatches.flatMap((d) => d.resources),
      ...[...work.copies ?? [], ...work.copiesAfter ?? []].flatMap((c) => [c.from, c.to]),
      ...(work.clears ?? []),
    ].filter((r): r is tf.Tensor => r instanceof tf.Tensor);
    for (const x of tensors) {
      t.uploadToGPU(x.dataId);
      buffers.set(x, t.tensorMap.get(x.dataId).resource as GPUBuffer);
    }
    const groups = work.dispatches.map((d) =>
      t.device.createBindGroup({
        layout: d.pipeline.getBindGroupLayout(0),
        entries: d.resources.map((r, binding) => ({
          binding,
          resource: r instanceof tf.Tensor
            ? { buffer: buffer(r) }
            : { buffer: r.uniform, offset: r.offset, size: 256 },
        })),
      })
    );
    // tfjs's recorded commands (its kernels, the uploads) go first: they make the inputs.
    t.ensureCommandEncoderReady();
    t.endComputePassEncoder();
    t.submitQueue();
    const encoder = t.device.createCommandEncoder();
    const copy = (c: Copy) =>
      encoder.copyBufferToBuffer(buffer(c.from), c.fromOffset ?? 0, buffer(c.to), 0, c.bytes);
    work.copies?.forEach(copy);
    for (const x of work.clears ?? []) encoder.clearBuffer(buffer(x), 0, x.size * 4);
    const pass = encoder.beginComputePass();
    work.dispatches.forEach((d, i) => {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, groups[i]);
      const workgroups = Math.ceil(d.threads / WORKGROUP);
      const x = Math.min(workgroups, 65535);
      pass.dispatchWorkgroups(x, Math.ceil(workgroups / x));
    });
    pass.end();
    work.copiesAfter?.forEach(copy);
    t.device.queue.submit([encoder.finish()]);
    this.#count += work.dispatches.length;
    for (const u of uniforms) u.destroy();
  }
}
