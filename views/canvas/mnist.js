// The Draw pad's preprocessing and error, in the browser: a line-by-line port of what the server does
// with the same ink, so the pad can answer a stroke without waiting for the server.
//
//   preprocessInk   = core.lab.preprocess.from_canvas_ink (steps 2–5: paper removed, crop, fit 20×20,
//                     centre of mass to (14, 14)), with Pillow's float resampling (Resample.c) for `resize`;
//   perImageBce     = core.lab.metrics.per_image_bce for one image;
//   greyLevels      = views.canvas._grey_payload's uint8 levels.
//
// numpy works in float32 where the Python does (float32 arrays with Python scalars stay float32), so
// this file rounds to float32 (`f32`) at the same places; thresholds compare in float32 as numpy does.
// tests/test_browser_inference.py runs this file in Chromium against the Python on real strokes.
// Plain functions, no DOM: loaded inline with the pad (views/canvas/__init__.py) and alone by the tests.

const f32 = Math.fround;

const BOX = 20; // core.lab.preprocess: the digit fits a BOX×BOX square ...
const SIZE = 28; // ... inside SIZE×SIZE
const CENTRE = 14.0; // centre of mass, row and column
const INK_THRESHOLD = 0.1; // fraction of the peak ink below which a pixel is background when cropping
const MIN_STROKE = 1.0; // strokes thinner than this at 20×20 are thickened ...
const TARGET_STROKE = 1.8; // ... to this width
const THICKEN_SCALE = 4;
const RAMP_TOP = 0.5; // core.lab.ink
const MIN_CONTRAST = 0.04;
const NOISE_MARGIN = 3.0;
const SURFACE_GRID = 48;
const LABEL_SIDE = 256;
const KEEP_FRACTION = 0.08;
const SPECK_FRACTION = 0.01;
const STATS_PIXELS = 200000;
const EPS = 1e-7; // core.lab.metrics.EPS: Keras's clipping inside binary cross-entropy

/** Why a drawing has no MNIST-style image (the server raises LatentLabError for the same drawings). */
export class NoInk extends Error {}

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

// ---------------------------------------------------------------------------------------------
// core.lab.ink: Otsu, the paper's lighting surface, the soft threshold, specks

/** ink.otsu; `float32` says whether v is a float32 array (numpy then bins in float32). */
function otsu(v, float32, bins = 256) {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < v.length; i++) { if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i]; }
  if (hi - lo < 1e-9) return hi + 1e-6;
  const width = (hi - lo) / (bins - 1), width32 = f32(width);
  const hist = new Float64Array(bins);
  for (let i = 0; i < v.length; i++) {
    const q = float32 ? f32(f32(v[i] - lo) / width32) : (v[i] - lo) / width;
    hist[Math.min(Math.trunc(q), bins - 1)] += 1;
  }
  let total = 0;
  for (const c of hist) total += c;
  const between = new Float64Array(bins);
  let omega = 0, mu = 0, muTotal = 0;
  for (let i = 0; i < bins; i++) muTotal += (hist[i] / total) * i;
  let best = -Infinity;
  for (let i = 0; i < bins; i++) {
    const p = hist[i] / total;
    omega += p;
    mu += p * i;
    let b = (muTotal * omega - mu) ** 2 / (omega * (1.0 - omega));
    if (!Number.isFinite(b)) b = -1.0;
    between[i] = b;
    if (b > best) best = b;
  }
  let first = -1, last = -1;
  for (let i = 0; i < bins; i++) {
    if (between[i] >= best * (1 - 1e-9)) { if (first < 0) first = i; last = i; }
  }
  const k = Math.floor((first + last) / 2);
  return lo + (k + 1) * width;
}

function dilate3(m, h, w) {
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!m[y * w + x]) continue;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w) out[yy * w + xx] = 1;
        }
      }
    }
  }
  return out;
}

function solve6(A, b) {
  // Gaussian elimination with partial pivoting (LAPACK's gesv does LU with partial pivoting too).
  const n = 6, M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let j = c; j <= n; j++) M[r][j] -= f * M[c][j];
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let j = r + 1; j < n; j++) s -= M[r][j] * x[j];
    x[r] = s / M[r][r];
  }
  return x;
}

function median(values) {
  const s = Float64Array.from(values).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** ink.paper_surface(v) − subtracted from v: returns v − surface (float32), as preprocess does. */
function subtractPaper(v, h, w, rounds = 3) {
  const scale = SURFACE_GRID / Math.max(h, w);
  let g = v, gh = h, gw = w;
  if (scale < 1) {
    gh = Math.max(1, roundHalfEven(h * scale));
    gw = Math.max(1, roundHalfEven(w * scale));
    g = resize(v, h, w, gh, gw, "box");
  }
  const cells = gh * gw;
  const basis = [];
  for (let r = 0; r < gh; r++) {
    for (let c = 0; c < gw; c++) {
      const y = (r + 0.5) / gh - 0.5, x = (c + 0.5) / gw - 0.5;
      basis.push([1, x, y, x * x, x * y, y * y]);
    }
  }
  const values = Float64Array.from(g);
  let coef = new Float64Array(6);
  let residual = values;
  for (let round = 0; round < rounds; round++) {
    const t = otsu(residual, false);
    const above = new Uint8Array(cells);
    for (let i = 0; i < cells; i++) above[i] = residual[i] >= t ? 1 : 0;
    const near = dilate3(above, gh, gw);
    let paperCount = 0;
    for (let i = 0; i < cells; i++) paperCount += near[i] ? 0 : 1;
    if (paperCount < 12) {
      const t2 = otsu(residual, false);
      const paper = [];
      for (let i = 0; i < cells; i++) if (residual[i] < t2) paper.push(values[i]);
      coef = new Float64Array(6);
      coef[0] = paper.length ? median(paper) : Math.min(...values);
      break;
    }
    const ata = Array.from({ length: 6 }, () => new Array(6).fill(0));
    const atb = new Array(6).fill(0);
    for (let i = 0; i < cells; i++) {
      if (near[i]) continue;
      const row = basis[i];
      for (let a = 0; a < 6; a++) {
        atb[a] += row[a] * values[i];
        for (let b = 0; b < 6; b++) ata[a][b] += row[a] * row[b];
      }
    }
    for (let a = 0; a < 6; a++) ata[a][a] += 1e-9;
    coef = solve6(ata, atb);
    residual = new Float64Array(cells);
    for (let i = 0; i < cells; i++) {
      const row = basis[i];
      let s = 0;
      for (let a = 0; a < 6; a++) s += row[a] * coef[a];
      residual[i] = values[i] - s;
    }
  }
  let fmin = Infinity, fmax = -Infinity, fsum = 0;
  for (let i = 0; i < cells; i++) {
    const row = basis[i];
    let s = 0;
    for (let a = 0; a < 6; a++) s += row[a] * coef[a];
    fmin = Math.min(fmin, s); fmax = Math.max(fmax, s); fsum += s;
  }
  const out = new Float32Array(h * w);
  if (fmax - fmin < 1 / 255) { // flat (a canvas): one constant
    const c = f32(fsum / cells); // a Python float minus from a float32 array: numpy rounds it to float32 first
    for (let i = 0; i < out.length; i++) out[i] = v[i] - c;
    return out;
  }
  const c = Array.from(coef, f32);
  for (let r = 0; r < h; r++) {
    const y = f32(f32(f32(r + 0.5) / h) - 0.5);
    for (let col = 0; col < w; col++) {
      const x = f32(f32(f32(col + 0.5) / w) - 0.5);
      const left = f32(f32(c[0] + f32(c[1] * x)) + f32(f32(c[3] * x) * x));
      const right = f32(f32(f32(c[2] + f32(c[4] * x)) + f32(c[5] * y)) * y);
      out[r * w + col] = v[r * w + col] - f32(left + right);
    }
  }
  return out;
}

/** ink.soft_threshold: residual (float32) → ink in [0, 1] (float32), paper texture exactly 0. */
function softThreshold(v, h, w) {
  const k = Math.max(1, Math.trunc(Math.sqrt((h * w) / STATS_PIXELS)));
  let sample = v;
  if (k > 1) {
    const sh = Math.ceil(h / k), sw = Math.ceil(w / k);
    sample = new Float32Array(sh * sw);
    for (let r = 0, i = 0; r < h; r += k) for (let c = 0; c < w; c += k, i++) sample[i] = v[r * w + c];
  }
  const t = otsu(sample, true);
  const t32 = f32(t); // numpy compares a float32 array with a Python float in float32
  let nBelow = 0;
  for (let i = 0; i < sample.length; i++) if (sample[i] < t32) nBelow++;
  const below = new Float32Array(nBelow), above = new Float32Array(sample.length - nBelow);
  for (let i = 0, b = 0, a = 0; i < sample.length; i++) {
    if (sample[i] < t32) below[b++] = sample[i]; else above[a++] = sample[i];
  }
  if (!below.length || !above.length) throw new NoInk("it is blank");
  const mu0 = f32(sumFloat32(below) / below.length); // float32 statistics, as numpy's mean and std
  const sq = new Float32Array(below.length);
  for (let i = 0; i < below.length; i++) { const d = f32(below[i] - mu0); sq[i] = f32(d * d); }
  const sigma0 = f32(Math.sqrt(f32(sumFloat32(sq) / below.length)));
  above.sort(); // a typed array sorts numerically
  const m = above.length >> 1;
  const inkLevel = above.length % 2 ? above[m] : f32(f32(above[m - 1] + above[m]) / 2);
  const contrast = inkLevel - mu0;
  if (contrast < MIN_CONTRAST || contrast < NOISE_MARGIN * sigma0) throw new NoInk("it looks blank or too faint");
  const lo = Math.min(Math.max(0.5 * (mu0 + t), mu0 + NOISE_MARGIN * sigma0), t);
  const hi = Math.max(t + RAMP_TOP * (inkLevel - t), lo + 1e-3);
  const lo32 = f32(lo), gain = f32(1.0 / (hi - lo));
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = Math.min(1, Math.max(0, f32(f32(v[i] - lo32) * gain)));
  return out;
}

/** ink.pieces: the 8-connected pieces of a mask, by union–find over its runs of ink. */
function runsAndComponents(mask, h, w) {
  const rows = [], starts = [], ends = [];
  for (let r = 0; r < h; r++) {
    let c = 0;
    while (c < w) {
      if (!mask[r * w + c]) { c++; continue; }
      const s = c;
      while (c < w && mask[r * w + c]) c++;
      rows.push(r); starts.push(s); ends.push(c);
    }
  }
  const n = rows.length;
  if (n === 0) return { rows, starts, ends, label: [], count: 0 };
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (i) => {
    while (parent[i] !== i) { parent[i] = parent[parent[i]]; i = parent[i]; }
    return i;
  };
  const first = new Array(h + 1);
  for (let r = 0, i = 0; r <= h; r++) { while (i < n && rows[i] < r) i++; first[r] = i; }
  for (let r = 1; r < h; r++) {
    let i = first[r - 1], j = first[r];
    const iEnd = first[r], jEnd = first[r + 1];
    while (i < iEnd && j < jEnd) {
      if (starts[j] <= ends[i] && starts[i] <= ends[j]) {
        const a = find(i), b = find(j);
        if (a !== b) parent[b] = a;
      }
      if (ends[i] < ends[j]) i++; else j++;
    }
  }
  // Pieces numbered in the order their first pixel is met, row by row (scipy.ndimage.label's order).
  const roots = Array.from({ length: n }, (_, i) => find(i));
  const index = new Map();
  for (const r of roots) if (!index.has(r)) index.set(r, index.size);
  return { rows, starts, ends, label: roots.map((r) => index.get(r)), count: index.size };
}

/** ink.drop_specks (digit_pieces' rule): ink (h, w) → ink with the pieces that are not the digit set to 0. */
function dropSpecks(ink, h, w) {
  const f = Math.max(1, Math.ceil(Math.max(h, w) / LABEL_SIDE));
  const sh = Math.ceil(h / f), sw = Math.ceil(w / f);
  const small = new Uint8Array(sh * sw);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) if (ink[r * w + c] > 0) small[Math.floor(r / f) * sw + Math.floor(c / f)] = 1;
  const { rows, starts, ends, label, count: n } = runsAndComponents(small, sh, sw);
  if (n <= 1) return ink;
  const area = new Float64Array(n), top = new Array(n).fill(sh), bottom = new Array(n).fill(-1);
  const left = new Array(n).fill(sw), right = new Array(n).fill(-1);
  label.forEach((l, i) => {
    area[l] += ends[i] - starts[i];
    top[l] = Math.min(top[l], rows[i]); bottom[l] = Math.max(bottom[l], rows[i]);
    left[l] = Math.min(left[l], starts[i]); right[l] = Math.max(right[l], ends[i] - 1);
  });
  const edge = area.map((_, l) => top[l] === 0 || left[l] === 0 || bottom[l] === sh - 1 || right[l] === sw - 1);
  let main = 0, bestScore = -Infinity;
  for (let l = 0; l < n; l++) {
    const score = area[l] * (edge[l] ? 0.25 : 1.0);
    if (score > bestScore) { bestScore = score; main = l; }
  }
  const keep = Array.from(area, (a, l) => {
    const inside = top[l] >= top[main] && bottom[l] <= bottom[main] && left[l] >= left[main] && right[l] <= right[main];
    let k = a >= KEEP_FRACTION * area[main] || (inside && a >= SPECK_FRACTION * area[main]);
    if (!edge[main] && edge[l]) k = false;
    return k || l === main;
  });
  if (keep.every(Boolean)) return ink;
  const keptSmall = new Uint8Array(sh * sw);
  label.forEach((l, i) => {
    if (keep[l]) for (let c = starts[i]; c < ends[i]; c++) keptSmall[rows[i] * sw + c] = 1;
  });
  const out = new Float32Array(ink.length);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const i = r * w + c;
      out[i] = ink[i] > 0 && keptSmall[Math.floor(r / f) * sw + Math.floor(c / f)] ? ink[i] : 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Step 5: crop, (thicken), scale to fit 20×20, centre of mass to (14, 14)

function strokeWidth(a, h, w) {
  // preprocess._stroke_width: 2 × area / perimeter of {a > 0.5}, the perimeter counted on a copy padded by 1.
  let area = 0, perimeter = 0;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const i = r * w + c, on = a[i] > 0.5;
      if (!on) continue;
      area++;
      if (r === 0 || !(a[i - w] > 0.5)) perimeter++;
      if (r === h - 1 || !(a[i + w] > 0.5)) perimeter++;
      if (c === 0 || !(a[i - 1] > 0.5)) perimeter++;
      if (c === w - 1 || !(a[i + 1] > 0.5)) perimeter++;
    }
  }
  return area ? (2.0 * area) / perimeter : 0.0;
}

function thicken(crop, h, w, extra) {
  const scale = (THICKEN_SCALE * BOX) / Math.max(h, w);
  const mh = Math.max(1, roundHalfEven(h * scale)), mw = Math.max(1, roundHalfEven(w * scale));
  const mid = resize(crop, h, w, mh, mw, scale < 1 ? "box" : "bilinear");
  let peak = -Infinity;
  for (const x of mid) peak = Math.max(peak, x);
  const div = f32(Math.max(peak, 1e-6));
  for (let i = 0; i < mid.length; i++) mid[i] = Math.min(1, Math.max(0, f32(mid[i] / div)));
  // _dilate_disc(mid, radius): grey dilation by a disc, on a copy padded by the radius
  const radius = (extra * THICKEN_SCALE) / 2, r = Math.ceil(radius);
  const ph = mh + 2 * r, pw = mw + 2 * r;
  const padded = new Float32Array(ph * pw);
  for (let y = 0; y < mh; y++) for (let x = 0; x < mw; x++) padded[(y + r) * pw + x + r] = mid[y * mw + x];
  const out = Float32Array.from(padded);
  for (let dy = -r; dy <= r; dy++) {
    for (let dx = -r; dx <= r; dx++) {
      if (dy * dy + dx * dx > radius * radius) continue;
      for (let y = 0; y < ph; y++) {
        const ys = y + dy;
        if (ys < 0 || ys >= ph) continue;
        for (let x = 0; x < pw; x++) {
          const xs = x + dx;
          if (xs < 0 || xs >= pw) continue;
          const val = padded[ys * pw + xs];
          if (val > out[y * pw + x]) out[y * pw + x] = val;
        }
      }
    }
  }
  return { a: out, h: ph, w: pw };
}

function fitBox(ink, h, w) {
  const t = f32(INK_THRESHOLD);
  let r0 = h, r1 = -1, c0 = w, c1 = -1;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      if (!(ink[r * w + c] > t)) continue;
      r0 = Math.min(r0, r); r1 = Math.max(r1, r); c0 = Math.min(c0, c); c1 = Math.max(c1, c);
    }
  }
  if (r1 < 0) throw new NoInk("there is no ink");
  let ch = r1 - r0 + 1, cw = c1 - c0 + 1;
  let crop = new Float32Array(ch * cw);
  for (let r = 0; r < ch; r++) for (let c = 0; c < cw; c++) crop[r * cw + c] = ink[(r + r0) * w + c + c0];
  const width = (strokeWidth(crop, ch, cw) * BOX) / Math.max(ch, cw);
  if (width < MIN_STROKE) ({ a: crop, h: ch, w: cw } = thicken(crop, ch, cw, TARGET_STROKE - width));

  const scale = BOX / Math.max(ch, cw);
  const newW = Math.max(1, roundHalfEven(cw * scale)), newH = Math.max(1, roundHalfEven(ch * scale));
  const box = resize(crop, ch, cw, newH, newW, "lanczos");
  let peak = -Infinity;
  for (let i = 0; i < box.length; i++) { box[i] = Math.min(1, Math.max(0, box[i])); peak = Math.max(peak, box[i]); }
  const div = f32(Math.max(peak, 1e-6));
  const rows = new Float64Array(box.length), cols = new Float64Array(box.length);
  for (let r = 0; r < newH; r++) {
    for (let c = 0; c < newW; c++) {
      const i = r * newW + c, v = (box[i] = f32(box[i] / div));
      rows[i] = v * r;
      cols[i] = v * c;
    }
  }
  // centre_of_mass (scipy.ndimage.center_of_mass of the box as float64): numpy's sums, in float64.
  const mass = pairwiseSum(Float64Array.from(box));
  const [comR, comC] = sumFloat32(box) > 0 ? [pairwiseSum(rows) / mass, pairwiseSum(cols) / mass] : [newH / 2, newW / 2];
  const top = Math.min(Math.max(roundHalfEven(CENTRE - comR), 0), SIZE - newH);
  const left = Math.min(Math.max(roundHalfEven(CENTRE - comC), 0), SIZE - newW);
  const out = new Float32Array(SIZE * SIZE);
  for (let r = 0; r < newH; r++) for (let c = 0; c < newW; c++) out[(r + top) * SIZE + c + left] = box[r * newW + c];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Entry points

const LEVELS = Float32Array.from({ length: 256 }, (_, b) => b / 255.0); // ink.astype(float32) / 255.0

/** The pad's ink, (h, w) uint8 grey levels (light strokes on 0), → the 28×28 model input, float32
 * row-major: core.lab.preprocess.from_canvas_ink(ink).image. Throws NoInk where the server would say
 * there is no ink. */
export function preprocessInk(ink, h, w) {
  if (!(h >= 1 && w >= 1 && ink.length === h * w)) throw new RangeError(`ink of ${ink.length} bytes is not ${h}×${w}`);
  const grey = new Float32Array(h * w);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < grey.length; i++) {
    const g = (grey[i] = LEVELS[ink[i]]);
    if (g < lo) lo = g;
    if (g > hi) hi = g;
  }
  if (f32(hi - lo) < MIN_CONTRAST) throw new NoInk("it is blank");
  const v = subtractPaper(grey, h, w); // the canvas's ink is light: no polarity flip
  return fitBox(dropSpecks(softThreshold(v, h, w), h, w), h, w);
}

/** Mean per-pixel binary cross-entropy of one image x against its reconstruction xHat (equal lengths),
 * in nats per pixel: core.lab.metrics.per_image_bce. */
export function perImageBce(x, xHat) {
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const p = Math.min(Math.max(xHat[i], EPS), 1 - EPS);
    sum += -(x[i] * Math.log(p) + (1 - x[i]) * Math.log1p(-p));
  }
  return sum / x.length;
}

/** Image in [0, 1] (float32) → uint8 levels rint(clip(a, 0, 1) · 255), as the server's strip sends them. */
export function greyLevels(a) {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = roundHalfEven(f32(Math.min(1, Math.max(0, a[i])) * 255));
  return out;
}
