/** A small plain SVG line chart, and the check that a path may receive one. */

/** One line of the chart. */
export interface Line {
  label: string;
  color: string;
  values: readonly number[];
}

/**
 * Same-length `lines` over x = 0..n-1 as a standalone SVG document, with a title, the
 * y range on the left and `xLabels` (first and last x) below.
 */
export function svgPlot(title: string, lines: Line[], xLabels: [string, string]): string {
  const [w, h, pad] = [960, 320, 40];
  const all = lines.flatMap((l) => l.values);
  const [lo, hi] = [Math.min(...all), Math.max(...all)];
  const n = lines[0].values.length;
  const x = (i: number) => (pad + (i * (w - 2 * pad)) / Math.max(1, n - 1)).toFixed(1);
  const y = (v: number) => (h - pad - ((v - lo) * (h - 2 * pad)) / (hi - lo || 1)).toFixed(1);
  const text = (tx: number, ty: number, s: string, color = "black") =>
    `<text x="${tx}" y="${ty}" fill="${color}">${
      s.replace(/&/g, "&amp;").replace(/</g, "&lt;")
    }</text>`;
  const body = lines.flatMap((l, k) => [
    `<polyline fill="none" stroke="${l.color}" stroke-width="1.5" points="${
      l.values.map((v, i) => `${x(i)},${y(v)}`).join(" ")
    }"/>`,
    text(w - pad - 80 * (lines.length - k), pad / 2, l.label, l.color),
  ]);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" ` +
    `viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<path d="M${pad} ${pad}V${h - pad}H${w - pad}" fill="none" stroke="black"/>`,
    text(pad, pad / 2, title),
    text(4, pad + 4, hi.toFixed(1)),
    text(4, h - pad, lo.toFixed(1)),
    text(pad, h - pad / 2, xLabels[0]),
    text(w - pad - 60, h - pad / 2, xLabels[1]),
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

/**
 * Why `path` must not be written with an SVG (it exists and is not an SVG file, so
 * it is someone else's), or undefined when it may.
 */
export async function svgTargetProblem(path: string): Promise<string | undefined> {
  if (!path.endsWith(".svg")) return `${path} does not end in .svg`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  if (!info.isFile) return `${path} exists and is not a regular file`;
  using file = await Deno.open(path);
  const head = new Uint8Array(256);
  const text = new TextDecoder().decode(head.subarray(0, (await file.read(head)) ?? 0));
  return /^\s*(<\?xml[^>]*>\s*)?<svg[\s>]/.test(text)
    ? undefined
    : `${path} exists and is not an SVG file; refusing to overwrite it`;
}
