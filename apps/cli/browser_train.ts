/** The page side of `train --backend webgl`: runs the toy training run given as args()[0]. */
import { args, err, exit, out } from "@rnnkit/backend-webgl/page";
import { createBackend } from "@rnnkit/backend-webgl";
import { setBackend } from "@rnnkit/core";
import { runToy } from "./toy.ts";

try {
  const backend = await createBackend();
  setBackend(backend);
  err(`rnnkit: webgl renderer: ${backend.description}`);
  await runToy(JSON.parse(args()[0]), out, err);
  exit(0);
} catch (e) {
  err(`error: ${(e as Error).message.replace(/^rnnkit: /, "")}`);
  exit(1);
}
