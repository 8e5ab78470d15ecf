// Python's, numpy's and Pillow's arithmetic in JavaScript, bit for bit where the pad's answer depends
// on it: float32 rounding (`f32`), round-half-even, numpy's pairwise sums, and Pillow's resampling of
// float images. The first of the pad's port of the server's preprocessing (numerics.js, ink.js, mnist.js:
// concatenated into one module, in that order, by views/canvas/__init__.py PORT_JS).

const f32 = Math.fround;

// ---------------------------------------------------------------------------------------------
// Python's and numpy's rounding

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(v) {
  const r = Math.round(v); // halves up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy's sum of an array: pairwise (8 accumulators, blocks of 128), in float32 (`round` = f32) or
 * float64. Where a centre of mass lands on a half pixel, its last bit decides the whole pixel. */
export function pairwiseSum(a, round = (x) => x, start = 0, n = a.length) {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = round(res + a[start + i]);
    return res;
  }
  if (n <= 128) {
    const r = Array.from({ length: 8 }, (_, j) => round(a[start + j]));
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = round(r[j] + a[start + i + j]);
    let res = round(round(round(r[0] + r[1]) + round(r[2] + r[3])) + round(round(r[4] + r[5]) + round(r[6] + r[7])));
    for (; i < n; i++) res = round(res + a[start + i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return round(pairwiseSum(a, round, start, n2) + pairwiseSum(a, round, start + n2, n - n2));
}

const sumFloat32 = (a) => pairwiseSum(a, f32);

// ---------------------------------------------------------------------------------------------
// Pillow's resampling of float ("F") images: separable, horizontal pass then vertical, double
// accumulators, float32 storage between and after the passes.

const FILTERS = {
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0) },
  bilinear: { support: 1.0, f: (x) => { x = Math.abs(x); return x < 1.0 ? 1.0 - x : 0.0; } },
  lanczos: { support: 3.0, f: (x) => (-3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0) },
};

function sinc(x) {
  if (x === 0.0) return 1.0;
  x *= Math.PI;
  return Math.sin(x) / x;
}

function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1.0);
  const support = filter.support * filterscale;
  const out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterscale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const k = new Float64Array(Math.max(0, xmax));
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      k[x] = filter.f((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    if (ww !== 0.0) for (let x = 0; x < xmax; x++) k[x] /= ww;
    out.push({ xmin, k });
  }
  return out;
}

/** a (h, w) float32 → (newH, newW), as PIL's Image.fromarray(a, "F").resize((newW, newH), filter). */
export function resize(a, h, w, newH, newW, filterName) {
  const filter = FILTERS[filterName];
  let src = a, width = w;
  if (newW !== w) {
    const cs = coefficients(w, newW, filter);
    const tmp = new Float32Array(h * newW);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < newW; xx++) {
        const { xmin, k } = cs[xx];
        let s = 0.0;
        for (let x = 0; x < k.length; x++) s += src[y * width + x + xmin] * k[x];
        tmp[y * newW + xx] = s;
      }
    }
    src = tmp;
    width = newW;
  }
  if (newH === h) return src === a ? Float32Array.from(a) : src;
  const cs = coefficients(h, newH, filter);
  const out = new Float32Array(newH * width);
  for (let yy = 0; yy < newH; yy++) {
    const { xmin: ymin, k } = cs[yy];
    for (let x = 0; x < width; x++) {
      let s = 0.0;
      for (let y = 0; y < k.length; y++) s += src[(y + ymin) * width + x] * k[y];
      out[yy * width + x] = s;
    }
  }
  return out;
}
