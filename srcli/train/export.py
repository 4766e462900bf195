"""Checkpoint -> shippable weights: safetensors plus a JSON sidecar for the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from srcli.models import count_parameters, create_model
from srcli.train.checkpoint import current_umask, load_checkpoint, resolve_resume
from srcli.train.config import TrainConfig


def export_checkpoint(checkpoint: Path, output: Path, fp16: bool = False,
                      use_ema: bool = True) -> dict[str, Any]:
    """Write `output` (.safetensors) and `output.with_suffix('.json')`; return the sidecar."""
    path = resolve_resume(str(checkpoint), str(checkpoint))
    assert path is not None
    ck = load_checkpoint(path)
    cfg = TrainConfig.from_dict(ck["config"])
    weights = ck["ema"] if use_ema and ck.get("ema") is not None else ck["model"]
    model = create_model(cfg.model, cfg.scale, **cfg.model_config)
    model.load_state_dict(weights)  # proves the tensors fit the architecture before writing
    dtype = torch.float16 if fp16 else torch.float32
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    output.parent.mkdir(parents=True, exist_ok=True)
    meta = {"architecture": cfg.model, "scale": str(cfg.scale)}
    tmp = output.with_name(f".{output.name}.tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.chmod(0o666 & ~current_umask())  # safetensors creates 0600: weights are for sharing
    tmp.replace(output)
    vals = [h for h in ck.get("history", []) if "psnr" in h]
    sidecar = {
        "architecture": cfg.model,
        "config": {**cfg.model_config},
        "scale": cfg.scale,
        "degradation": cfg.degradation,
        "params": count_parameters(model),
        "dtype": "float16" if fp16 else "float32",
        "weights": "ema" if weights is ck.get("ema") else "live",
        "training": {"data": cfg.data, "iterations": ck["iteration"], "patch": cfg.patch,
                     "batch": cfg.batch, "lr": cfg.lr, "lr_schedule": cfg.lr_schedule,
                     "ema": cfg.ema, "loss": cfg.loss, "scale_aug": cfg.scale_aug,
                     "init_from": cfg.init_from, "seed": cfg.seed},
        "validation": vals[-1] if vals else None,
    }
    if ck.get("averaged_from"):  # scripts/average_checkpoints.py: the recipe above is the first's
        sidecar["training"]["averaged_from"] = ck["averaged_from"]
    output.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar
