/**
 * Greedy generation from PyTorch-exported CharLM checkpoints (tests/fixtures/charlm, written
 * by export_generation_checkpoints.py): the text must equal PyTorch's, character for
 * character, and the first logits must match.
 *
 * Under Deno the committed .safetensors file is decoded. The browser page is served only
 * the bundled script, not the fixture files, so there the model is loaded from the same
 * state in generation.json instead: generation is still checked on webgl, the file
 * decoding is not.
 */
import {
  CharLM,
  decodeCharLM,
  generate,
  intTensor,
  liveTensors,
  noGrad,
  ops,
  tidy,
} from "@rnnkit/core";
import generation from "../../fixtures/generation.json" with { type: "json" };
import { assertClose, type HostTensor } from "../check.ts";
import type { Tensors } from "../fixtures.ts";
import { test } from "../registry.ts";

interface GenerationCase {
  name: string;
  cell: "rnn" | "lstm" | "gru";
  nonlinearity?: "tanh" | "relu";
  numLayers: number;
  vocab: string[];
  state: Tensors;
  prompt: string;
  length: number;
  generated: string;
  logitsFirst: HostTensor;
}

async function loadModel(c: GenerationCase): Promise<CharLM> {
  if (globalThis.Deno) {
    const url = new URL(`../../fixtures/charlm/${c.name}.safetensors`, import.meta.url);
    const { model, vocab } = decodeCharLM(await Deno.readFile(url));
    if (vocab.join() !== c.vocab.join()) {
      model.dispose();
      throw new Error(`${c.name}: checkpoint vocab ${vocab} != fixture's ${c.vocab}`);
    }
    return model;
  }
  const model = new CharLM({
    vocabSize: c.vocab.length,
    cell: c.cell,
    embeddingSize: c.state["emb.weight"].shape[1],
    hiddenSize: c.state["fc.weight"].shape[1],
    numLayers: c.numLayers,
    nonlinearity: c.nonlinearity,
  });
  model.loadStateDict(c.state);
  return model;
}

for (const c of generation.cases as unknown as GenerationCase[]) {
  test(`generation ${c.name}`, async () => {
    const model = await loadModel(c);
    try {
      const prompt = [...c.prompt].map((ch) => c.vocab.indexOf(ch));
      const first = noGrad(() =>
        tidy(() => {
          const [logits] = model.forward(intTensor(prompt, [1, prompt.length]));
          return ops.reshape(logits, [-1, c.vocab.length]);
        })
      );
      const rows = await first.data();
      first.dispose();
      assertClose(rows.slice(-c.vocab.length), c.logitsFirst, `${c.name} first logits`);

      const live = liveTensors();
      const out = await generate(model, prompt, c.length, { temperature: 0 });
      if (liveTensors() !== live) {
        throw new Error(`${c.name}: generate leaked ${liveTensors() - live} tensors`);
      }
      const text = c.prompt + out.map((i) => c.vocab[i]).join("");
      if (text !== c.generated) {
        throw new Error(
          `${c.name}: generated ${JSON.stringify(text)} != PyTorch's ${
            JSON.stringify(c.generated)
          }`,
        );
      }
    } finally {
      model.dispose();
    }
  });
}
