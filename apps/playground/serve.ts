/**
 * `deno task serve`: builds the playground (build.ts) and serves it over HTTP, with the
 * headers that make the page cross-origin isolated, so the wasm backend runs on threads.
 * `--dir DIR` serves a folder instead: your own page, built as the README says.
 */
import { normalize } from "node:path";
import { intFlag, parse, runMain, UsageError } from "../cli/args.ts";
import { buildPlayground } from "./build.ts";

const DEFAULT_PORT = 8000;

const HELP = `Usage: deno task serve [options]

Builds the rnnkit playground, a page that trains a character language model in a Web Worker
(pick the backend, model, text; live loss chart, samples, checkpoints), serves it and prints
its URL. Every response carries Cross-Origin-Opener-Policy: same-origin and
Cross-Origin-Embedder-Policy: require-corp, so the page is cross-origin isolated and the wasm
backend can use threads. Query parameters set the page's controls, e.g.
?backend=wasm&cell=gru&steps=40&autostart=1.

Options:
  --port N      port to listen on; 0 picks a free one (default: ${DEFAULT_PORT})
  --host ADDR   address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0: every
                interface, reachable by others)
  --dir DIR     serve the files of DIR instead of the playground (e.g. your own page)
  -h, --help    show this help
`;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".txt": "text/plain; charset=utf-8",
  ".json": "application/json",
  ".css": "text/css",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** Cross-origin isolation (SharedArrayBuffer, so wasm threads) and no stale bundles. */
const HEADERS = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
};

async function main(argv: string[]): Promise<void> {
  const flags = parse(argv, {
    port: { type: "string" },
    host: { type: "string" },
    dir: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const port = intFlag(flags, "port", 0, 65535) ?? DEFAULT_PORT;
  const host = (flags.host as string | undefined) ?? "127.0.0.1";
  if (host.trim() === "") throw new UsageError("--host must not be empty");
  const dir = flags.dir as string | undefined;
  if (dir !== undefined && !(await Deno.stat(dir).catch(() => null))?.isDirectory) {
    throw new UsageError(`--dir ${dir}: not a folder`);
  }
  const { url, server } = await startServer({ port, host, dir });
  console.log(
    `rnnkit ${dir === undefined ? "playground" : `serving ${dir}`}: ${url} (Ctrl-C stops)`,
  );
  await server.finished;
}

/** Where `startServer` listens, and what it serves. */
export interface ServeOptions {
  /** Port; 0 picks a free one. */
  port: number;
  /** Address to listen on. */
  host: string;
  /** A folder to serve; default: the playground, built first. */
  dir?: string;
}

/** Serves the playground (or `dir`) with the isolation headers; resolves once listening. */
export async function startServer(
  options: ServeOptions,
): Promise<{ url: string; server: Deno.HttpServer }> {
  const { port, host, dir } = options;
  const files = dir === undefined ? await buildPlayground() : undefined;
  const read = files ? (path: string) => files.get(path) : (path: string) => readUnder(dir!, path);
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({ hostname: host, port, onListen: () => {} }, async (req) => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response("method not allowed", { status: 405, headers: HEADERS });
      }
      let path: string;
      try {
        path = decodeURIComponent(new URL(req.url).pathname);
      } catch {
        return new Response("bad path", { status: 400, headers: HEADERS });
      }
      if (path.endsWith("/")) path += "index.html";
      const bytes = await read(path);
      if (!bytes) return new Response("not found", { status: 404, headers: HEADERS });
      const type = TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream";
      return new Response(req.method === "HEAD" ? null : bytes, {
        headers: { ...HEADERS, "content-type": type },
      });
    });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new Error(`port ${port} on ${host} is in use: pass --port N (0 picks a free one)`);
    }
    throw e;
  }
  const shown = host.includes(":") ? `[${host}]` : host;
  return { url: `http://${shown}:${(server.addr as Deno.NetAddr).port}/`, server };
}

/** The file at URL path `path` inside `dir`, or undefined (never a file outside `dir`). */
async function readUnder(dir: string, path: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const relative = normalize(path).replace(/^\/+/, "");
  if (relative.startsWith("..")) return undefined;
  try {
    const file = `${dir}/${relative}`;
    if (!(await Deno.stat(file)).isFile) return undefined;
    return await Deno.readFile(file);
  } catch {
    return undefined;
  }
}

if (import.meta.main) await runMain(() => main(Deno.args));
