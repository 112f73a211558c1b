"""Weights a loss owns (the softmax classifier, CT's second encoder, ESimCSE's momentum encoder and queue,
TSDAE's decoder): saved into each checkpoint and restored on resume, checked to match the run's losses."""

from __future__ import annotations

from pathlib import Path

import torch

from sentemb.errors import SentembError
from sentemb.runs import (
    LOSS_STATE,
)


def loss_params(losses: dict[str, torch.nn.Module], model=None) -> dict[str, torch.Tensor]:
    """State owned by the losses themselves (not the model's): e.g. the softmax classifier, CT's second
    encoder, ESimCSE's momentum encoder and queue, TSDAE's decoder."""
    shared = {p.data_ptr() for p in model.state_dict().values()} if model is not None else set()
    out = {}
    for name, loss in losses.items():
        for key, value in loss.state_dict().items():
            if not key.startswith("model.") and value.data_ptr() not in shared:
                out[f"{name}/{key}"] = value.detach().cpu().clone().contiguous()
    return out


def loss_state_callback(losses: dict[str, torch.nn.Module], model=None):
    from safetensors.torch import save_file
    from transformers import TrainerCallback

    class LossStateCallback(TrainerCallback):
        """Save the losses' own weights into each checkpoint, so a resumed run continues them."""

        def on_save(self, args, state, control, **kwargs):
            params = loss_params(losses, model)
            if params and state.is_world_process_zero:
                save_file(params, str(Path(args.output_dir) / f"checkpoint-{state.global_step}" / LOSS_STATE))

    return LossStateCallback()


def restore_loss_state(losses: dict[str, torch.nn.Module], ckpt: Path, model=None) -> None:
    """Load the losses' own weights saved in ``ckpt``; the file must hold exactly what this run's losses own
    (same names and shapes), otherwise a resumed run would silently start them afresh."""
    from safetensors.torch import load_file

    path = ckpt / LOSS_STATE
    state = load_file(str(path))
    expected = loss_params(losses, model)
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        detail = "; ".join(f"{what}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}" for what, keys in
                           (("missing", missing), ("unexpected", unexpected), ("other shape", wrong)) if keys)
        raise SentembError(f"{path} does not match this run's losses ({detail}); the checkpoint belongs to another "
                           "objective or options: start a new run in another folder")
    for name, loss in losses.items():
        own = {k.split("/", 1)[1]: v for k, v in state.items() if k.split("/", 1)[0] == name}
        if own:
            # keys checked above; strict=False only because the model's weights come from the checkpoint itself
            loss.load_state_dict(own, strict=False)
