// core.lab.ink in JavaScript (steps 2–4 of the pipeline for the pad's light ink on black): the paper's
// lighting surface, Otsu's soft threshold and the specks. Follows numerics.js in the pad's module.

const RAMP_TOP = 0.5; // core.lab.ink's constants
const MIN_CONTRAST = 0.04;
const NOISE_MARGIN = 3.0;
const SURFACE_GRID = 48;
const LABEL_SIDE = 256;
const KEEP_FRACTION = 0.08;
const SPECK_FRACTION = 0.01;
const STATS_PIXELS = 200000;

/** Why a drawing has no MNIST-style image (the server raises LatentLabError for the same drawings). */
export class NoInk extends Error {}

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
