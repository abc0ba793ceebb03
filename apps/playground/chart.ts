/// <reference lib="dom" />
/** The playground's loss chart: training loss per step and validation loss, on a canvas. */

const MARGIN = { left: 44, right: 12, top: 12, bottom: 22 };

/** Draws both curves over steps 1..`lastStep`; y spans their range. */
export function drawLosses(
  canvas: HTMLCanvasElement,
  train: number[],
  val: [number, number][],
  lastStep: number,
): void {
  const ctx = canvas.getContext("2d")!;
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const values = [...train, ...val.map(([, v]) => v)];
  if (values.length === 0) return;
  let [lo, hi] = [Math.min(...values), Math.max(...values)];
  if (hi - lo < 1e-6) [lo, hi] = [lo - 0.5, hi + 0.5];
  const w = width - MARGIN.left - MARGIN.right;
  const h = height - MARGIN.top - MARGIN.bottom;
  const x = (step: number) => MARGIN.left + (w * (step - 1)) / Math.max(1, lastStep - 1);
  const y = (loss: number) => MARGIN.top + (h * (hi - loss)) / (hi - lo);

  ctx.strokeStyle = "#bbb";
  ctx.fillStyle = "#555";
  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeRect(MARGIN.left, MARGIN.top, w, h);
  ctx.textAlign = "right";
  for (const v of [hi, (hi + lo) / 2, lo]) ctx.fillText(v.toFixed(2), MARGIN.left - 4, y(v) + 4);
  ctx.textAlign = "center";
  ctx.fillText("1", x(1), height - 6);
  ctx.fillText(`step ${lastStep}`, x(lastStep) - 20, height - 6);

  line(ctx, train.map((v, i) => [x(i + 1), y(v)]), "#1f77b4");
  line(ctx, val.map(([s, v]) => [x(s), y(v)]), "#d62728");
  ctx.fillStyle = "#d62728";
  for (const [s, v] of val) ctx.fillRect(x(s) - 2, y(v) - 2, 4, 4);
  // The legend sits top right, where the falling curves are not.
  ctx.textAlign = "right";
  ctx.fillStyle = "#1f77b4";
  ctx.fillText("train loss", width - MARGIN.right - 100, MARGIN.top + 14);
  ctx.fillStyle = "#d62728";
  ctx.fillText("validation loss", width - MARGIN.right - 8, MARGIN.top + 14);
}

function line(ctx: CanvasRenderingContext2D, points: number[][], color: string): void {
  if (points.length < 2) return;
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  points.forEach(([px, py], i) => i === 0 ? ctx.moveTo(px, py) : ctx.lineTo(px, py));
  ctx.stroke();
}
