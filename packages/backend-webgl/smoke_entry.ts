/// <reference lib="dom" />
/**
 * Browser smoke test for runInChromium: WebGL2 through tfjs, streamed lines, exit code.
 * `fail` as first argument throws after the first line, to check error reporting.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-webgl";
import { args, exit, out } from "@rnnkit/backend-webgl/page";

const ok = await tf.setBackend("webgl");
// setBackend resolves false (without throwing) when WebGL is unusable, so check both.
if (!ok || tf.getBackend() !== "webgl") throw new Error(`no webgl backend (${tf.getBackend()})`);
const gl = document.createElement("canvas").getContext("webgl2");
out(`backend ${tf.getBackend()} webgl2 ${gl !== null} renderer ${rendererName(gl)}`);

const a = tf.randomUniform([64, 64], -1, 1, "float32", 1);
const b = tf.randomUniform([64, 64], -1, 1, "float32", 2);
for (let i = 0; i < 5; i++) {
  const sum = tf.tidy(() => tf.sum(tf.matMul(a, b)));
  out(
    `iter ${i} checksum ${(await sum.data())[0].toFixed(4)} at ${Math.round(performance.now())}ms`,
  );
  sum.dispose();
  if (i === 0 && args()[0] === "fail") throw new Error("smoke failure requested");
  // Gaps between lines let the test see them arrive one by one.
  await new Promise((resolve) => setTimeout(resolve, 200));
}
exit(0);

function rendererName(gl: WebGL2RenderingContext | null): string {
  if (!gl) return "none";
  const ext = gl.getExtension("WEBGL_debug_renderer_info");
  return ext ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : "unknown";
}
