/**
 * Line plots as a plain SVG string (no dependencies), for loss curves: one polyline per
 * series on shared axes with ticks, axis labels, a legend and a title.
 */

export interface Series {
  name: string;
  points: [number, number][];
  color: string;
  /** Also draw a dot at every point (for sparse series such as validation losses). */
  markers?: boolean;
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { left: 64, right: 24, top: 40, bottom: 48 };

export function lossPlotSvg(
  series: Series[],
  title: string,
  labels = { x: "step", y: "loss" },
): string {
  const all = series.flatMap((s) => s.points).filter(([x, y]) => isFinite(x) && isFinite(y));
  const x = axis(all.map(([x]) => x));
  const y = axis(all.map(([, y]) => y));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (v: number) => MARGIN.left + ((v - x.min) / (x.max - x.min)) * plotW;
  const py = (v: number) => MARGIN.top + (1 - (v - y.min) / (y.max - y.min)) * plotH;
  const bottom = MARGIN.top + plotH;

  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" ` +
    `viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15">${escape(title)}</text>`,
  ];
  for (const t of x.ticks) {
    const at = fmt(px(t));
    out.push(
      `<line x1="${at}" y1="${MARGIN.top}" x2="${at}" y2="${bottom}" stroke="#eee"/>`,
      `<line x1="${at}" y1="${bottom}" x2="${at}" y2="${bottom + 5}" stroke="black"/>`,
      `<text x="${at}" y="${bottom + 18}" text-anchor="middle">${tickLabel(t, x.step)}</text>`,
    );
  }
  for (const t of y.ticks) {
    const at = fmt(py(t));
    out.push(
      `<line x1="${MARGIN.left}" y1="${at}" x2="${MARGIN.left + plotW}" y2="${at}" stroke="#eee"/>`,
      `<line x1="${MARGIN.left - 5}" y1="${at}" x2="${MARGIN.left}" y2="${at}" stroke="black"/>`,
      `<text x="${MARGIN.left - 8}" y="${at}" text-anchor="end" dominant-baseline="middle">` +
        `${tickLabel(t, y.step)}</text>`,
    );
  }
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" ` +
      `fill="none" stroke="black"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">` +
      `${escape(labels.x)}</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" ` +
      `text-anchor="middle">${escape(labels.y)}</text>`,
  );
  for (const s of series) {
    const pts = s.points.filter(([a, b]) => isFinite(a) && isFinite(b));
    const coords = pts.map(([a, b]) => `${fmt(px(a))},${fmt(py(b))}`);
    if (coords.length > 1) {
      out.push(
        `<polyline points="${coords.join(" ")}" fill="none" stroke="${s.color}" ` +
          `stroke-width="1.5"/>`,
      );
    }
    if (s.markers || coords.length === 1) {
      for (const c of coords) {
        const [cx, cy] = c.split(",");
        out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`);
      }
    }
  }
  series.forEach((s, i) => {
    const ly = MARGIN.top + 16 + i * 18;
    const lx = MARGIN.left + plotW - 150;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.color}" ` +
        `stroke-width="2"/>`,
      `<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escape(s.name)}</text>`,
    );
  });
  out.push("</svg>", "");
  return out.join("\n");
}

/** A range covering `values`, widened to round tick steps (1, 2 or 5 times a power of 10). */
function axis(values: number[]): { min: number; max: number; step: number; ticks: number[] } {
  // reduce, not Math.min(...values): a long run has too many points to spread as arguments.
  let lo = values.length ? values.reduce((a, b) => Math.min(a, b)) : 0;
  let hi = values.length ? values.reduce((a, b) => Math.max(a, b)) : 1;
  if (hi - lo < 1e-12) [lo, hi] = [lo - 0.5, hi + 0.5]; // one value: give it room
  const raw = (hi - lo) / 6;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const min = Math.floor(lo / step) * step;
  const max = Math.ceil(hi / step) * step;
  const ticks = Array.from(
    { length: Math.round((max - min) / step) + 1 },
    (_, i) => min + i * step,
  );
  return { min, max, step, ticks };
}

function tickLabel(v: number, step: number): string {
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return v.toFixed(digits);
}

function fmt(v: number): string {
  return v.toFixed(1);
}

function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}
