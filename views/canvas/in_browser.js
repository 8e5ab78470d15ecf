// The Draw models, run by the pad itself in the page with onnxruntime-web (WebAssembly), so a stroke is
// answered without waiting for the server. Loaded inline with the pad (views/canvas/__init__.py), after
// the port of the preprocessing (PORT_JS: preprocessInk, perImageBce, greyLevels) and before canvas.js.
//
// Python hands the pad {runtime, models: [{title, encode, decode}], reason} (core/serving/browser.py):
// URLs relative to the page, under Streamlit's static serving, or the reason the browser cannot run
// them. The runtime and the six model files load once per page; each answer is
//
//   ink → preprocessInk → x (1, 28, 28, 1) → encode → code (a VAE: z_mean) → decode → x̂ → BCE(x, x̂)
//
// and goes to the reconstructions strip as a window event (ANSWER_EVENT, detail {seq, panels, ...});
// the strip (strip.js) paints it at once, and the server, told the pad answers this drawing, sends only
// the panels the pad cannot compute.

const ANSWER_EVENT = "latent-lab:draw-answer";
const ASK_EVENT = "latent-lab:draw-ask"; // strip.js: a strip that lost the pad's answer to drawing `seq`
const INPUT_TITLE = "what the model sees"; // the server's strip says the same (views/draw.py)
const INPUT_NOTE = "28×28";

function createModels(config, onStatus) {
  const models = { state: "off", answer: null, last: null };
  if (!config || !config.runtime || !(config.models || []).length) {
    onStatus("off", config && config.reason);
    return models;
  }
  const url = (path) => new URL(path, document.baseURI).href;
  let ort = null, sessions = null;
  let queue = Promise.resolve(), newest = null;

  const run = async (session, input) => {
    const feeds = { [session.inputNames[0]]: input };
    return (await session.run(feeds, [session.outputNames[0]]))[session.outputNames[0]]; // a VAE: z_mean
  };

  const reconstruct = async (x) => {
    const out = [];
    for (const m of sessions) {
      const code = await run(m.encode, new ort.Tensor("float32", x, [1, 28, 28, 1]));
      const xHat = (await run(m.decode, code)).data; // (1, 28, 28, 1) float32
      out.push({ title: m.title, xHat, bce: perImageBce(x, xHat) });
    }
    return out;
  };

  // One answer: the newest drawing only (a stroke that arrives while the models work replaces any
  // that waits), one at a time (a session runs one call at a time).
  const answer = (drawing, t0) => {
    newest = drawing;
    queue = queue.then(async () => {
      if (newest !== drawing || models.state !== "ready") return;
      const panels = [];
      const tStart = performance.now();
      let x = null, recs = [], tPre = tStart;
      if (drawing.bytes) {
        try {
          x = preprocessInk(drawing.bytes, drawing.h, drawing.w);
        } catch (err) {
          if (!(err instanceof NoInk)) throw err;
          return; // the server explains what is wrong with this drawing
        }
        tPre = performance.now();
        recs = await reconstruct(x);
        panels.push({ title: INPUT_TITLE, note: INPUT_NOTE, w: 28, h: 28, grey: greyLevels(x) });
        for (const r of recs) panels.push({ title: r.title, note: `error ${r.bce.toFixed(3)}`, w: 28, h: 28, grey: greyLevels(r.xHat) });
      }
      const ms = performance.now() - t0;
      // For tests and benchmarks: what was answered, and where the time went (waiting, preprocessing, models).
      models.last = { seq: drawing.seq, x: x && Array.from(x), errors: recs.map((r) => r.bce), ms,
                      waitMs: tStart - t0, preMs: tPre - tStart, modelMs: performance.now() - tPre };
      models.detail = { seq: drawing.seq, panels, t0, ms };
      window.dispatchEvent(new CustomEvent(ANSWER_EVENT, { detail: models.detail }));
    }).catch((err) => {
      console.warn("Latent Lab: the in-browser models failed; the server answers instead.", err);
      models.state = "failed";
      onStatus("failed", String(err && err.message ? err.message : err));
    });
  };

  // A strip mounted again (the page's layout changed) asks for the answer it was shown: send it again.
  window.addEventListener(ASK_EVENT, (event) => {
    if (models.detail && models.detail.seq === event.detail.seq) {
      window.dispatchEvent(new CustomEvent(ANSWER_EVENT, { detail: models.detail }));
    }
  });

  models.state = "loading";
  onStatus("loading");
  (async () => {
    ort = await import(url(config.runtime));
    ort.env.wasm.numThreads = 1; // threads need a cross-origin-isolated page; one digit is ~1 ms anyway
    ort.env.logLevel = "error";
    const options = { executionProviders: ["wasm"], graphOptimizationLevel: "all" };
    sessions = [];
    for (const m of config.models) {
      sessions.push({
        title: m.title,
        encode: await ort.InferenceSession.create(url(m.encode), options),
        decode: await ort.InferenceSession.create(url(m.decode), options),
      });
    }
    // The first call of a session allocates, and JavaScript is compiled to fast code only once it has run:
    // run everything on a made-up stroke now, not on the student's first one.
    const h = 200, w = 120, ink = new Uint8Array(h * w);
    for (let y = 10; y < h - 10; y++) for (let x = 40; x < 70; x++) ink[y * w + x + ((y / 8) | 0)] = 255;
    for (let i = 0; i < 3; i++) await reconstruct(preprocessInk(ink, h, w));
    models.state = "ready";
    onStatus("ready");
    if (newest) answer(newest, performance.now()); // a stroke drawn while loading: answer it now
  })().catch((err) => {
    console.warn("Latent Lab: could not load the in-browser models; the server answers instead.", err);
    models.state = "failed";
    onStatus("failed", String(err && err.message ? err.message : err));
  });

  models.answer = (drawing, t0) => {
    newest = drawing;
    if (models.state === "ready") answer(drawing, t0);
  };
  return models;
}
