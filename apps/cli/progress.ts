/**
 * Progress of a long run on stderr: step, loss, validation loss, chars/s, ETA. On a
 * terminal, one line redrawn in place with a bar; otherwise (a log file, a pipe) a plain
 * line at every evaluation, so logs stay readable.
 */
export class Progress {
  readonly #tty = Deno.stderr.isTerminal();
  readonly #start = performance.now();
  #lastDraw = 0;

  constructor(readonly total: number, readonly startStep: number, readonly charsPerStep: number) {}

  seconds(): number {
    return (performance.now() - this.#start) / 1000;
  }

  update(step: number, loss: number | undefined, val: number | undefined, evaluated: boolean) {
    const now = performance.now();
    if (this.#tty ? now - this.#lastDraw < 100 && !evaluated : !evaluated) return;
    this.#lastDraw = now;
    const perSecond = (step - this.startStep) / this.seconds();
    const eta = perSecond > 0 ? (this.total - step) / perSecond : 0;
    const line = `step ${step}/${this.total}  loss ${loss?.toFixed(4) ?? "-"}  ` +
      `val ${val?.toFixed(4) ?? "-"}  ${Math.round(perSecond * this.charsPerStep)} chars/s  ` +
      `ETA ${duration(eta)}`;
    const filled = Math.round((20 * step) / this.total);
    write(
      this.#tty ? `\r\x1b[K[${"#".repeat(filled)}${".".repeat(20 - filled)}] ${line}` : `${line}\n`,
    );
  }

  /** A line of its own (e.g. "saved ..."), above the bar on a terminal. */
  note(line: string): void {
    write(this.#tty ? `\r\x1b[K${line}\n` : `${line}\n`);
    this.#lastDraw = 0;
  }

  finish(): void {
    if (this.#tty) write("\n");
  }
}

function write(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let at = 0; at < bytes.length;) at += Deno.stderr.writeSync(bytes.subarray(at));
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}
