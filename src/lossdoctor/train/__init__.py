"""PyTorch treatments: flooding, backstitch, EWC, focal loss, schedules, early stopping, the LR
range test and training recipes.

PyTorch is an optional extra (``pip install 'lossdoctor[torch]'``). Names are imported lazily on
first use, so ``import lossdoctor.train`` works without torch; the torch-free helpers
(`propose_flood_level`, `search_flood_level`, `recommend`) work without it too, and the others
raise an `ImportError` saying how to install torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lossdoctor.train.backstitch import Backstitch, grad_norm_penalty
    from lossdoctor.train.early_stopping import EarlyStopping
    from lossdoctor.train.ewc import EWC, OnlineEWC, fisher_diagonal
    from lossdoctor.train.flood_level import (
        FloodLevelProposal,
        FloodLevelSearch,
        propose_flood_level,
        search_flood_level,
    )
    from lossdoctor.train.flooding import Flooding, flood, iflood
    from lossdoctor.train.focal import (
        BinaryFocalLoss,
        FocalLoss,
        binary_focal_loss_with_logits,
        focal_loss,
    )
    from lossdoctor.train.lr_find import LRFindResult, lr_find, suggest_lrs
    from lossdoctor.train.recommend import Choice, Recipe, recommend
    from lossdoctor.train.schedules import scale_lr, warmup_cosine, warmup_linear

TORCH_MISSING = "lossdoctor.train needs PyTorch: pip install 'lossdoctor[torch]'"

# public name → submodule that defines it
_LAZY: dict[str, str] = {
    "flood": "flooding",
    "iflood": "flooding",
    "Flooding": "flooding",
    "propose_flood_level": "flood_level",
    "search_flood_level": "flood_level",
    "FloodLevelProposal": "flood_level",
    "FloodLevelSearch": "flood_level",
    "Backstitch": "backstitch",
    "grad_norm_penalty": "backstitch",
    "focal_loss": "focal",
    "binary_focal_loss_with_logits": "focal",
    "FocalLoss": "focal",
    "BinaryFocalLoss": "focal",
    "warmup_cosine": "schedules",
    "warmup_linear": "schedules",
    "scale_lr": "schedules",
    "EarlyStopping": "early_stopping",
    "lr_find": "lr_find",
    "suggest_lrs": "lr_find",
    "LRFindResult": "lr_find",
    "recommend": "recommend",
    "Recipe": "recommend",
    "Choice": "recommend",
    "EWC": "ewc",
    "OnlineEWC": "ewc",
    "fisher_diagonal": "ewc",
}

__all__ = [
    "EWC",
    "Backstitch",
    "BinaryFocalLoss",
    "Choice",
    "EarlyStopping",
    "FloodLevelProposal",
    "FloodLevelSearch",
    "Flooding",
    "FocalLoss",
    "LRFindResult",
    "OnlineEWC",
    "Recipe",
    "binary_focal_loss_with_logits",
    "fisher_diagonal",
    "flood",
    "focal_loss",
    "grad_norm_penalty",
    "iflood",
    "lr_find",
    "propose_flood_level",
    "recommend",
    "scale_lr",
    "search_flood_level",
    "suggest_lrs",
    "warmup_cosine",
    "warmup_linear",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == "torch" or (exc.name or "").startswith("torch."):
            raise ImportError(TORCH_MISSING) from exc
        raise
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
