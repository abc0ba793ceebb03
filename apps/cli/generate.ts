/**
 * `deno task generate`: continues a prompt with a CharLM checkpoint (`saveCharLM`'s format,
 * README "Files and PyTorch"; PyTorch writes one with python/rnnkit_export.py).
 *
 * stdout holds exactly the prompt followed by the generated characters, written as they are
 * generated, so it can be piped or compared; a newline is added only when stdout is a
 * terminal, to keep the shell prompt off the text. Everything else goes to stderr. A pipe
 * closed by its reader ends the run with exit code 0.
 */
import { generate, loadCharLM, Random } from "@rnnkit/core";
import { DENO_BACKEND_NAMES } from "@rnnkit/backends";
import { choiceFlag, intFlag, numberFlag, parse, runMain, UsageError } from "./args.ts";
import { BACKEND_CHOICES, startBackend } from "./backends.ts";

const HELP = `Usage: deno task generate --checkpoint FILE --prompt TEXT [options]

Continues TEXT with a character-level language model saved as an rnnkit CharLM checkpoint
and prints the prompt followed by the generated characters.

Options:
  --checkpoint FILE      the .safetensors checkpoint (required)
  --prompt TEXT          non-empty start text, made of the checkpoint's characters (required)
  --length N             characters to generate (default: 200)
  --temperature T        softmax temperature; 0 = greedy argmax (default: 1)
  --top-k K              sample among the K most likely characters only (default: all)
  --seed S               seed of the sampling generator; same seed, same text (default: 0)
  --backend NAME         auto | ${DENO_BACKEND_NAMES.join(" | ")} (default: auto: native where it
                         loads, else wasm)
  -h, --help             show this help

stdout is exactly the prompt and the generated text, with a final newline only when it is
a terminal.
`;

async function main(argv: string[]): Promise<void> {
  const flags = parse(argv, {
    checkpoint: { type: "string" },
    prompt: { type: "string" },
    length: { type: "string" },
    temperature: { type: "string" },
    "top-k": { type: "string" },
    seed: { type: "string" },
    backend: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const checkpoint = flags.checkpoint as string | undefined;
  if (!checkpoint) throw new UsageError("--checkpoint FILE is required");
  const prompt = flags.prompt as string | undefined;
  if (!prompt) throw new UsageError("--prompt TEXT is required and must not be empty");
  const length = intFlag(flags, "length", 0) ?? 200;
  const temperature = numberFlag(flags, "temperature", true) ?? 1;
  const topK = intFlag(flags, "top-k", 1);
  const seed = intFlag(flags, "seed", 0) ?? 0;
  const backendChoice = choiceFlag(flags, "backend", BACKEND_CHOICES, "auto");
  if (backendChoice === "webgl") {
    throw new UsageError(
      `--backend webgl runs only in a browser; generate runs on ${DENO_BACKEND_NAMES.join(", ")}`,
    );
  }

  await startBackend(backendChoice);
  // A file that is not a usable checkpoint is bad input, like a bad flag.
  const { model, vocab } = await loadCharLM(checkpoint).catch((e: Error) => {
    throw new UsageError(e.message.replace(/^rnnkit: /, ""));
  });
  try {
    const unknown = [...new Set([...prompt].filter((ch) => !vocab.includes(ch)))];
    if (unknown.length) {
      throw new UsageError(
        `--prompt has characters outside the checkpoint's vocabulary: ` +
          `${unknown.map((ch) => JSON.stringify(ch)).join(", ")}; vocabulary: ${
            JSON.stringify(vocab.join(""))
          }`,
      );
    }
    const indices = [...prompt].map((ch) => vocab.indexOf(ch));
    // Each character is written as soon as it is drawn, so a long run shows (and keeps) its
    // text as it goes; a reader that stops reading (`| head`) ends the run quietly.
    await write(prompt);
    await generate(model, indices, length, {
      temperature,
      topK,
      rng: new Random(seed),
      onToken: (i) => write(vocab[i]),
    });
    if (Deno.stdout.isTerminal()) await write("\n");
  } catch (e) {
    if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
  } finally {
    model.dispose();
  }
}

const encoder = new TextEncoder();

async function write(text: string): Promise<void> {
  const bytes = encoder.encode(text);
  // write() may write only part of the buffer.
  for (let at = 0; at < bytes.length;) at += await Deno.stdout.write(bytes.subarray(at));
}

if (import.meta.main) await runMain(() => main(Deno.args));
