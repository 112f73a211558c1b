"""Stage a model folder for the Hub (the exact files to upload) and upload it with ``push_to_hub``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sentemb.atomic import atomic_path
from sentemb.errors import SentembError

#: run bookkeeping that stays out of an upload
_SKIP = {"checkpoints", "stages", "run_config.json"}


def _check_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise SentembError(f"invalid Hub repository id {repo_id!r}: {exc}") from None


def stage_upload(model_dir: str | Path, repo_id: str, output: str | Path, results: str | Path | None = None,
                 command: str | None = None) -> Path:
    """Write ``output``: the model's files, its publish card as README.md; checked to load in plain
    sentence-transformers. Returns the folder."""
    from sentence_transformers import SentenceTransformer

    from sentemb.publish.card import render_publish_card

    _check_repo_id(repo_id)
    src = Path(model_dir).expanduser().resolve()
    if not (src / "modules.json").is_file():
        raise SentembError(f"{src} is not a sentence-transformers model folder (no modules.json); "
                           "push publishes a folder written by sentemb train / distill / whiten / wordvec")
    if (src / "sentemb_onnx.json").is_file():
        raise SentembError(f"{src} is an ONNX export; push the torch model it was exported from")
    res = None
    if results is not None:
        try:
            res = json.loads(Path(results).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SentembError(f"--results {results}: not a readable JSON file ({exc})") from None
        if not isinstance(res, dict) or not isinstance(res.get("results"), list):
            raise SentembError(f"--results {results}: expected the JSON of `sentemb eval --json` (a 'results' list)")
    model = SentenceTransformer(str(src), device="cpu")
    out = Path(output).expanduser().resolve()
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        for p in src.iterdir():
            if p.name in _SKIP or p.name.startswith("."):
                continue
            (shutil.copytree if p.is_dir() else shutil.copy2)(p, tmp / p.name)
        (tmp / "README.md").write_text(render_publish_card(src, repo_id, model, res, command), encoding="utf-8")
        SentenceTransformer(str(tmp), device="cpu")  # what a user will load
    return out


def push_model(model_dir: str | Path, repo_id: str, output: str | Path, *, private: bool = False,
               dry_run: bool = False, results: str | Path | None = None, command: str | None = None,
               token: str | None = None) -> str | None:
    """Stage the upload in ``output``; unless ``dry_run``, upload it. Returns the commit URL (None for a dry run)."""
    from sentence_transformers import SentenceTransformer

    staged = stage_upload(model_dir, repo_id, output, results, command)
    if dry_run:
        return None
    model = SentenceTransformer(str(staged), device="cpu")
    try:
        return model.push_to_hub(repo_id, token=token, private=private, local_model_path=str(staged),
                                 exist_ok=True, commit_message=f"Upload {repo_id.split('/')[-1]} (sentemb push)")
    except Exception as exc:  # network, authentication, permissions: one clear line
        raise SentembError(f"upload to {repo_id} failed: {type(exc).__name__}: {exc} (the staged folder is "
                           f"{staged}; log in with `hf auth login` or pass --token)") from None
