// Latent Lab's image strip: small grey images side by side, each with a caption (components v2, inline).
//
// Python sends {height, panels: [{title, note, w, h, pixels: base64 of h·w uint8 grey levels}]}; each
// panel is painted into a canvas of its own pixel size and scaled up by CSS (pixelated). One rerun
// repaints in well under a millisecond: no figure library, no image files to fetch.

export default function (component) {
  const { parentElement, data } = component;
  const strip = parentElement.querySelector(".ll-strip");
  if (!strip || !data) return;
  const panels = data.panels || [];
  const height = data.height || 120; // CSS pixels per image

  // Keep the figures (no flicker); add or remove some only when the number of panels changes.
  while (strip.children.length > panels.length) strip.lastElementChild.remove();
  while (strip.children.length < panels.length) {
    const figure = document.createElement("figure");
    figure.className = "ll-panel";
    figure.append(document.createElement("canvas"), document.createElement("figcaption"));
    strip.append(figure);
  }

  panels.forEach((panel, i) => {
    const figure = strip.children[i];
    const canvas = figure.querySelector("canvas");
    const grey = Uint8Array.from(atob(panel.pixels), (c) => c.charCodeAt(0)); // (h, w) row-major
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
  });
  strip.dataset.panels = String(panels.length);
}
