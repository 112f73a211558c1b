"""The published model card: how to load the model in plain sentence-transformers, its pooling, its
benchmark table (Spearman with 95% CIs and the command that produced it), and how it was trained or distilled.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from sentemb.model_card import sentemb_section
from sentemb.models.names import hub_model_id


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _ci(ci) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci and None not in ci else "–"


def _strip_front_matter(text: str) -> str:
    return re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S).lstrip()


def benchmark_section(results: dict[str, Any] | None, summary: dict[str, Any] | None, command: str | None) -> str:
    """The results table: from a ``sentemb eval --json`` file when given, else the run summary's final scores."""
    if results is not None:
        rows = [[r["model"], r["dataset"], r["n"], f"{r['spearman']:.2f}", _ci(r.get("ci95"))]
                for r in results["results"]]
        text = [results.get("metric", "100 x Spearman of cosine similarity vs gold")
                + (f"; 95% percentile bootstrap interval over pairs ({results['bootstrap']} resamples)."
                   if results.get("bootstrap") else "."), "",
                _table(["model", "dataset", "pairs", "Spearman x100", "95% CI"], rows)]
    elif summary and (summary.get("test") or summary.get("dev") or summary.get("results")):
        if summary.get("results"):  # a distillation summary: teacher / student / gap
            rows = [[r["split"], r["dataset"], r["n"], f"{r['teacher']:.2f}", f"{r['student']:.2f}",
                     f"{r['gap']:+.2f}"] for r in summary["results"]]
            table = _table(["split", "dataset", "pairs", "teacher", "this model", "gap"], rows)
        else:
            rows = [[split, r["dataset"], r["n"], f"{r['spearman']:.2f}", _ci(r.get("ci95"))]
                    for split in ("dev", "test") for r in summary.get(split) or []]
            table = _table(["split", "dataset", "pairs", "Spearman x100", "95% CI"], rows)
        text = [(summary.get("metric") or "100 x Spearman of cosine similarity vs gold") + ".", "", table]
        command = command or summary.get("command")
    else:
        return "## Benchmark\n\nNo measured results were given (pass `--results FILE` from `sentemb eval --json`).\n"
    if command:
        text += ["", "Produced by:", "", "```", command, "```"]
    return "## Benchmark\n\n" + "\n".join(text) + "\n"


def render_publish_card(model_dir: Path, repo_id: str, model, results: dict[str, Any] | None = None,
                        command: str | None = None) -> str:
    """Markdown for the uploaded README.md (``model`` is the loaded SentenceTransformer)."""
    from sentemb.models.loading import pooling_name

    train = _read_json(model_dir / "train_summary.json")
    distill = _read_json(model_dir / "distill_summary.json")
    summary = train or distill
    base = (train or {}).get("base_model") or (distill or {}).get("teacher")
    hub_base = hub_model_id(base) if base else None
    lang = ((train or {}).get("config") or {}).get("language")
    front = ["---", "library_name: sentence-transformers", "pipeline_tag: sentence-similarity",
             *([f"base_model: {hub_base}"] if hub_base else []),
             *([f"language: [{lang}]"] if lang else []),
             "tags: [sentence-transformers, sentence-similarity, feature-extraction, sentemb"
             + (", distillation" if distill else "") + "]", "---"]
    modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    plain = all(m["type"].startswith("sentence_transformers.") for m in modules)
    dim = model.get_embedding_dimension()
    normalized = any(m["type"].endswith("Normalize") for m in modules)
    parts = ["\n".join(front), f"# {repo_id.split('/')[-1]}", ""]
    origin = f" from [{hub_base}](https://huggingface.co/{hub_base})" if hub_base else ""
    how = "distilled" if distill else "fine-tuned" if train else "built"
    parts.append(f"A sentence-embedding model {how}{origin} with sentemb: {dim}-dimensional vectors, "
                 f"{pooling_name(model) or 'custom'} pooling"
                 + (", L2-normalised" if normalized else "") + f", at most {model.max_seq_length} tokens.")
    parts += ["", "## Usage (sentence-transformers)", "",
              "```", "pip install -U sentence-transformers" + ("" if plain else " sentemb"), "```", "",
              "```python", "from sentence_transformers import SentenceTransformer", "",
              f'model = SentenceTransformer("{repo_id}")',
              'embeddings = model.encode(["first sentence", "second sentence"])',
              "print(model.similarity(embeddings, embeddings))", "```", ""]
    if not plain:
        parts += ["Some modules of this model come from sentemb (`" + "`, `".join(
            m["type"] for m in modules if not m["type"].startswith("sentence_transformers.")) + "`): "
                  "install sentemb as well.", ""]
    parts += ["## Architecture", "", "```", str(model), "```", ""]
    parts.append(benchmark_section(results, summary, command))
    if summary:
        parts.append("## " + ("Distillation" if distill else "Training") + "\n")
        card = model_dir / "README.md"
        if card.is_file():  # the card written by the training / distillation run: its sentemb section
            text = card.read_text(encoding="utf-8")
            body = sentemb_section(text)
            if body is not None:
                body = re.sub(r"\A## .*\n", "", body).strip()
            else:
                body = re.sub(r"\A# .*\n", "", _strip_front_matter(text)).strip()
                body = re.sub(r"^(#+) ", r"#\1 ", body, flags=re.M)
            parts.append(body + "\n")
        config = summary.get("config") or {k: summary.get(k) for k in ("teacher", "student", "hyper_parameters")}
        parts += ["Configuration:", "", "```yaml",
                  yaml.safe_dump(config, allow_unicode=True, sort_keys=False).rstrip(), "```", ""]
    return "\n".join(parts).rstrip() + "\n"


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
