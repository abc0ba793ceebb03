/**
 * rnnkit backend on TensorFlow.js's WebGL kernels. WebGL exists only in a browser: import
 * this from a page (see chromium.ts for running a Deno-side program's entry in headless
 * Chromium, and page.ts for the page's side).
 * @module
 */
import "@tensorflow/tfjs-backend-webgl";
import type { Backend } from "@rnnkit/core/backend";
import { activate } from "@rnnkit/backend-tfjs";

/** The "webgl" backend; fails loudly if the browser gives no WebGL2. */
export async function createBackend(): Promise<Backend> {
  const backend = await activate("webgl", "webgl");
  return Object.assign(backend, { description: webglRenderer() });
}

/** The parts of a WebGL context read here (Deno's type library has no WebGL types). */
interface GL {
  RENDERER: number;
  getExtension(name: string): { UNMASKED_RENDERER_WEBGL: number } | null;
  getParameter(p: number): unknown;
}

/** The WebGL renderer string (e.g. SwiftShader when there is no GPU). */
function webglRenderer(): string {
  const canvas = new OffscreenCanvas(1, 1) as unknown as { getContext(kind: string): GL | null };
  const gl = canvas.getContext("webgl2");
  if (!gl) return "no WebGL2 context";
  const ext = gl.getExtension("WEBGL_debug_renderer_info");
  return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}
