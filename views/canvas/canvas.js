// Latent Lab's drawing pad: a Streamlit components-v2 module, loaded inline by views/canvas/__init__.py
// after numerics.js, ink.js, mnist.js and in_browser.js (one module: their functions are in scope here).
//
// White strokes on black, drawn with pointer events (mouse, pen and touch alike). After each stroke, Undo,
// Redo and Clear, the drawing is repainted from its strokes and sent to Python as the one state value
// `drawing`: {w, h, ink: base64 of h·w uint8 grey levels, strokes (their count), points (the strokes'
// [x, y] in bitmap pixels, to 0.1 px), seq, browser (true: the pad answers it in the browser)}, or null
// when the pad is empty.
// Only the ink's bounding box (plus a margin) is sent, at full resolution, sent at once on pointer-up (no
// PNG encoding, no throttling). (Halving it too was tried: a thin straight stroke then lands on a
// different phase of the 20×20 fit, and the 28×28 input differs from from_canvas's by a mean of 0.03.)
//
// When Python hands it the in-browser models (data.browser, core/serving/browser.py), the pad also answers
// each drawing itself (in_browser.js) and says in its status line where the answers come from. If the
// models fail after a drawing was sent as answered here, the pad sends it again unmarked, for the server.
//
// Given data.initial = {strokes: [[[x, y], ...], ...]} (the points of a drawing sent earlier), a new pad starts
// with those strokes painted, sending nothing (the page already shows their answers) until the user
// draws, undoes, redoes or clears.
//
// Streamlit calls this function again on every rerun with the same DOM, so the pad keeps its state on the
// canvas element and attaches its listeners once; each call only hands it the newest setStateValue.

export default function (component) {
  const { parentElement, data, setStateValue, setTriggerValue } = component;
  const canvas = parentElement.querySelector(".ll-ink");
  if (!canvas) return;
  if (!canvas.llPad) canvas.llPad = createPad(parentElement, canvas, data || {});
  canvas.llPad.send = (value) => setStateValue("drawing", value);
  // An emptied pad whose state value is still null (it started with restored strokes and sent nothing):
  // null again is no change for Streamlit, so say it with a trigger.
  canvas.llPad.cleared = () => setTriggerValue("cleared", true);
}

// data.initial's strokes, if well formed: [[x, y], ...] of finite numbers, at least one point each.
function initialStrokes(initial) {
  const out = [];
  for (const s of (initial && Array.isArray(initial.strokes) && initial.strokes) || []) {
    if (!Array.isArray(s) || !s.length) continue;
    const points = s.filter((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite));
    if (points.length === s.length) out.push(points.map((p) => [p[0], p[1]]));
  }
  return out;
}

function createPad(root, canvas, config) {
  const size = config.size || 280; // bitmap pixels per side
  const lineWidth = config.stroke || 20; // pen width in bitmap pixels (MNIST-like at 28×28: 2 px)
  const margin = config.margin || 8; // black border kept around the ink (the threshold needs some paper)
  canvas.width = canvas.height = size;
  // Read back after every stroke: keep the bitmap in CPU memory so getImageData is cheap.
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const undoButton = root.querySelector(".ll-undo");
  const redoButton = root.querySelector(".ll-redo");
  const clearButton = root.querySelector(".ll-clear");

  const strokes = []; // each stroke: [[x, y], ...] in bitmap pixels
  const undone = []; // strokes taken back by Undo, newest last, for Redo
  let current = null; // the stroke being drawn
  let activePointer = null; // one pointer draws at a time (a second finger is ignored)
  // Sent with every drawing, so each stroke is a change even if the pixels repeat. It starts at the clock,
  // so it keeps growing across the pad's remounts (the strip orders answers by it).
  let seq = Date.now();
  let sentNull = true; // the pad's state value is null (its default) as far as the server knows
  const pad = { send: null, cleared: null, models: null };
  const status = root.querySelector(".ll-status");
  const STATUS = {
    loading: "Loading the models into your browser…",
    ready: "⚡ The models run in your browser.",
  };
  // state: loading, ready, off (Python says why) or failed (the browser could not load or run them).
  const setStatus = (state, why) => {
    canvas.dataset.browser = state; // for tests and benchmarks
    // The last drawing was sent as one the pad would answer, and now it cannot: ask the server instead.
    if (state === "failed" && pad.sent && pad.sent.browser && pad.send) {
      pad.sent = { ...pad.sent, browser: false };
      pad.send(pad.sent);
    }
    if (!status) return;
    const reason = state === "failed" ? `your browser could not run them (${why})` : why;
    status.textContent = STATUS[state] || `The models run on the server${reason ? `: ${reason}` : ""}.`;
  };

  const paintBackground = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, size, size);
  };

  const paintStroke = (points) => {
    ctx.strokeStyle = ctx.fillStyle = "#fff";
    ctx.lineWidth = lineWidth;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    if (points.length === 1) {
      // A tap is a dot as wide as the pen.
      ctx.arc(points[0][0], points[0][1], lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    ctx.moveTo(points[0][0], points[0][1]);
    for (let i = 1; i < points.length; i++) ctx.lineTo(points[i][0], points[i][1]);
    ctx.stroke();
  };

  const repaint = () => {
    paintBackground();
    for (const s of strokes) paintStroke(s);
  };

  // The bitmap (size, size) RGBA → the ink's bounding box plus margin → its red channel (h, w) uint8 →
  // {w, h, bytes, ink: base64 of bytes}. White on black, so red = green = blue = the grey level from_canvas
  // would compute.
  const sample = () => {
    const px = ctx.getImageData(0, 0, size, size).data;
    let top = size, left = size, bottom = -1, right = -1;
    for (let y = 0, i = 0; y < size; y++) {
      for (let x = 0; x < size; x++, i += 4) {
        if (px[i] === 0) continue;
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
    if (bottom < 0) return null; // strokes entirely off the bitmap
    const y0 = Math.max(0, top - margin), y1 = Math.min(size, bottom + 1 + margin);
    const x0 = Math.max(0, left - margin), x1 = Math.min(size, right + 1 + margin);
    const bytes = new Uint8Array((y1 - y0) * (x1 - x0));
    let text = "";
    for (let y = y0, i = 0; y < y1; y++) {
      for (let x = x0; x < x1; x++, i++) {
        bytes[i] = px[(y * size + x) * 4];
        text += String.fromCharCode(bytes[i]);
      }
    }
    return { w: x1 - x0, h: y1 - y0, bytes, ink: btoa(text) };
  };

  const updateButtons = () => {
    undoButton.disabled = strokes.length === 0;
    redoButton.disabled = undone.length === 0;
    clearButton.disabled = strokes.length === 0 && undone.length === 0;
    canvas.dataset.strokes = String(strokes.length); // for tests and benchmarks
  };

  const publish = (t0 = performance.now()) => {
    // Repaint from the strokes: the preview was drawn segment by segment, and Undo needs a clean slate anyway.
    repaint();
    updateButtons();
    seq += 1;
    canvas.dataset.seq = String(seq);
    const pixels = strokes.length ? sample() : null;
    const { bytes, ...sent } = pixels || {};
    const points = strokes.map((s) => s.map((p) => [p[0], p[1]])); // a copy: the strokes change
    // `browser`: the pad answers this drawing itself, so the server leaves the shipped models to it.
    const browser = Boolean(pad.models && pad.models.state === "ready");
    pad.sent = pixels && { ...sent, strokes: strokes.length, points, seq, browser }; // (kept for tests)
    if (!pad.sent && sentNull) {
      if (pad.cleared) pad.cleared();
    } else if (pad.send) {
      pad.send(pad.sent); // the server first: it starts sooner
    }
    sentNull = !pad.sent;
    if (pad.models) pad.models.answer({ bytes: bytes || null, w: sent.w, h: sent.h, seq }, t0);
  };

  // Client (CSS) coordinates → bitmap pixels, to 0.1 px (what the drawing sends as its points, so strokes
  // restored from them repaint exactly); the canvas may be shown smaller than its bitmap.
  const tenth = (v) => Math.round(v * 10) / 10;
  const toBitmap = (e) => {
    const r = canvas.getBoundingClientRect();
    return [tenth(((e.clientX - r.left) * size) / r.width), tenth(((e.clientY - r.top) * size) / r.height)];
  };

  canvas.addEventListener("pointerdown", (e) => {
    if (activePointer !== null || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault(); // no text selection, no emulated mouse events after touch
    activePointer = e.pointerId;
    canvas.dataset.pointerType = e.pointerType;
    try {
      canvas.setPointerCapture(e.pointerId); // keep receiving moves when the pointer leaves the canvas
    } catch {
      // Pointers made up by scripts cannot be captured; drawing works without it.
    }
    current = [toBitmap(e)];
    paintStroke(current);
  });

  canvas.addEventListener("pointermove", (e) => {
    if (e.pointerId !== activePointer) return;
    e.preventDefault();
    // Coalesced events are the moves the browser merged into this one (smoother fast strokes); they exist
    // only in secure contexts (https, localhost).
    const coalesced = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    for (const ev of coalesced.length ? coalesced : [e]) {
      const p = toBitmap(ev);
      const last = current[current.length - 1];
      if (Math.abs(p[0] - last[0]) + Math.abs(p[1] - last[1]) < 0.5) continue;
      paintStroke([last, p]); // preview; publish() repaints the whole path
      current.push(p);
    }
  });

  const finish = (e) => {
    if (e.pointerId !== activePointer) return;
    activePointer = null;
    strokes.push(current);
    current = null;
    undone.length = 0; // a new stroke ends the redo history, as in every editor
    publish(e.timeStamp); // the event's time: what the answer's latency counts from
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish); // the browser took the pointer away: keep what was drawn

  undoButton.addEventListener("click", () => {
    if (!strokes.length) return;
    undone.push(strokes.pop());
    publish();
  });
  redoButton.addEventListener("click", () => {
    if (!undone.length) return;
    strokes.push(undone.pop());
    publish();
  });
  clearButton.addEventListener("click", () => {
    if (!strokes.length && !undone.length) return;
    strokes.length = 0;
    undone.length = 0;
    publish();
  });

  strokes.push(...initialStrokes(config.initial));
  repaint();
  updateButtons();
  canvas.dataset.restored = String(strokes.length); // for tests: strokes loaded from data.initial
  // Restored strokes are not answered in the browser: the page shows the server's answer already.
  pad.models = createModels(config.browser, setStatus);
  return pad;
}
