/**
 * Sequential, ModuleList and ModuleDict against PyTorch (tests/fixtures/containers.json):
 * PyTorch's state dict loads as it is (so the keys are PyTorch's), then forward and the
 * gradients of the input and every parameter.
 */
import {
  GELU,
  GRU,
  Linear,
  LogSoftmax,
  Module,
  ModuleDict,
  ModuleList,
  ops,
  ReLU,
  Sequential,
  Sigmoid,
  Softmax,
  Tanh,
  type Tensor,
  tensor,
  tidy,
} from "@rnnkit/core";
import containers from "../../fixtures/containers.json" with { type: "json" };
import { assertTensor, type HostTensor } from "../check.ts";
import { test } from "../registry.ts";

/** The fixture's Stack: GRUs in a ModuleList feeding each other, two heads in a ModuleDict. */
class Stack extends Module {
  readonly layers = this.registerModule(
    "layers",
    new ModuleList([new GRU(3, 4, { batchFirst: true }), new GRU(4, 4, { batchFirst: true })]),
  );
  readonly heads = this.registerModule(
    "heads",
    new ModuleDict({ out: new Linear(4, 2), aux: new Linear(4, 2, { bias: false }) }),
  );

  forward(x: Tensor): Tensor {
    for (const layer of this.layers) [x] = layer.forward(x);
    const y = this.heads.get("out").forward(x);
    return ops.add(y, ops.tanh(this.heads.get("aux").forward(x)));
  }
}

const MODELS: Record<string, () => Module & { forward(x: Tensor): Tensor }> = {
  sequential_mlp: () =>
    new Sequential(
      new Linear(3, 5),
      new Tanh(),
      new Linear(5, 4),
      new ReLU(),
      new Linear(4, 2),
      new Sigmoid(),
    ),
  modulelist_moduledict: () => new Stack(),
  sequential_gelu_softmax: () =>
    new Sequential(
      new Linear(3, 6),
      new GELU(),
      new Linear(6, 5),
      new GELU({ approximate: "tanh" }),
      new Linear(5, 4),
      new Softmax(1),
    ),
  sequential_log_softmax: () => new Sequential(new Linear(3, 4), new LogSoftmax(-1)),
};

interface ContainerCase {
  name: string;
  state: Record<string, HostTensor>;
  input: HostTensor;
  output: HostTensor;
  upstream: HostTensor;
  grads: Record<string, HostTensor>;
}

for (const c of containers.cases as unknown as ContainerCase[]) {
  test(`container ${c.name}`, async () => {
    const model = MODELS[c.name]();
    if (Object.keys(model.stateDict()).join() !== Object.keys(c.state).join()) {
      throw new Error(`${c.name}: keys ${Object.keys(model.stateDict())} != PyTorch's`);
    }
    model.loadStateDict(c.state);
    const x = tensor(c.input.data, c.input.shape);
    x.requiresGrad = true;
    const out = tidy(() => {
      const y = model.forward(x);
      ops.sum(ops.mul(y, tensor(c.upstream.data, c.upstream.shape))).backward();
      return y;
    });
    try {
      await assertTensor(out, c.output, `${c.name} output`);
      await assertTensor(x.grad, c.grads.input, `${c.name} grad input`);
      const params = model.stateDict();
      for (const [k, p] of Object.entries(params)) {
        await assertTensor(p.grad, c.grads[k], `${c.name} grad ${k}`);
      }
    } finally {
      for (const t of [out, x, x.grad]) t?.dispose();
      model.dispose();
    }
  });
}
