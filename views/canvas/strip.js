// Latent Lab's image strip: small grey images side by side, each with a caption (components v2, inline).
//
// Python sends {height, panels: [{title, note, w, h, pixels: base64 of h·w uint8 grey levels}], follow,
// seq}; each panel is painted into a canvas of its own pixel size and scaled up by CSS (pixelated). One
// rerun repaints in well under a millisecond: no figure library, no image files to fetch.
//
// A strip that `follow`s the Draw pad also paints the answers the pad computes in the browser
// (in_browser.js sends them as window events, panels with raw `grey` bytes), the moment they are ready.
// Answers are ordered by the drawing's `seq`, and an answer for an older drawing is dropped. For a drawing
// the pad answers (it says so to the server), the server sends `lead` = the number of panels the pad's
// answer fills and only the panels after them (models trained in the Train page, which the browser does
// not run): the pad's answer is painted the moment it is ready, and the server's panels beside it once
// both are in (until then the previous drawing's are dimmed). For any other drawing (the models are still
// loading, or failed) the server sends every panel; if the pad answered it too, whichever came first paints
// it and the other only confirms it (no repaint, so no flicker: the two agree to ~1e-6, tested).

const ANSWER_EVENT = "latent-lab:draw-answer"; // in_browser.js
const ASK_EVENT = "latent-lab:draw-ask"; // to in_browser.js: send your answer to drawing `seq` again

export default function (component) {
  const { parentElement, data } = component;
  const strip = parentElement.querySelector(".ll-strip");
  if (!strip || !data) return;
  const state = strip.llStrip || (strip.llStrip = listen(strip));
  state.follow = Boolean(data.follow);
  strip.dataset.follow = String(state.follow); // for tests and benchmarks
  state.height = data.height || 120; // CSS pixels per image

  const panels = (data.panels || []).map((p) => ({ ...p, grey: Uint8Array.from(atob(p.pixels), (c) => c.charCodeAt(0)) }));
  const seq = data.seq ?? null;
  const lead = (state.follow && seq !== null && data.lead) || 0;
  strip.dataset.serverSeq = String(seq);
  strip.dataset.serverAt = String(performance.now());
  strip.dataset.serverNotes = JSON.stringify(panels.map((p) => p.note || ""));
  strip.dataset.lead = String(lead);
  if (seq !== null && state.seq !== null && seq < state.seq) return; // an older drawing than the one shown
  if (lead) {
    // The pad answers this drawing's first `lead` panels itself; ours go after them, once it has.
    state.pending = { seq, panels };
    const answer = state.answer;
    if (answer && answer.seq === seq) {
      paint(strip, state, [...answer.panels, ...panels], state.seq === seq ? answer.panels.length : 0);
      state.seq = seq;
      state.source = "browser";
    } else {
      window.dispatchEvent(new CustomEvent(ASK_EVENT, { detail: { seq } })); // in case it answered before we mounted
    }
  } else if (seq !== null && seq === state.seq && state.source === "browser") {
    paint(strip, state, panels, state.browserPanels); // confirmed: only what the browser did not compute
  } else {
    paint(strip, state, panels, 0);
    state.seq = seq;
    state.source = "server";
  }
  strip.dataset.source = state.source;
  strip.dataset.seq = String(state.seq);
}

function listen(strip) {
  // answer: the pad's last answer {seq, panels}; pending: the server's panels for a drawing whose first
  // panels the pad answers ({seq, panels}, see `lead` above).
  const state = { follow: false, height: 120, seq: null, source: null, browserPanels: 0, answer: null, pending: null };
  const onAnswer = (event) => {
    if (!strip.isConnected) return window.removeEventListener(ANSWER_EVENT, onAnswer);
    const { seq, panels } = event.detail;
    if (!state.follow) return;
    state.answer = { seq, panels };
    if (state.seq !== null && seq <= state.seq) return;
    const pending = state.pending && state.pending.seq === seq ? state.pending.panels : null;
    if (pending) paint(strip, state, [...panels, ...pending], 0);
    else paint(strip, state, panels, 0, panels.length ? strip.children.length : 0);
    state.seq = seq;
    state.source = "browser";
    state.browserPanels = panels.length;
    strip.dataset.source = "browser";
    strip.dataset.seq = String(seq);
    strip.dataset.browserSeq = String(seq);
    strip.dataset.browserAt = String(performance.now());
  };
  window.addEventListener(ANSWER_EVENT, onAnswer);
  return state;
}

/** Paint panels[from:] into figures from..; keep `keep` figures in all (the rest are removed), dimming
 * those beyond the panels given (they belong to the previous drawing until the server's answer). */
function paint(strip, state, panels, from, keep = panels.length) {
  const total = Math.max(panels.length, keep);
  while (strip.children.length > total) strip.lastElementChild.remove();
  while (strip.children.length < total) {
    const figure = document.createElement("figure");
    figure.className = "ll-panel";
    figure.append(document.createElement("canvas"), document.createElement("figcaption"));
    strip.append(figure);
  }
  for (let i = from; i < panels.length; i++) paintPanel(strip.children[i], panels[i], state.height);
  Array.from(strip.children).forEach((figure, i) => figure.classList.toggle("ll-stale", i >= panels.length));
  strip.dataset.panels = String(panels.length);
}

function paintPanel(figure, panel, height) {
  const canvas = figure.querySelector("canvas");
  const grey = panel.grey; // (h, w) row-major uint8
  if (canvas.width !== panel.w || canvas.height !== panel.h) {
    canvas.width = panel.w;
    canvas.height = panel.h;
  }
  canvas.style.height = `${height}px`;
  canvas.style.width = `${(height * panel.w) / panel.h}px`;
  const image = new ImageData(panel.w, panel.h);
  let sum = 0;
  for (let p = 0; p < grey.length; p++) {
    const v = grey[p];
    image.data[4 * p] = image.data[4 * p + 1] = image.data[4 * p + 2] = v;
    image.data[4 * p + 3] = 255;
    sum += v;
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${panel.title} ${panel.note || ""}`.trim());
  const caption = figure.querySelector("figcaption");
  caption.textContent = panel.title;
  if (panel.note) {
    const note = document.createElement("small");
    note.textContent = panel.note;
    caption.append(note);
  }
  figure.dataset.title = panel.title;
  figure.dataset.inkSum = String(sum); // a fingerprint of the pixels, for tests and benchmarks
}
