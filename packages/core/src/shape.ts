/** Shape arithmetic shared by core and backend implementations. */

/** The number of elements of a tensor of this shape (1 for a scalar). */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A shape as written in error messages: "[2, 3]". */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** NumPy broadcasting of two shapes, or an error naming both. */
export function broadcastShapes(
  a: readonly number[],
  b: readonly number[],
  op: string,
): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw new Error(
        `rnnkit: ${op}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`,
      );
    }
    out.push(Math.max(x, y));
  }
  return out;
}
