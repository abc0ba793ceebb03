/**
 * Runs a browser-side TypeScript entry in headless Chromium (WebGL2 through SwiftShader when
 * there is no GPU) and streams what it prints back to the terminal.
 *
 * Steps: `deno bundle --platform=browser` turns the entry into one script, a Deno.serve server
 * on 127.0.0.1 serves it inside a small HTML page, and Chromium is driven through the DevTools
 * protocol (CDP) over a WebSocket. The page talks back with console messages (see page.ts):
 * `out`/`err` lines, then `exit(code)`. An uncaught error or unhandled rejection in the page
 * ends the run with code 1. A timeout gives 124 and Ctrl-C gives 130, like a shell would.
 *
 * `ChromiumPage` drives one tab of the same headless Chromium from Deno instead, for pages
 * served some other way (the playground's tests, screenshots).
 *
 * Permissions: --allow-read --allow-write (temp dir) --allow-run (deno bundle, chromium)
 * --allow-net=127.0.0.1 (server and CDP) and, optionally, --allow-env (RNNKIT_CHROMIUM).
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TAG } from "./page.ts";

/** What `runInChromium` runs, and how. */
export interface BrowserRunOptions {
  /** Path or file URL of a .ts module to bundle for the browser. */
  entry: string;
  /** Made available to the page as globalThis.RNNKIT_ARGS (see `args()` in page.ts). Default []. */
  args?: string[];
  /** Receives each line. Default: writes it to Deno.stdout / Deno.stderr. */
  onLine?: (stream: "stdout" | "stderr", line: string) => void;
  /**
   * Whole-run limit in milliseconds, bundling included; when it passes the run ends with
   * code 124. Default: none.
   */
  timeoutMs?: number;
  /**
   * Serve the page cross-origin isolated (`Cross-Origin-Opener-Policy: same-origin`,
   * `Cross-Origin-Embedder-Policy: require-corp`), which SharedArrayBuffer and so the wasm
   * backend's threads need. Default false: an ordinary page.
   */
  crossOriginIsolated?: boolean;
  /**
   * More files to serve next to the bundle: URL path (e.g. "/tfjs-backend-wasm-simd.wasm")
   * to the local file that holds it. Default: none.
   */
  files?: Readonly<Record<string, string | URL>>;
  /** More Chromium command-line flags, e.g. `--enable-unsafe-webgpu`. Default: none. */
  chromiumFlags?: string[];
}

/** The error message of `runInChromium` when `chromiumPath()` finds no Chromium. */
export const CHROMIUM_NOT_FOUND =
  "Chromium not found: install it with `apt-get install -y chromium`";

// Debian's package installs a wrapper script at /usr/bin/chromium that execs the real binary.
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

// platform-facts.md: --no-sandbox because we run as root, headless because there is no display;
// the rest keeps the browser from phoning home or doing background work during a run.
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--remote-debugging-port=0",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  // Chromium 156 deprecates the silent software-WebGL fallback; ask for it explicitly.
  "--enable-unsafe-swiftshader",
];

/** Chromium's executable: $RNNKIT_CHROMIUM when set, else the usual install paths; or null. */
export function chromiumPath(): string | null {
  let override: string | undefined;
  try {
    override = Deno.env.get("RNNKIT_CHROMIUM");
  } catch {
    // No --allow-env: just look in the usual places.
  }
  for (const path of override ? [override] : CANDIDATES) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Missing (or unreadable): try the next one.
    }
  }
  return null;
}

/** Bundles `entry` for the browser into `outFile` with `deno bundle`. */
export async function bundleForBrowser(
  entry: string,
  outFile: string,
  signal?: AbortSignal,
): Promise<void> {
  const entryPath = entry.startsWith("file:") ? fileURLToPath(entry) : resolve(entry);
  // deno finds deno.json (workspace members, import map) from the working directory, not
  // from the entry, so run it beside the entry.
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform=browser", "-o", outFile, entryPath],
    cwd: dirname(entryPath),
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" }, // plain error text, without a Rust backtrace
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    signal,
  }).output();
  signal?.throwIfAborted();
  if (!success) {
    throw new Error(`bundling ${entry} failed:\n${new TextDecoder().decode(stderr).trim()}`);
  }
}

/**
 * Bundles entry, serves it on 127.0.0.1 (random port), drives headless Chromium through the
 * DevTools protocol, and resolves with the page's exit code.
 */
export async function runInChromium(opts: BrowserRunOptions): Promise<number> {
  const exe = chromiumPath();
  if (!exe) throw new Error(CHROMIUM_NOT_FOUND);
  const emit = opts.onLine ?? writeLine;

  // Timeout and Ctrl-C both abort; every wait below races against this signal.
  const stop = new AbortController();
  const onSigint = () => stop.abort(new Stopped(130, "interrupted"));
  Deno.addSignalListener("SIGINT", onSigint);
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(
    () => stop.abort(new Stopped(124, `timed out after ${opts.timeoutMs} ms`)),
    opts.timeoutMs,
  );

  const tmp = await Deno.makeTempDir({ prefix: "rnnkit-chromium-" });
  let server: Deno.HttpServer | undefined;
  let browser: Browser | undefined;
  try {
    const bundleFile = join(tmp, "bundle.js");
    await bundleForBrowser(opts.entry, bundleFile, stop.signal);
    const bundle = await Deno.readFile(bundleFile);
    const files = new Map<string, Uint8Array<ArrayBuffer>>([["/bundle.js", bundle]]);
    for (const [path, file] of Object.entries(opts.files ?? {})) {
      files.set(path, await Deno.readFile(file));
    }
    server = serve(pageHtml(opts.args ?? []), files, opts.crossOriginIsolated ?? false);

    browser = new Browser(exe, join(tmp, "profile"), emit, opts.chromiumFlags);
    await abortable(browser.connect(), stop.signal);
    return await abortable(
      browser.run(`http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`),
      stop.signal,
    );
  } catch (e) {
    // Aborting makes whatever was running fail, with the abort reason or otherwise.
    if (!stop.signal.aborted) throw e;
    const { code, message } = stop.signal.reason as Stopped;
    emit("stderr", message);
    return code;
  } finally {
    await browser?.close();
    await server?.shutdown();
    clearTimeout(timer);
    Deno.removeSignalListener("SIGINT", onSigint);
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Options of `ChromiumPage.launch`. */
export interface ChromiumPageOptions {
  /**
   * Receives Chromium's stderr lines (known noise dropped), the page's console messages
   * ("console.log: ...") and its uncaught errors ("uncaught: ..."). Default: dropped.
   */
  onLine?: (line: string) => void;
  /** The tab's viewport in CSS pixels (what `screenshot` captures). Default 1024 x 768. */
  viewport?: { width: number; height: number };
}

/**
 * One tab of a headless Chromium with a fresh profile, to drive a page from Deno (tests,
 * screenshots): `goto` a URL, `evaluate` expressions in it, fill file inputs, collect
 * downloads, capture screenshots. Always `close()` it: that ends Chromium (and its helper
 * processes) and removes the profile and the downloads.
 *
 * Permissions: as `runInChromium`.
 */
export class ChromiumPage {
  /** The page's uncaught errors and unhandled rejections, oldest first. */
  readonly errors: string[] = [];
  /** The folder downloads are saved in. */
  readonly downloads: string;
  #browser: Browser;
  #tmp: string;
  #onLine: (line: string) => void;
  #waiters = new Map<string, (params: Json) => void>();
  #downloadNames = new Map<string, string>();

  private constructor(exe: string, tmp: string, onLine: (line: string) => void) {
    this.#tmp = tmp;
    this.#onLine = onLine;
    this.downloads = join(tmp, "downloads");
    this.#browser = new Browser(exe, join(tmp, "profile"), (_, line) => onLine(line));
  }

  /** Starts Chromium with one blank tab. */
  static async launch(options: ChromiumPageOptions = {}): Promise<ChromiumPage> {
    const exe = chromiumPath();
    if (!exe) throw new Error(CHROMIUM_NOT_FOUND);
    const tmp = await Deno.makeTempDir({ prefix: "rnnkit-chromium-" });
    const page = new ChromiumPage(exe, tmp, options.onLine ?? (() => {}));
    try {
      await page.#start(options.viewport ?? { width: 1024, height: 768 });
      return page;
    } catch (e) {
      await page.close();
      throw e;
    }
  }

  async #start(viewport: { width: number; height: number }): Promise<void> {
    const browser = this.#browser;
    await browser.connect();
    const cdp = browser.cdp!;
    cdp.onEvent = (method, params) => this.#onEvent(method, params);
    await browser.attach();
    await cdp.send("Page.enable");
    await cdp.send("Emulation.setDeviceMetricsOverride", {
      ...viewport,
      deviceScaleFactor: 1,
      mobile: false,
    });
    await Deno.mkdir(this.downloads);
    await cdp.send("Browser.setDownloadBehavior", {
      behavior: "allow",
      downloadPath: this.downloads,
      eventsEnabled: true,
    }, false);
  }

  #onEvent(method: string, params: Json): void {
    if (this.#browser.closing) return;
    if (method === "Runtime.consoleAPICalled") {
      const args = params.args as RemoteObject[];
      this.#onLine(`console.${params.type}: ${args.map(show).join(" ")}`);
    } else if (method === "Runtime.exceptionThrown") {
      const text = exceptionText(params.exceptionDetails as ExceptionDetails);
      this.errors.push(text);
      this.#onLine(`uncaught: ${text}`);
    } else if (method === "Browser.downloadWillBegin") {
      this.#downloadNames.set(params.guid, params.suggestedFilename);
    }
    this.#waiters.get(method)?.(params);
  }

  /** Resolves with the params of the next `method` event for which `accept` holds. */
  #next(method: string, accept: (params: Json) => boolean, timeoutMs: number): Promise<Json> {
    const { promise, resolve, reject } = Promise.withResolvers<Json>();
    const timer = setTimeout(() => {
      this.#waiters.delete(method);
      reject(new Error(`no ${method} within ${timeoutMs} ms`));
    }, timeoutMs);
    this.#waiters.set(method, (params) => {
      if (!accept(params)) return;
      this.#waiters.delete(method);
      clearTimeout(timer);
      resolve(params);
    });
    return promise;
  }

  /** Navigates to `url` and waits for its load event. */
  async goto(url: string, timeoutMs = 30_000): Promise<void> {
    const loaded = this.#next("Page.loadEventFired", () => true, timeoutMs);
    await navigate(this.#browser.cdp!, url).catch((e) => {
      loaded.catch(() => {});
      throw e;
    });
    await loaded;
  }

  /**
   * The value of a JavaScript expression in the page (a promise is awaited), as JSON
   * carries it; an exception in the page rejects with its message.
   */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = await this.#browser.cdp!.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    if (r.exceptionDetails) throw new Error(`in the page: ${exceptionText(r.exceptionDetails)}`);
    return r.result.value as T;
  }

  /**
   * Polls `expression` every 50 ms until it is truthy and resolves with its value; rejects
   * after `timeoutMs` (default 30 s), or with the page's first uncaught error.
   */
  async waitFor<T = unknown>(expression: string, timeoutMs = 30_000): Promise<T> {
    const end = performance.now() + timeoutMs;
    while (true) {
      const value = await this.evaluate<T>(expression);
      if (value) return value;
      if (this.errors.length) throw new Error(`the page failed: ${this.errors[0]}`);
      if (performance.now() > end) {
        throw new Error(`\`${expression}\` still falsy after ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Puts the files at `paths` into the `<input type=file>` that `selector` finds. */
  async setInputFiles(selector: string, paths: string[]): Promise<void> {
    const cdp = this.#browser.cdp!;
    const r = await cdp.send("Runtime.evaluate", {
      expression: `document.querySelector(${JSON.stringify(selector)})`,
    });
    if (!r.result.objectId) throw new Error(`no element matches ${selector}`);
    await cdp.send("DOM.setFileInputFiles", { files: paths, objectId: r.result.objectId });
  }

  /**
   * Runs `start` (e.g. a click that downloads) and resolves with the path of the file
   * downloaded, once it is complete.
   */
  async download(start: () => Promise<unknown>, timeoutMs = 30_000): Promise<string> {
    const done = this.#next(
      "Browser.downloadProgress",
      (p) => p.state === "completed" || p.state === "canceled",
      timeoutMs,
    );
    await start();
    const p = await done;
    if (p.state !== "completed") throw new Error("the download was canceled");
    return join(this.downloads, this.#downloadNames.get(p.guid)!);
  }

  /** A PNG of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.#browser.cdp!.send("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  }

  /** Ends Chromium and removes its profile and downloads. */
  async close(): Promise<void> {
    await this.#browser.close();
    await Deno.remove(this.#tmp, { recursive: true }).catch(() => {});
  }
}

/** Sends the tab to `url`; rejects if Chromium cannot load it. */
async function navigate(cdp: Cdp, url: string): Promise<void> {
  const nav = await cdp.send("Page.navigate", { url });
  if (nav.errorText) throw new Error(`could not load ${url}: ${nav.errorText}`);
}

function exceptionText(d: ExceptionDetails): string {
  return `${d.text} ${d.exception ? show(d.exception) : ""}`.trim();
}

/** Why a run was cut short, and the exit code that stands for it. */
class Stopped extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

function writeLine(stream: "stdout" | "stderr", line: string): void {
  const bytes = new TextEncoder().encode(line + "\n");
  (stream === "stdout" ? Deno.stdout : Deno.stderr).writeSync(bytes);
}

/** Resolves or rejects like `p`, or rejects with the signal's reason if it aborts first. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((res, rej) => {
    const onAbort = () => rej(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(res, rej).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function pageHtml(args: string[]): string {
  // "<" escaped so that no argument can close the script element.
  const json = JSON.stringify(args).replaceAll("<", "\\u003c");
  return `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<script>globalThis.RNNKIT_ARGS = ${json};</script>
<script type="module" src="/bundle.js"></script>
`;
}

/** Content types of the files a page is served with; anything else goes as bytes. */
const TYPES: Record<string, string> = { ".js": "text/javascript", ".wasm": "application/wasm" };

/** The headers that make a page cross-origin isolated (see `crossOriginIsolated`). */
const ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
};

function serve(
  html: string,
  files: Map<string, Uint8Array<ArrayBuffer>>,
  isolated: boolean,
): Deno.HttpServer {
  const extra: Record<string, string> = isolated ? ISOLATION : {};
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/") {
      return new Response(html, { headers: { "content-type": "text/html", ...extra } });
    }
    const file = files.get(path);
    if (!file) return new Response("not found", { status: 404 });
    const type = TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream";
    return new Response(file, { headers: { "content-type": type, ...extra } });
  });
}

/**
 * Chromium stderr lines that say nothing useful here: Debian's wrapper script trips on its own
 * `[` test, containers have no D-Bus, and without a GPU every WebGL context logs that the
 * automatic SwiftShader fallback is deprecated (it still works in Chromium 156; should it go
 * away, `--enable-unsafe-swiftshader` in FLAGS opts in explicitly and silences the line too).
 */
const NOISE = [/unexpected operator/, /dbus/i, /Automatic fallback to software WebGL/];

function isNoise(line: string): boolean {
  return line.trim() === "" || NOISE.some((re) => re.test(line));
}

async function* lines(stream: ReadableStream<Uint8Array<ArrayBuffer>>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest) yield rest;
}

/** Renders a console argument roughly as the browser's console would. */
function show(o: RemoteObject): string {
  if (o.type === "string") return String(o.value);
  if ("value" in o) return JSON.stringify(o.value);
  return o.unserializableValue ?? o.description ?? o.type; // objects, -0, NaN, undefined
}

type Emit = (stream: "stdout" | "stderr", line: string) => void;

// Only the fields of CDP messages that this file reads.
interface RemoteObject {
  type: string;
  value?: unknown;
  unserializableValue?: string;
  description?: string;
}
interface ExceptionDetails {
  text: string;
  exception?: RemoteObject;
}

/** A Chromium process with a fresh profile, and the DevTools connection to it. */
class Browser {
  readonly child: Deno.ChildProcess;
  cdp?: Cdp;
  closing = false;
  #wsUrl = Promise.withResolvers<string>();
  #stderrDone: Promise<void>;

  /** Starts Chromium; the caller must `close()` it whatever happens next. */
  constructor(exe: string, profile: string, readonly emit: Emit, flags: string[] = []) {
    this.child = new Deno.Command(exe, {
      args: [...FLAGS, ...flags, `--user-data-dir=${profile}`, "about:blank"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // connect() reports a failure to start; this only keeps it from counting as unhandled.
    this.#wsUrl.promise.catch(() => {});
    this.#stderrDone = this.#readStderr();
  }

  /** Keeps draining stderr for the browser's whole life, or Chromium blocks on a full pipe. */
  async #readStderr(): Promise<void> {
    for await (const line of lines(this.child.stderr)) {
      const m = line.match(/^DevTools listening on (ws:\/\/\S+)/);
      if (m) this.#wsUrl.resolve(m[1]);
      else if (!isNoise(line) && !this.closing) this.emit("stderr", `chromium: ${line}`);
    }
    // No-op when already resolved; otherwise the reasons were just emitted above.
    this.#wsUrl.reject(new Error("Chromium exited before DevTools was ready (see its stderr)"));
  }

  /** Waits for the "DevTools listening on ws://..." line and connects to it. */
  async connect(): Promise<void> {
    this.cdp = await Cdp.connect(await this.#wsUrl.promise);
  }

  /** Opens `url` in a new tab and resolves with the page's exit code. */
  async run(url: string): Promise<number> {
    const [cdp, emit] = [this.cdp!, this.emit];
    const done = Promise.withResolvers<number>();
    done.promise.catch(() => {}); // a lost connection may come before anyone awaits `done`
    let settled = false;
    const finish = (code: number) => {
      settled = true;
      done.resolve(code);
    };
    const print = (stream: "stdout" | "stderr", text: string) => {
      for (const line of text.split("\n")) emit(stream, line);
    };
    cdp.onEvent = (method, params) => {
      // After exit(), an error, a timeout or Ctrl-C, whatever the page still says is dropped.
      if (this.closing || settled) return;
      if (method === "Runtime.consoleAPICalled") {
        const args = params.args as RemoteObject[];
        if (args[0]?.value === TAG) {
          const [kind, text] = [args[1]?.value, String(args[2]?.value ?? "")];
          if (kind === "exit") finish(Number.isInteger(Number(text)) ? Number(text) : 1);
          else print(kind === "err" ? "stderr" : "stdout", text);
        } else {
          // Plain console output (e.g. tfjs warnings) goes where Deno would send it.
          const toStderr = ["error", "warning", "assert", "trace"].includes(params.type as string);
          print(toStderr ? "stderr" : "stdout", args.map(show).join(" "));
        }
      } else if (method === "Runtime.exceptionThrown") {
        print("stderr", exceptionText(params.exceptionDetails as ExceptionDetails));
        finish(1);
      } else if (method === "Inspector.targetCrashed") {
        print("stderr", "the page crashed");
        finish(1);
      }
    };
    cdp.onClose = () => done.reject(new Error("lost the DevTools connection to Chromium"));

    await this.attach();
    await navigate(cdp, url);
    return await done.promise;
  }

  /**
   * Opens a blank tab and attaches to it, before any navigation, so that no console message
   * of the page can be missed.
   */
  async attach(): Promise<void> {
    const cdp = this.cdp!;
    // No session yet, so these two go to the browser itself.
    const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
    cdp.sessionId = sessionId as string;
    await cdp.send("Runtime.enable");
    await cdp.send("Inspector.enable");
  }

  /** Asks Chromium to quit, kills it if it lingers, and waits until it is gone. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.cdp) this.cdp.send("Browser.close", {}, false).catch(() => {});
    else this.#kill("SIGTERM");
    if (!(await within(this.child.status, 3000))) this.#kill("SIGKILL");
    await this.child.status;
    this.cdp?.close();
    // Chromium's helper processes share the stderr pipe, so its end means they are gone too
    // (they follow the main process within a fraction of a second, even after SIGKILL).
    await within(this.#stderrDone, 3000);
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // It has exited already: nothing to do.
    }
  }
}

/** Whether `p` settles within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => timer = setTimeout(() => r(false), ms));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

/** A minimal DevTools protocol client: numbered requests, events, flattened sessions. */
class Cdp {
  onEvent: (method: string, params: Json) => void = () => {};
  onClose: () => void = () => {};
  sessionId?: string;
  #next = 1;
  #pending = new Map<number, PromiseWithResolvers<Json>>();

  private constructor(private ws: WebSocket) {
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      const waiter = this.#pending.get(msg.id);
      if (waiter) {
        this.#pending.delete(msg.id);
        if (msg.error) waiter.reject(new Error(`CDP: ${msg.error.message}`));
        else waiter.resolve(msg.result);
      } else if (msg.method) {
        this.onEvent(msg.method, msg.params ?? {});
      }
    };
    ws.onclose = () => {
      for (const w of this.#pending.values()) w.reject(new Error("CDP connection closed"));
      this.#pending.clear();
      this.onClose();
    };
  }

  static connect(url: string): Promise<Cdp> {
    const ws = new WebSocket(url);
    return new Promise((res, rej) => {
      ws.onopen = () => res(new Cdp(ws));
      ws.onerror = (e) => rej(new Error(`cannot connect to ${url}: ${(e as ErrorEvent).message}`));
    });
  }

  /** Sends a command, to the attached page unless `toPage` is false. */
  send(method: string, params: Json = {}, toPage = true): Promise<Json> {
    const id = this.#next++;
    const waiter = Promise.withResolvers<Json>();
    this.#pending.set(id, waiter);
    const sessionId = toPage ? this.sessionId : undefined;
    this.ws.send(JSON.stringify({ id, method, params, sessionId }));
    return waiter.promise;
  }

  close(): void {
    this.onClose = () => {};
    this.ws.close();
  }
}
