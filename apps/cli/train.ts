/**
 * `deno task train`: trains one of the seed's toy models ("hello" -> "ohlol" by default)
 * and prints the prediction and loss of every epoch; with `--text FILE`, a character
 * language model on that file instead (charlm.ts).
 */
import { runInChromium } from "@rnnkit/backend-webgl/chromium";
import { BACKEND_NAMES } from "@rnnkit/backends";
import { choiceFlag, intFlag, numberFlag, parse, runMain, UsageError } from "./args.ts";
import { BACKEND_CHOICES, startBackend } from "./backends.ts";
import { CHARLM_HELP, charLMMain } from "./charlm.ts";
import { listBackends } from "./list_backends.ts";
import { checkToyConfig, runToy, TOY_LR, TOY_MODELS, type ToyRun } from "./toy.ts";

const HELP = `Usage: deno task train [options]

Trains a character-to-character recurrent model, as in the seed lecture.

Options:
  --model NAME           rnncell | rnn | embedding (default: embedding)
                           rnncell: RNNCell(V, V), loss summed over steps, lr 0.1
                           rnn: RNN(V, V), mean loss, lr 0.1
                           embedding: Embedding(V, 10) -> RNN(10, 8, 2 layers) -> Linear(8, V), lr 0.05
  --backend NAME         auto | ${BACKEND_NAMES.join(" | ")} (default: auto: native where it
                         loads, else wasm; webgl runs in headless Chromium)
  --input TEXT           input string (default: hello)
  --target TEXT          target string of the same length (default: ohlol)
  --epochs N             training epochs (default: 15)
  --lr X                 Adam learning rate (default: the model's, see above)
  --seed S               seed of the initial weights, as torch.manual_seed(S) (default: 1)
  --hidden-size H        hidden size (embedding model; rnn/rnncell must use V)
  --num-layers L         recurrent layers (rnn and embedding models)
  --embedding-size E     embedding size (embedding model)
  --list-backends        say which backends are usable here, and why not (= deno task backends)
  -h, --help             show this help

V is the number of distinct characters in input and target, sorted as the dictionary.

With --text FILE it trains a character language model on FILE instead, with these options:

${CHARLM_HELP}`;

async function main(argv: string[]): Promise<void> {
  // --text selects the char-LM command, which has its own flags.
  if (argv.some((a) => a === "--text" || a.startsWith("--text="))) return await charLMMain(argv);
  const flags = parse(argv, {
    model: { type: "string" },
    backend: { type: "string" },
    input: { type: "string" },
    target: { type: "string" },
    epochs: { type: "string" },
    lr: { type: "string" },
    seed: { type: "string" },
    "hidden-size": { type: "string" },
    "num-layers": { type: "string" },
    "embedding-size": { type: "string" },
    "list-backends": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  if (flags["list-backends"]) return await listBackends();
  const model = choiceFlag(flags, "model", TOY_MODELS, "embedding");
  const backendChoice = choiceFlag(flags, "backend", BACKEND_CHOICES, "auto");
  const epochs = intFlag(flags, "epochs", 1) ?? 15;
  const lr = numberFlag(flags, "lr") ?? TOY_LR[model];
  const seed = intFlag(flags, "seed", 0) ?? 1;
  const input = (flags.input as string | undefined) ?? "hello";
  const target = (flags.target as string | undefined) ?? "ohlol";

  const run: ToyRun = {
    model,
    input,
    target,
    epochs,
    lr,
    seed,
    hiddenSize: intFlag(flags, "hidden-size", 1),
    numLayers: intFlag(flags, "num-layers", 1),
    embeddingSize: intFlag(flags, "embedding-size", 1),
  };
  try {
    checkToyConfig(run);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (backendChoice === "webgl") {
    const code = await runInChromium({
      entry: new URL("./browser_train.ts", import.meta.url).href,
      args: [JSON.stringify(run)],
    });
    if (code !== 0) Deno.exit(code);
    return;
  }
  await startBackend(backendChoice);
  await runToy(run, console.log, console.error);
}

if (import.meta.main) await runMain(() => main(Deno.args));
