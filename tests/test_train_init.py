"""lossdoctor.train imports lazily and works without torch for its torch-free parts."""

import subprocess
import sys

import pytest

import lossdoctor.train as train

NO_TORCH = """
import sys
sys.modules["torch"] = None  # makes `import torch` fail as if torch were not installed
import lossdoctor
import lossdoctor.train as t
r = t.recommend(task="binary", n_samples=100)
print("recipe", r.loss.name)
print("propose", t.propose_flood_level.__name__)
for name in ("flood", "EarlyStopping", "lr_find", "FocalLoss", "EWC"):
    try:
        getattr(t, name)
    except ImportError as exc:
        print(name, "->", exc)
"""


def test_torch_free_parts_work_without_torch() -> None:
    out = subprocess.run([sys.executable, "-c", NO_TORCH], capture_output=True, text=True,
                         check=True).stdout
    assert "recipe BCEWithLogitsLoss" in out
    assert "propose propose_flood_level" in out
    msg = "lossdoctor.train needs PyTorch: pip install 'lossdoctor[torch]'"
    for name in ("flood", "EarlyStopping", "lr_find", "FocalLoss", "EWC"):
        assert f"{name} -> {msg}" in out


def test_lazy_names_resolve() -> None:
    from lossdoctor.train.flooding import flood

    assert train.flood is flood
    assert "warmup_cosine" in dir(train)
    assert set(train.__all__) >= {"flood", "iflood", "Flooding", "EWC", "OnlineEWC", "recommend"}


def test_unknown_name() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = train.nope  # type: ignore[attr-defined]
