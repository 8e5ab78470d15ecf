import json
import subprocess
import sys

import pytest

from core.cli import main
from core.lab.zoo import SHIPPED
from core.serving.store import read_record


@pytest.mark.needs_full_data
def test_evaluate_writes_json(tmp_path, capsys):
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--name", "lesson", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "test_bce" in table and "lesson" in table
    metrics = json.loads(out.read_text())
    assert set(metrics) == {"lesson"}
    assert {"test_bce", "test_mse", "auroc_fashion"} <= set(metrics["lesson"])
    assert 0 < metrics["lesson"]["test_bce"] < 0.2
    # Issue 17: other writers' digits (scikit-learn, a dev dependency), photographed and preprocessed like an upload.
    assert "other_writers_knn_acc" in table
    assert 0 <= metrics["lesson"]["other_writers_flagged"] <= 1 and 0.3 < metrics["lesson"]["other_writers_knn_acc"] <= 1


@pytest.mark.slow
@pytest.mark.needs_full_data
def test_train_one_spec_into_a_directory(tmp_path, capsys):
    argv = ["train", "--kind", "vae", "--latent-dim", "2", "--epochs", "1", "--batch-size", "128",
            "--train-size", "512", "--out", str(tmp_path)]
    assert main(argv) == 0
    from core.lab.spec import ModelSpec

    spec = ModelSpec("vae", latent_dim=2, epochs=1, batch_size=128, train_size=512)
    assert read_record(tmp_path, spec) is not None
    assert "epoch 1/1" in capsys.readouterr().out


def test_bad_arguments_give_a_message_not_a_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "core", "train", "--kind", "vae", "--digits", "12", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "digits must be in 0..9, got [12]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_shipped_names_are_the_cli_choices():
    assert set(SHIPPED) >= {"lesson", "conv_ae", "ae_2d", "denoise", "vae_2d", "vae_16"}
