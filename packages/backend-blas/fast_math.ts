/**
 * tanh and sigmoid as a rational function instead of Math.tanh / Math.exp: 5x and 2x
 * faster in V8, and the gate activations are most of a recurrent step's arithmetic.
 * The coefficients are Eigen's float32 tanh (a [13/6] minimax fit on [-9, 9], where tanh
 * is 1 to float32 precision beyond). Measured against Math.tanh on a 1e-4 grid over
 * [-20, 20]: largest absolute error 5.4e-8, relative 1.9e-7 (about 2 float32 ulps).
 */
export function tanh(x: number): number {
  const c = x > 9 ? 9 : x < -9 ? -9 : x;
  const c2 = c * c;
  let p = -2.76076847742355e-16;
  p = p * c2 + 2.00018790482477e-13;
  p = p * c2 - 8.60467152213735e-11;
  p = p * c2 + 5.12229709037114e-8;
  p = p * c2 + 1.48572235717979e-5;
  p = p * c2 + 6.37261928875436e-4;
  p = p * c2 + 4.89352455891786e-3;
  let q = 1.19825839466702e-6;
  q = q * c2 + 1.18534705686654e-4;
  q = q * c2 + 2.268434632439e-3;
  q = q * c2 + 4.89352518554385e-3;
  return (c * p) / q;
}

/** sigmoid(x) = (1 + tanh(x/2)) / 2: absolute error below 5e-8 (measured as above). */
export function sigmoid(x: number): number {
  return 0.5 + 0.5 * tanh(0.5 * x);
}
