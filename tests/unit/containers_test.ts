/**
 * Containers and module utilities: names as PyTorch's, apply, counts, and clear errors.
 * (Their numerics against PyTorch: tests/conformance/suite/containers.ts.)
 */
import assert from "node:assert/strict";
import "./setup.ts";
import {
  GELU,
  Linear,
  LogSoftmax,
  LSTM,
  type Module,
  ModuleDict,
  ModuleList,
  ReLU,
  Sequential,
  Softmax,
  tensor,
} from "@rnnkit/core";

Deno.test("Sequential: keys, named modules, length, at, forward shape", () => {
  const net = new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1));
  assert.deepEqual(Object.keys(net.stateDict()), ["0.weight", "0.bias", "2.weight", "2.bias"]);
  assert.deepEqual(net.namedModules().map(([n]) => n), ["", "0", "1", "2"]);
  assert.equal(net.parameterCount(), 2 * 3 + 3 + 3 + 1);
  assert.equal(net.length, 3);
  assert.ok(net.at(-1) instanceof Linear);
  assert.deepEqual(net.forward(tensor([[1, 2], [3, 4]])).shape, [2, 1]);
  assert.throws(() => net.at(3), /Sequential: index 3 out of range for 3 modules/);
  net.dispose();
});

Deno.test("ModuleList and ModuleDict nest with dotted names; apply visits children first", () => {
  const list = new ModuleList([new LSTM(2, 3), new LSTM(3, 3)]);
  const dict = new ModuleDict<Module>({ enc: list, head: new Linear(3, 2) });
  assert.deepEqual(dict.keys(), ["enc", "head"]);
  assert.deepEqual(
    dict.namedModules().map(([n]) => n),
    ["", "enc", "enc.0", "enc.1", "head"],
  );
  assert.ok(Object.keys(dict.stateDict()).includes("enc.1.weight_hh_l0"));
  assert.deepEqual([...list].map((m) => m.inputSize), [2, 3]);
  const order: string[] = [];
  dict.apply((m: Module) => order.push(m.constructor.name));
  assert.deepEqual(order, ["LSTM", "LSTM", "ModuleList", "Linear", "ModuleDict"]);
  assert.equal(dict.namedChildren().length, 2);
  // Replacing a key keeps its place.
  dict.set("enc", new ModuleList([new LSTM(2, 3)]));
  assert.deepEqual(dict.keys(), ["enc", "head"]);
  assert.throws(() => dict.get("dec"), /ModuleDict: no module "dec"; keys: enc,head/);
  assert.throws(() => dict.set("a.b", new ReLU()), /a module name cannot be empty or contain "\."/);
  dict.dispose();
  list.dispose();
});

Deno.test("activation modules: no parameters; bad options are named", () => {
  const net = new Sequential(new GELU(), new Softmax(-1), new LogSoftmax(0));
  assert.equal(net.parameterCount(), 0);
  assert.deepEqual(net.forward(tensor([[0, Math.log(3)]])).shape, [1, 2]);
  assert.throws(
    () => new GELU({ approximate: "erf" as "tanh" }),
    /GELU: approximate must be "none" or "tanh", got "erf"/,
  );
  assert.throws(
    () => new Softmax(undefined as unknown as number),
    /Softmax: dim must be an integer \(e\.g\. -1\), got undefined/,
  );
  assert.throws(() => new LogSoftmax(1.5), /LogSoftmax: dim must be an integer/);
});
