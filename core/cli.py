"""Command line: ``python -m core train ...`` and ``python -m core evaluate ...``.

    python -m core train --all                 # (re)train every shipped model into assets/models
    python -m core train --kind vae --latent-dim 2 --epochs 5    # one spec, into the user cache
    python -m core evaluate [--json FILE]      # metrics table for the shipped models
    python -m core export [--name NAME]        # rewrite the ONNX files of the named shipped models
    python -m core worker                      # serve the Training lab's job queue (core.serving.worker)
    python -m core prefetch                    # download the full MNIST and Fashion-MNIST into Keras's cache
    python -m core make-subset                 # rewrite the test subsets in assets/data from the full data
    python -m core score FILE... --json OUT [--model NAME]   # every digit in photos, as the Upload page judges it
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from core.errors import LatentLabError
from core.lab.spec import KINDS, SCHEDULES, ModelSpec
from core.lab.zoo import SHIPPED, all_shipped
from core.serving.store import ASSETS_DIR, ModelStore

MANIFEST = ASSETS_DIR.parent / "manifest.json"
# Models served by ONNX Runtime (no TensorFlow): every named shipped model; `train` and `export` write them.
# The ten one-class models are left to Keras: 10 × 2 MB more files for a page that scores whole test sets.
ONNX_EXPORTED: tuple[str, ...] = tuple(SHIPPED)
METRIC_COLUMNS = ("test_bce", "test_mse", "test_neg_elbo", "auroc_fashion", "psnr_gauss_0.5", "auroc_one_class_mean",
                  "other_writers_flagged", "other_writers_knn_acc")


def _other_writers() -> bool:
    """Whether the other-writers figures (core.lab.other_writers) can be measured: they need scikit-learn's
    bundled digits (requirements-dev.txt)."""
    import importlib.util

    if importlib.util.find_spec("sklearn") is not None:
        return True
    print("note: scikit-learn is not installed (requirements-dev.txt): no other-writers figures", file=sys.stderr)
    return False


def _print_progress(p) -> None:
    if p.epoch_end:
        logs = " ".join(f"{k}={v:.4f}" for k, v in p.logs.items())
        print(f"  epoch {p.epoch}/{p.epochs}  {p.elapsed:6.1f}s  {logs}", flush=True)


def _train_one(name: str, spec: ModelSpec, out: Path) -> dict:
    from core.lab.data import load_mnist
    from core.lab.evaluate import evaluate, evaluate_one_class
    from core.lab.training import train

    print(f"training {name}: {spec.label} (key {spec.key})", flush=True)
    result = train(spec, on_progress=_print_progress, per_step=False)
    t0 = time.perf_counter()
    scores = evaluate(result.model, spec, other_writers=not spec.digits and _other_writers())
    if len(spec.digits) == 1:  # a one-class model: its own digit vs the rest of the test set
        (digit,) = spec.digits
        scores["auroc_one_class"] = evaluate_one_class({digit: result.model})[f"auroc_digit_{digit}"]
    print(f"  evaluated in {time.perf_counter() - t0:.1f}s: {scores}", flush=True)
    record = {
        "name": name,
        "train_seconds": round(result.seconds, 1),
        "data_fingerprint": load_mnist().fingerprint(),
        "metrics": scores,
        "history": {k: [round(v, 5) for v in vs] for k, vs in result.history.items()},
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    full = ModelStore(cache_dir=out, assets_dir=out).put(spec, result.model, record, directory=out)
    if name in ONNX_EXPORTED:
        _export_onnx(name, spec, out)
    return full


def _export_onnx(name: str, spec: ModelSpec, out: Path) -> None:
    """Write the ONNX files of a stored model, exported from the `.keras` file itself (loaded back), so
    they match the hash they are stamped with."""
    from core.serving.onnx_export import export_onnx

    store = ModelStore(cache_dir=out, assets_dir=out, allow_training=False)
    t0 = time.perf_counter()
    paths = export_onnx(spec, store.get(spec), store.record(spec)["sha256"], out)
    print(f"{name}: ONNX {', '.join(p.name for p in paths.values())} in {time.perf_counter() - t0:.1f}s", flush=True)


def write_manifest(out: Path = ASSETS_DIR, manifest: Path = MANIFEST) -> None:
    """assets/manifest.json: one entry per shipped model, from the records beside the weights."""
    from core.serving.onnx_export import onnx_sha256  # hashes files only: no TensorFlow or tf2onnx

    entries = {}
    for name, spec in all_shipped().items():
        meta = out / f"{spec.key}.json"
        if meta.exists():
            record = json.loads(meta.read_text())
            entries[name] = {k: record[k] for k in ("key", "spec", "sha256", "train_seconds", "data_fingerprint", "metrics", "trained_at", "keras_version") if k in record}
            onnx = onnx_sha256(spec, out)
            if onnx is not None:
                entries[name]["onnx"] = onnx
    manifest.write_text(json.dumps({"models": entries}, indent=2) + "\n")


def cmd_train(args) -> None:
    out = Path(args.out) if args.out else (ASSETS_DIR if args.all or args.name else None)
    if args.all or args.name:
        shipped = all_shipped()
        names = list(shipped) if args.all else args.name
        store = ModelStore(cache_dir=out, assets_dir=out)
        for name in names:
            spec = shipped[name]
            if store.available(spec) and not args.force:
                print(f"{name}: already trained ({spec.key}); --force retrains")
                continue
            _train_one(name, spec, out)
        if out == ASSETS_DIR:
            write_manifest()
        return
    if args.kind is None:
        raise LatentLabError("say what to train: --all, --name NAME, or --kind KIND with spec options")
    spec = ModelSpec(
        kind=args.kind, latent_dim=args.latent_dim, beta=args.beta, noise_factor=args.noise_factor,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        schedule=args.schedule, seed=args.seed, digits=tuple(args.digits or ()), train_size=args.train_size,
    )
    store = ModelStore(cache_dir=out) if out else ModelStore()
    print(f"training {spec.label} (key {spec.key}) into {store.cache_dir}", flush=True)
    store.get(spec, on_progress=_print_progress)
    print(json.dumps(store.record(spec), indent=2))


def cmd_export(args) -> None:
    """Rewrite the ONNX files (core.serving.onnx_runtime) of shipped models from their stored weights."""
    out = Path(args.out) if args.out else ASSETS_DIR
    for name in args.name or ONNX_EXPORTED:
        _export_onnx(name, all_shipped()[name], out)
    if out == ASSETS_DIR:
        write_manifest()


def cmd_worker(args) -> None:
    from core.serving.worker import run_worker

    run_worker(parent_pid=args.parent_pid)


def cmd_prefetch(args) -> None:
    from core.lab.data import prefetch

    for name, path in prefetch().items():
        print(f"{name}: {path}")
    print("The full data is on this computer: training and `evaluate` can run offline now.")


def cmd_make_subset(args) -> None:
    from core.lab.data import SUBSET_DIR, SUBSET_MANIFEST, make_subset

    out = Path(args.out) if args.out else SUBSET_DIR
    for file, entry in make_subset(out).items():
        print(f"{out / file}: {entry['images']} images, {entry['bytes'] / 1024:.0f} KB, arrays sha256 {entry['arrays_sha256']}")
    print(f"wrote {out / SUBSET_MANIFEST}")


def cmd_evaluate(args) -> None:
    from core.lab.evaluate import evaluate, evaluate_one_class
    from core.lab.zoo import one_class_spec

    store = ModelStore(allow_training=args.train)
    names = args.name or [*SHIPPED, "one_class"]
    other_writers = _other_writers()
    results = {}
    for name in names:
        t0 = time.perf_counter()
        if name == "one_class":  # one row for the ten one-class models: per-digit and mean AUROC
            results[name] = evaluate_one_class({d: store.get(one_class_spec(d)) for d in range(10)})
        else:
            results[name] = evaluate(store.get(SHIPPED[name]), SHIPPED[name], other_writers=other_writers)
        print(f"{name}: evaluated in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    cols = [c for c in METRIC_COLUMNS if any(c in r for r in results.values())]
    width = max(len("model"), *map(len, results))  # the name column fits the longest name
    print(f"{'model':<{width}}" + "".join(f"{c:>22}" for c in cols))
    for name, r in results.items():
        print(f"{name:<{width}}" + "".join(f"{r[c]:>22.4f}" if c in r else f"{'-':>22}" for c in cols))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")


def score_files(paths: list[str], model_name: str) -> dict:
    """The Upload page's verdict on every digit in each file (`core.lab.verdict`), as
    {"files": [{"name", "error", "digits": [{"box", "model", "score", "percentile", "flagged", "label"}]}]}.
    A file that cannot be read gets `error` and no digits; the others are still scored."""
    from core.lab import verdict
    from core.lab.data import mnist_for_pages, to_float
    from core.lab.images import MAX_BYTES, MAX_MB
    from core.lab.preprocess import Outcome, preprocess_many
    from core.lab.zoo import spec_named
    from core.serving.infer import served

    model = served(spec_named(model_name))
    mnist = mnist_for_pages()
    ref = verdict.reference(model.reconstruct, model.encode, to_float(mnist.x_test), mnist.y_test)
    files = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES + 1)  # never more than the limit (and one byte to tell it was exceeded)
        except OSError as err:
            outcome = Outcome(path, error=f"{path} cannot be read ({err.strerror or type(err).__name__})")
        else:
            if len(data) > MAX_BYTES:
                outcome = Outcome(path, error=f"{path} is larger than {MAX_MB} MB, the limit per file")
            else:
                (outcome,) = preprocess_many([(path, data)])
        digits = outcome.digits
        verdicts = verdict.judge([d.image for d in digits], model.reconstruct, model.encode, ref) if digits else []
        files.append({"name": path, "error": outcome.error, "digits": [
            {"box": [int(v) for v in d.box], "model": model_name, "score": v.score, "percentile": v.percentile,
             "flagged": v.flagged, "label": v.label}
            for d, v in zip(digits, verdicts, strict=True)]})
    return {"files": files}


def cmd_score(args) -> None:
    from core.lab.zoo import models_of

    model_name = args.model or models_of("upload")[0]
    result = score_files(args.files, model_name)
    for f in result["files"]:
        if f["error"]:
            print(f"{f['name']}: {f['error']}")
            continue
        flagged = sum(d["flagged"] for d in f["digits"])
        print(f"{f['name']}: {len(f['digits'])} digit{'s' * (len(f['digits']) != 1)}, read as "
              f"{''.join(str(d['label']) for d in f['digits'])}; {flagged} flagged as unusual by {model_name}")
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="Latent Lab models: train and evaluate.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train shipped models (--all / --name) or one spec (--kind ...)")
    t.add_argument("--all", action="store_true", help="every shipped model, into assets/models")
    t.add_argument("--name", action="append", choices=list(all_shipped()), help="one shipped model (repeatable)")
    t.add_argument("--force", action="store_true", help="retrain even if trained weights exist")
    t.add_argument("--out", help="output directory (default: assets/models for shipped, the user cache otherwise)")
    t.add_argument("--kind", choices=KINDS)
    t.add_argument("--latent-dim", type=int, default=16)
    t.add_argument("--beta", type=float, default=1.0)
    t.add_argument("--noise-factor", type=float, default=0.0)
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("--schedule", choices=SCHEDULES, default="constant")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--digits", type=int, nargs="*", help="train on these digits only")
    t.add_argument("--train-size", type=int, default=0, help="first N training images (0 = all)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="metrics table (and JSON) for the shipped models")
    e.add_argument("--json", help="also write {model_name: {metric: value}} to this file")
    e.add_argument("--name", action="append", choices=[*SHIPPED, "one_class"], help="only this model (repeatable)")
    e.add_argument("--train", action="store_true", help="train models that have no weights yet")
    e.set_defaults(func=cmd_evaluate)

    f = sub.add_parser("export", help="rewrite the ONNX files of shipped models (needs requirements-export.txt)")
    f.add_argument("--name", action="append", choices=list(all_shipped()), help="only this model (repeatable; default: every named shipped model)")
    f.add_argument("--out", help="directory of the stored models (default: assets/models)")
    f.set_defaults(func=cmd_export)

    w = sub.add_parser("worker", help="train the Training lab's queued jobs (LATENT_LAB_QUEUE_URL, LATENT_LAB_CACHE)")
    w.add_argument("--parent-pid", type=int, help="stop when this process (the app server that started it) is gone")
    w.set_defaults(func=cmd_worker)

    g = sub.add_parser("prefetch", help="download the full MNIST and Fashion-MNIST into Keras's cache (needs internet)")
    g.set_defaults(func=cmd_prefetch)

    m = sub.add_parser("make-subset", help="rewrite the test subsets the pages use offline (needs the full data)")
    m.add_argument("--out", help="output directory (default: assets/data)")
    m.set_defaults(func=cmd_make_subset)

    s = sub.add_parser("score", help="every digit in image files, judged as the Upload page does (JSON)")
    s.add_argument("files", nargs="+", metavar="FILE", help="image files (PNG, JPEG, BMP, GIF, WebP, TIFF)")
    s.add_argument("--json", required=True, metavar="OUT", help="write the verdicts to this JSON file")
    s.add_argument("--model", choices=list(SHIPPED), help="the model that judges (default: the Upload page's first)")
    s.set_defaults(func=cmd_score)

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except LatentLabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
