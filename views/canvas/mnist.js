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
// Plain functions, no DOM: numerics.js and ink.js come first in the same module (views/canvas/__init__.py
// PORT_JS), loaded inline with the pad and alone by the tests.

const BOX = 20; // core.lab.mnist_frame: the digit fits a BOX×BOX square ...
const SIZE = 28; // ... inside SIZE×SIZE
const CENTRE = 14.0; // centre of mass, row and column
const INK_THRESHOLD = 0.1; // fraction of the peak ink below which a pixel is background when cropping
const MIN_STROKE = 1.0; // strokes thinner than this at 20×20 are thickened ...
const TARGET_STROKE = 1.8; // ... to this width
const THICKEN_SCALE = 4;
const EPS = 1e-7; // core.lab.metrics.EPS: Keras's clipping inside binary cross-entropy

// ---------------------------------------------------------------------------------------------
// Step 5: crop, (thicken), scale to fit 20×20, centre of mass to (14, 14)

function strokeWidth(a, h, w) {
  // mnist_frame._stroke_width: 2 × area / perimeter of {a > 0.5}, the perimeter counted on a copy padded by 1.
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
