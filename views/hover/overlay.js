// The hover map's overlay (views/hover): what a click changes — the pinned point, the posterior's
// ellipses, the samples — in an element of its own, so that the map's large, unchanging data is sent
// once and a click sends only this. It hands the overlay to its map through `globalThis.latentLabMaps`
// (the map reads it on its own first render, whichever of the two the page renders first).

export default function (component) {
  const { data } = component;
  if (!data || !data.map_key) return;
  globalThis.latentLabMaps ??= { views: {}, overlays: {} };
  const maps = globalThis.latentLabMaps;
  maps.overlays[data.map_key] = data;
  const view = maps.views[data.map_key];
  if (view) view.setOverlay(data);
}
