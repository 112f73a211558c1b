"""sentemb's section of a trained model's card: data, objectives, hyper-parameters, dev curve, bootstrap table.

It is appended to sentence-transformers' own card (:func:`sentemb.model_card.write_model_card`), which
carries the datasets, losses with citations, training arguments, evaluator metrics and versions.
"""

from __future__ import annotations

from typing import Any

from sentemb.model_card import markdown_table
from sentemb.models.names import card_base_model
from sentemb.training.objectives import get_objective

_HYPER = ("epochs", "max_steps", "batch_size", "learning_rate", "warmup", "weight_decay", "gradient_accumulation",
          "lr_scheduler", "precision", "eval_steps", "select_best", "sampling")


SELECTION_MARK = "†"
SELECTION_NOTE = (f"{SELECTION_MARK} also an eval set during training (checkpoint selection): not a held-out "
                  "test result.")


def _results(rows: list[dict]) -> str:
    table = markdown_table(["dataset", "pairs", "Spearman x100", "95% CI"],
                   [[r["dataset"] + (f" {SELECTION_MARK}" if r.get("selection") else ""), r["n"],
                     f"{r['spearman']:.2f}", f"[{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]"] for r in rows])
    notes = [f"{r['dataset']}: {r['note']}" for r in rows if r.get("note")]
    if any(r.get("selection") for r in rows):
        notes.insert(0, SELECTION_NOTE)
    return table + "".join(f"\n\n{n}" for n in notes)


def card_section(summary: dict[str, Any]) -> str:
    """Markdown appended to the model card, from the run summary."""
    base = card_base_model(summary["base_model"])
    parts = ["## sentemb run", ""]
    parts.append(f"Fine-tuned from **{base}**"
                 f"{' with ' + summary['pooling'] + ' pooling' if summary.get('pooling') else ''}. "
                 "Load it with `sentence_transformers.SentenceTransformer(PATH)` or `sentemb.load(PATH)`.")
    parts.append("\n### Training\n")
    for st in summary["stages"]:
        if len(summary["stages"]) > 1:
            parts.append(f"#### Stage `{st['id']}`\n")
        rows = []
        for d in st["datasets"]:
            rows.append([d["id"], f"`{d['source']}`", d["task"], d["objective"], d["rows_used"],
                         d["skipped_bad_rows"]])
        parts.append(markdown_table(["dataset", "source", "task", "objective", "rows used", "bad rows skipped"], rows))
        parts.append("")
        seen = set()
        for d in st["datasets"]:
            if d["objective"] in seen:
                continue
            seen.add(d["objective"])
            obj = get_objective(d["objective"])
            opts = ", ".join(f"{k}={v}" for k, v in d["options"].items())
            parts.append(f"- `{obj.name}`: {obj.summary} (columns {', '.join(obj.columns)}; {obj.paper})"
                         + (f"; options: {opts}" if opts else ""))
            for note in d["notes"]:
                parts.append(f"  - {d['id']}: {note}")
        hp = st["hyper_parameters"]
        parts.append("")
        parts.append(markdown_table(["hyper-parameter", "value"], [[k, hp.get(k)] for k in _HYPER if hp.get(k) is not None]
                            + [["seed", summary["seed"]], ["steps", st["steps"]], ["processes", st["processes"]]]))
        if st.get("dev_curve"):
            sets = [k for k in st["dev_curve"][0] if k not in ("step", "epoch")]
            before = st.get("dev_before") or {}
            parts.append("\nDev Spearman x100 during training"
                         + (f" (before training: {before['mean']})" if before else "") + ":\n")
            parts.append(markdown_table(["step", "epoch", *sets], [[c["step"], c["epoch"], *(c[s] for s in sets)]
                                                           for c in st["dev_curve"]]))
            if st.get("best_checkpoint"):
                parts.append(f"\nKept the best dev checkpoint: `{st['best_checkpoint']}` (mean {st['best_dev']}).")
        if st.get("note"):
            parts.append(f"\nNote: {st['note']}.")
        parts.append(f"\nTraining time: {st['train_seconds']} s.\n")
    if summary.get("dev") or summary.get("test"):
        parts.append("\n### Evaluation (bootstrap)\n")
        parts.append(summary.get("metric", "") + ".\n")
        if summary.get("dev"):
            parts.append("Dev sets (used for checkpoint selection):\n")
            parts.append(_results(summary["dev"]) + "\n")
        if summary.get("test"):
            parts.append("Test sets:\n")
            parts.append(_results(summary["test"]) + "\n")
    if summary.get("command"):
        parts.append(f"\n### Reproduce\n\n```\n{summary['command']}\n```\n")
    return "\n".join(parts).rstrip() + "\n"
