// Copies the two onnxruntime-web files the Draw pad loads from node_modules into the app's static
// folder (static/ort/ next to app.py, served by Streamlit at app/static/ort/ when
// server.enableStaticServing is on). Run by `npm ci --prefix views/canvas/web` (postinstall); nothing
// it writes is committed.
import { copyFileSync, mkdirSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "node_modules", "onnxruntime-web", "dist");
const target = join(here, "..", "..", "..", "static", "ort");
// The WebAssembly-only build with its Emscripten glue bundled in (~75 KB), and the single-threaded-capable
// SIMD WebAssembly it loads from beside itself (new URL(..., import.meta.url)).
const FILES = ["ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm"];

mkdirSync(target, { recursive: true });
for (const name of FILES) {
  const tmp = join(target, `.${name}.tmp`);
  copyFileSync(join(dist, name), tmp);
  renameSync(tmp, join(target, name)); // atomic: a running server never serves half a file
}
console.log(`onnxruntime-web: copied ${FILES.join(", ")} to ${target}`);
