"""The model cache: resolution order, atomic writes, corruption, and one training per spec."""

import json
import multiprocessing as mp
import threading

import numpy as np
import pytest

from core.errors import LatentLabError
from core.serving import store as store_mod
from core.serving.store import ModelStore, read_record, save_entry

pytestmark = pytest.mark.slow


def _count_trainings(monkeypatch):
    import core.lab.training

    calls = []
    real = core.lab.training.train

    def counting(spec, **kw):
        calls.append(spec.key)
        return real(spec, **kw)

    monkeypatch.setattr(core.lab.training, "train", counting)
    return calls


def test_train_then_cache_then_memory(tmp_path, tiny_spec, monkeypatch):
    calls = _count_trainings(monkeypatch)
    s1 = ModelStore(cache_dir=tmp_path / "cache", assets_dir=tmp_path / "assets")
    m1 = s1.get(tiny_spec)
    assert calls == [tiny_spec.key]
    assert s1.get(tiny_spec) is m1  # in-process
    record = read_record(tmp_path / "cache", tiny_spec)
    assert record["spec"] == tiny_spec.to_dict() and record["train_seconds"] > 0
    s2 = ModelStore(cache_dir=tmp_path / "cache", assets_dir=tmp_path / "assets")
    m2 = s2.get(tiny_spec)  # from the user cache, no training
    assert calls == [tiny_spec.key]
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(m1(x)), np.asarray(m2(x)), atol=1e-6)


def test_shipped_assets_are_used_before_training(tmp_path, tiny_spec, monkeypatch):
    ModelStore(cache_dir=tmp_path / "assets").get(tiny_spec)  # make an "assets" directory
    calls = _count_trainings(monkeypatch)
    s = ModelStore(cache_dir=tmp_path / "cache", assets_dir=tmp_path / "assets", allow_training=False)
    assert s.available(tiny_spec)
    s.get(tiny_spec)
    assert calls == []


def test_missing_weights_without_training_is_a_clear_error(tmp_path, tiny_spec):
    s = ModelStore(cache_dir=tmp_path / "c", assets_dir=tmp_path / "a", allow_training=False)
    with pytest.raises(LatentLabError, match=tiny_spec.key):
        s.get(tiny_spec)


@pytest.mark.parametrize("damage", ["truncate_weights", "garbage_record", "missing_record", "other_spec"])
def test_corrupt_cache_entry_is_rebuilt_not_loaded(tmp_path, tiny_spec, monkeypatch, damage):
    cache = tmp_path / "cache"
    ModelStore(cache_dir=cache, assets_dir=tmp_path / "a").get(tiny_spec)
    weights, meta = cache / f"{tiny_spec.key}.keras", cache / f"{tiny_spec.key}.json"
    if damage == "truncate_weights":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "garbage_record":
        meta.write_text("{not json")
    elif damage == "missing_record":
        meta.unlink()
    else:
        record = json.loads(meta.read_text())
        record["spec"]["epochs"] = 99
        meta.write_text(json.dumps(record))
    with pytest.raises(LatentLabError):
        read_record(cache, tiny_spec)
    calls = _count_trainings(monkeypatch)
    model = ModelStore(cache_dir=cache, assets_dir=tmp_path / "a").get(tiny_spec)
    assert calls == [tiny_spec.key] and model is not None
    assert read_record(cache, tiny_spec) is not None  # rebuilt and valid again


def test_failed_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("old")

    def boom(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        store_mod.atomic_write(target, boom)
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]  # the temp file is gone too


def test_two_threads_one_training(tmp_path, tiny_spec, monkeypatch):
    calls = _count_trainings(monkeypatch)
    s = ModelStore(cache_dir=tmp_path / "cache", assets_dir=tmp_path / "a")
    results = []
    threads = [threading.Thread(target=lambda: results.append(s.get(tiny_spec))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [tiny_spec.key]
    assert results[0] is results[1] is results[2]


def _child(cache, spec_dict, out):
    import core.lab.training
    from core.lab.spec import ModelSpec

    trained = []
    real = core.lab.training.train
    core.lab.training.train = lambda spec, **kw: trained.append(1) or real(spec, **kw)
    ModelStore(cache_dir=cache, assets_dir=cache / "none").get(ModelSpec.from_dict(spec_dict))
    out.put(len(trained))


def test_two_processes_one_training(tmp_path, tiny_spec):
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_child, args=(tmp_path / "cache", tiny_spec.to_dict(), out)) for _ in range(2)]
    for p in procs:
        p.start()
    counts = sorted(out.get(timeout=240) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert counts == [0, 1], "exactly one process trains; the other waits on the lock and loads"
    assert read_record(tmp_path / "cache", tiny_spec) is not None


def test_save_entry_records_hash(tmp_path, tiny_spec):
    from core.lab.models import build

    rec = save_entry(tmp_path, tiny_spec, build(tiny_spec), {"train_seconds": 1.0})
    assert rec["sha256"] == store_mod.sha256_file(tmp_path / f"{tiny_spec.key}.keras")
    assert read_record(tmp_path, tiny_spec)["train_seconds"] == 1.0
