/**
 * Builds the playground: the page and its worker bundled for the browser (`deno bundle
 * --platform=browser`), the HTML page, the sample text, and the wasm backend's binaries next
 * to the worker's bundle, where the backend looks for them by default.
 */
import { bundleForBrowser } from "@rnnkit/backend-webgl/chromium";
import { WASM_FILES, wasmFolder } from "@rnnkit/backend-wasm";

const here = new URL(".", import.meta.url);

/** The playground's files, by path ("/index.html", "/worker.js", ...). */
export async function buildPlayground(): Promise<Map<string, Uint8Array<ArrayBuffer>>> {
  const tmp = await Deno.makeTempDir({ prefix: "rnnkit-playground-" });
  try {
    await Promise.all(
      ["page", "worker"].map((name) =>
        bundleForBrowser(new URL(`${name}.ts`, here).href, `${tmp}/${name}.js`)
      ),
    );
    const files = new Map<string, Uint8Array<ArrayBuffer>>();
    for (const name of ["page.js", "worker.js"]) {
      files.set(`/${name}`, await Deno.readFile(`${tmp}/${name}`));
    }
    for (const name of ["index.html", "sample.txt"]) {
      files.set(`/${name}`, await Deno.readFile(new URL(name, here)));
    }
    for (const name of WASM_FILES) {
      files.set(`/${name}`, await Deno.readFile(new URL(name, wasmFolder())));
    }
    return files;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
