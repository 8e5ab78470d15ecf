// Latent Lab's hover map: a latent map drawn on canvases, that decodes under the pointer with no server
// round trip (Streamlit components v2, inline; views/hover/__init__.py registers it).
//
// Python sends, once per map (`core.figures.latent_map.explorer_map`): the test set's codes and labels,
// the cluster centres, the user's marks and the decodes (n², 28, 28) uint8 of an n×n grid over the map's
// box. A pointer move finds the nearest grid cell by arithmetic and paints its 28×28 pixels: no model, no
// message. A click pins a point and sends it as the trigger value `pick` ({z1, z2, index}: a test digit's
// index when the click is within a few pixels of its dot, else −1 and the nearest grid point).
// What a click changes (pin, posterior ellipses, samples) arrives through the small overlay component
// (overlay.js), which hands it over through `globalThis.latentLabMaps`.
//
// Three layers: a canvas with the axes, points and cluster labels (redrawn only when the data or the size
// change), a canvas with the ellipses, samples, pin and stars (redrawn when the overlay changes), and a
// cursor box moved by a CSS transform on every pointer move.

const PAD = { left: 36, right: 8, top: 8, bottom: 30 }; // plot area inside the stage, CSS pixels
const PICK_PX = 6; // a click this close to a dot picks that test digit
const SIDE_MIN = 560; // at least this wide: the decoded digit goes beside the map, not inside it

function registry() {
  globalThis.latentLabMaps ??= { views: {}, overlays: {} };
  return globalThis.latentLabMaps;
}

function bytesOf(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) ticks.push(+v.toFixed(10));
  return ticks;
}

function starPath(ctx, x, y, r) {
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    const rr = i % 2 === 0 ? r : r * 0.45;
    ctx[i === 0 ? "moveTo" : "lineTo"](x + rr * Math.cos(a), y + rr * Math.sin(a));
  }
  ctx.closePath();
}

/** Stroke the current path twice, `wide` in `halo` under `narrow` black, so it reads on any point colour. */
function haloStroke(ctx, wide, narrow, halo) {
  ctx.lineWidth = wide;
  ctx.strokeStyle = halo;
  ctx.stroke();
  ctx.lineWidth = narrow;
  ctx.strokeStyle = "#000";
  ctx.stroke();
}

function createMap(root) {
  const el = {
    map: root.querySelector(".ll-map"),
    stage: root.querySelector(".ll-stage"),
    points: root.querySelector(".ll-points"),
    over: root.querySelector(".ll-over"),
    cursor: root.querySelector(".ll-cursor"),
    inset: root.querySelector(".ll-inset"),
    decoded: root.querySelector(".ll-decoded"),
    where: root.querySelector(".ll-where"),
  };
  const decodedCtx = el.decoded.getContext("2d");
  const pixels = new ImageData(28, 28);
  for (let p = 3; p < pixels.data.length; p += 4) pixels.data[p] = 255;
  const view = {
    data: null, // the decoded arrays of the current map
    overlay: { pin: null, ellipses: [], samples: [] },
    pick: null, // the newest setTriggerValue
    geom: null, // {w, h, plotW, plotH, inset, side}
    cell: -1,
    insetLeft: false,
  };

  // --- coordinates ------------------------------------------------------------------------------
  const toPx = (z1, z2) => {
    const [x0, x1, y0, y1] = view.data.box, g = view.geom;
    return [PAD.left + ((z1 - x0) / (x1 - x0)) * g.plotW, PAD.top + ((y1 - z2) / (y1 - y0)) * g.plotH];
  };
  const toZ = (px, py) => {
    const [x0, x1, y0, y1] = view.data.box, g = view.geom;
    return [x0 + ((px - PAD.left) / g.plotW) * (x1 - x0), y1 - ((py - PAD.top) / g.plotH) * (y1 - y0)];
  };
  const cellOf = (z1, z2) => {
    // The grid is core.lab.latent.click_grid's: z₁ fastest, the lowest z₂ first, n points per axis.
    const [x0, x1, y0, y1] = view.data.box, n = view.data.n;
    const ix = Math.min(n - 1, Math.max(0, Math.round(((z1 - x0) / (x1 - x0)) * (n - 1))));
    const iy = Math.min(n - 1, Math.max(0, Math.round(((z2 - y0) / (y1 - y0)) * (n - 1))));
    return iy * n + ix;
  };
  const gridPoint = (cell) => {
    const [x0, x1, y0, y1] = view.data.box, n = view.data.n;
    const ix = cell % n, iy = Math.floor(cell / n);
    return [+(x0 + (ix * (x1 - x0)) / (n - 1)).toFixed(4), +(y0 + (iy * (y1 - y0)) / (n - 1)).toFixed(4)];
  };
  const fmt = (v) => (v >= 0 ? "+" : "−") + Math.abs(v).toFixed(2);

  // --- the decoded digit ---------------------------------------------------------------------------
  const paint = (cell, label) => {
    if (cell !== view.cell) {
      const src = view.data.grid.subarray(cell * 784, cell * 784 + 784);
      const d = pixels.data;
      for (let p = 0, q = 0; p < 784; p++, q += 4) d[q] = d[q + 1] = d[q + 2] = src[p];
      decodedCtx.putImageData(pixels, 0, 0);
      view.cell = cell;
      el.map.dataset.cell = String(cell);
      el.map.dataset.paints = String(Number(el.map.dataset.paints || 0) + 1);
    }
    el.where.textContent = label;
  };
  const showPinned = () => {
    const pin = view.overlay.pin;
    const z = pin || [0, 0];
    paint(cellOf(z[0], z[1]), `${pin ? "pinned" : "centre"} (${fmt(z[0])}, ${fmt(z[1])})`);
  };

  // --- layout ---------------------------------------------------------------------------------------
  const placeInset = () => {
    const g = view.geom;
    if (g.side) {
      el.inset.style.left = `${g.w + 10}px`;
      return;
    }
    el.inset.style.left = view.insetLeft ? `${PAD.left + 6}px` : `${g.w - PAD.right - g.inset - 14}px`;
  };
  const layout = () => {
    const width = Math.floor(el.map.clientWidth);
    if (!width || !view.data) return false;
    const side = width >= SIDE_MIN;
    const inset = Math.round(Math.min(150, Math.max(84, width * (side ? 0.24 : 0.26))));
    const w = side ? width - inset - 22 : width;
    const h = Math.round(Math.min(400, Math.max(240, w * 0.86)));
    if (view.geom && view.geom.w === w && view.geom.h === h && view.geom.side === side) return false;
    view.geom = { w, h, plotW: w - PAD.left - PAD.right, plotH: h - PAD.top - PAD.bottom, inset, side };
    el.map.classList.toggle("ll-side", side);
    el.stage.style.width = `${w}px`;
    el.stage.style.height = `${h}px`;
    el.map.style.height = `${h}px`;
    const dpr = window.devicePixelRatio || 1;
    for (const c of [el.points, el.over]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      c.style.width = `${w}px`;
      c.style.height = `${h}px`;
      c.getContext("2d").setTransform(dpr, 0, 0, dpr, 0, 0);
    }
    el.decoded.style.width = el.decoded.style.height = `${inset}px`;
    placeInset();
    return true;
  };

  // --- the static layer: axes, points, cluster labels ------------------------------------------------
  const drawPoints = () => {
    const ctx = el.points.getContext("2d"), g = view.geom, d = view.data;
    const [x0, x1, y0, y1] = d.box;
    ctx.clearRect(0, 0, g.w, g.h);
    ctx.font = "11px sans-serif";
    ctx.fillStyle = "#666";
    ctx.lineWidth = 1;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of niceTicks(x0, x1, Math.max(3, Math.floor(g.plotW / 70)))) {
      const [px] = toPx(t, y0);
      ctx.strokeStyle = t === 0 ? "#ccc" : "#eee";
      ctx.beginPath();
      ctx.moveTo(px, PAD.top);
      ctx.lineTo(px, PAD.top + g.plotH);
      ctx.stroke();
      ctx.fillText(String(t), px, PAD.top + g.plotH + 3);
    }
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const t of niceTicks(y0, y1, Math.max(3, Math.floor(g.plotH / 60)))) {
      const [, py] = toPx(x0, t);
      ctx.strokeStyle = t === 0 ? "#ccc" : "#eee";
      ctx.beginPath();
      ctx.moveTo(PAD.left, py);
      ctx.lineTo(PAD.left + g.plotW, py);
      ctx.stroke();
      ctx.fillText(String(t), PAD.left - 4, py);
    }
    ctx.textAlign = "right";
    ctx.textBaseline = "bottom";
    ctx.fillText(d.x_title, PAD.left + g.plotW, g.h);
    ctx.save();
    ctx.translate(10, PAD.top + g.plotH / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(d.y_title, 0, 0);
    ctx.restore();

    // Points, one fill per digit (later digits on top, as plotly draws its traces).
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, PAD.top, g.plotW, g.plotH);
    ctx.clip();
    ctx.globalAlpha = 0.55;
    const sx = g.plotW / (x1 - x0), sy = g.plotH / (y1 - y0);
    for (let digit = 0; digit < 10; digit++) {
      ctx.fillStyle = d.colours[digit];
      ctx.beginPath();
      for (let i = 0; i < d.count; i++) {
        if (d.labels[i] !== digit) continue;
        ctx.rect(PAD.left + (d.points[2 * i] - x0) * sx - 1.5, PAD.top + (y1 - d.points[2 * i + 1]) * sy - 1.5, 3, 3);
      }
      ctx.fill();
    }
    ctx.restore();
    // Each digit's numeral at its cluster's median.
    ctx.font = "bold 15px sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (const [digit, cx, cy] of d.centres) {
      const [px, py] = toPx(cx, cy);
      ctx.globalAlpha = 0.9;
      ctx.fillStyle = d.colours[digit];
      ctx.beginPath();
      ctx.roundRect(px - 9, py - 10, 18, 20, 4);
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.fillStyle = "#fff";
      ctx.fillText(String(digit), px, py + 1);
    }
  };

  // --- the overlay layer: ellipses, samples, pin, stars (the stars last: always on top) ---------------
  const drawOverlay = () => {
    const ctx = el.over.getContext("2d"), g = view.geom, d = view.data, o = view.overlay;
    ctx.clearRect(0, 0, g.w, g.h);
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, PAD.top, g.plotW, g.plotH);
    ctx.clip();
    for (const e of o.ellipses) {
      for (const ring of e.rings) {
        ctx.beginPath();
        ring.points.forEach(([a, b], i) => {
          const [px, py] = toPx(a, b);
          ctx[i === 0 ? "moveTo" : "lineTo"](px, py);
        });
        ctx.setLineDash(ring.k > 1 ? [5, 4] : []);
        haloStroke(ctx, 3.5, 1.6, "rgba(255,255,255,0.85)");
      }
      ctx.setLineDash([]);
      const [mx, my] = toPx(e.mu[0], e.mu[1]);
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(mx - 5, my);
      ctx.lineTo(mx + 5, my);
      ctx.moveTo(mx, my - 5);
      ctx.lineTo(mx, my + 5);
      ctx.stroke();
    }
    for (const [a, b] of o.samples) {
      const [px, py] = toPx(a, b);
      ctx.beginPath();
      ctx.arc(px, py, 4, 0, 2 * Math.PI);
      ctx.fillStyle = d.sample_colour;
      ctx.fill();
      ctx.lineWidth = 1.2;
      ctx.strokeStyle = "#fff";
      ctx.stroke();
    }
    if (o.pin) {
      const [px, py] = toPx(o.pin[0], o.pin[1]);
      ctx.beginPath();
      ctx.arc(px, py, 7, 0, 2 * Math.PI);
      haloStroke(ctx, 3, 2, "#fff");
    }
    ctx.restore();
    ctx.font = "bold 12px sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    for (const m of d.marks) {
      const [px, py] = toPx(m.z[0], m.z[1]);
      starPath(ctx, px, py, 11);
      ctx.fillStyle = d.mark_colour;
      ctx.fill();
      ctx.lineWidth = 2;
      ctx.strokeStyle = "#000";
      ctx.stroke();
      if (d.marks.length > 1) {
        ctx.fillStyle = "#000";
        ctx.fillText(m.label, px, py - 12);
      }
    }
    el.map.dataset.overlay = JSON.stringify({
      pin: o.pin, means: o.ellipses.map((e) => e.mu), rings: o.ellipses.reduce((s, e) => s + e.rings.length, 0),
      samples: o.samples,
    });
  };

  const redraw = () => {
    if (!view.data || !view.geom) return;
    drawPoints();
    drawOverlay();
    if (view.cell < 0) showPinned();
  };

  // --- input ---------------------------------------------------------------------------------------
  const local = (event) => {
    const r = el.stage.getBoundingClientRect();
    return [event.clientX - r.left, event.clientY - r.top];
  };
  const inPlot = (px, py) => px >= PAD.left && px <= PAD.left + view.geom.plotW && py >= PAD.top && py <= PAD.top + view.geom.plotH;
  el.stage.addEventListener("pointermove", (event) => {
    if (!view.data || !view.geom) return;
    const [px, py] = local(event);
    if (!inPlot(px, py)) {
      el.cursor.hidden = true;
      return;
    }
    const [z1, z2] = toZ(px, py);
    const cell = cellOf(z1, z2);
    const [gx, gy] = gridPoint(cell);
    paint(cell, `z = (${fmt(gx)}, ${fmt(gy)})`);
    const [cx, cy] = toPx(gx, gy);
    el.cursor.hidden = false;
    el.cursor.style.transform = `translate(${cx}px, ${cy}px)`;
    if (!view.geom.side) {
      // Keep the decoded digit out of the pointer's way: it takes the other top corner when approached.
      const near = py < view.geom.inset + 50 && (view.insetLeft ? px < PAD.left + view.geom.inset + 50
                                                                 : px > view.geom.w - view.geom.inset - 60);
      if (near) {
        view.insetLeft = !view.insetLeft;
        placeInset();
      }
    }
  });
  el.stage.addEventListener("pointerleave", () => {
    el.cursor.hidden = true;
    if (view.data && view.geom) showPinned();
  });
  el.stage.addEventListener("click", (event) => {
    if (!view.data || !view.geom) return;
    const [px, py] = local(event);
    if (!inPlot(px, py)) return;
    const d = view.data, [x0, x1, y0, y1] = d.box, g = view.geom;
    const sx = g.plotW / (x1 - x0), sy = g.plotH / (y1 - y0);
    let best = -1, bestD = PICK_PX * PICK_PX;
    for (let i = 0; i < d.count; i++) {
      const dx = PAD.left + (d.points[2 * i] - x0) * sx - px, dy = PAD.top + (y1 - d.points[2 * i + 1]) * sy - py;
      const dd = dx * dx + dy * dy;
      if (dd < bestD) {
        bestD = dd;
        best = i;
      }
    }
    const [z1, z2] = toZ(px, py);
    const pin = best >= 0 ? [+d.points[2 * best].toFixed(4), +d.points[2 * best + 1].toFixed(4)] : gridPoint(cellOf(z1, z2));
    view.overlay = { ...view.overlay, pin, ellipses: [], samples: [] }; // drawn at once; the server adds the rest
    drawOverlay();
    if (view.pick) view.pick("pick", { z1: pin[0], z2: pin[1], index: best });
  });

  new ResizeObserver(() => {
    if (layout()) redraw();
  }).observe(el.map);

  return {
    setData(raw) {
      if (view.data && view.data.id === raw.id) return;
      view.data = {
        ...raw,
        points: new Float32Array(bytesOf(raw.points).buffer),
        labels: bytesOf(raw.labels),
        grid: bytesOf(raw.grid),
      };
      view.cell = -1;
      view.geom = null;
      layout();
      redraw();
      // Where test digit i is drawn, in CSS pixels of the stage: for browser tests and the benchmark.
      el.map.llPointPx = (i) => toPx(view.data.points[2 * i], view.data.points[2 * i + 1]);
      el.map.dataset.ready = raw.id;
    },
    setOverlay(overlay) {
      view.overlay = { pin: overlay.pin || null, ellipses: overlay.ellipses || [], samples: overlay.samples || [] };
      if (!view.data || !view.geom) return;
      drawOverlay();
      if (!el.stage.matches(":hover")) showPinned();
    },
    setPick(fn) {
      view.pick = fn;
    },
  };
}

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  const root = parentElement.querySelector(".ll-map");
  if (!root || !data) return;
  if (!root.llView) root.llView = createMap(parentElement);
  const view = root.llView;
  view.setPick(setTriggerValue);
  view.setData(data);
  const maps = registry();
  maps.views[data.map_key] = view;
  if (maps.overlays[data.map_key]) view.setOverlay(maps.overlays[data.map_key]);
}
