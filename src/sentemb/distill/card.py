"""The model card of a distilled student: sentence-transformers' card with sentemb's distillation section.

sentence-transformers' card carries the MSE loss, training arguments, evaluator metrics and versions;
the appended section gives the student's layers and size, the corpus, the dev curve and the teacher vs
student table.
"""

from __future__ import annotations

from typing import Any

from sentemb.distill.corpus import sentences_line
from sentemb.model_card import markdown_table, write_model_card
from sentemb.models.names import card_base_model, hub_model_id

_HYPER = ("epochs", "max_steps", "batch_size", "learning_rate", "warmup", "weight_decay", "lr_scheduler",
          "sim_weight", "max_seq_length", "eval_steps", "select_best", "seed")


def student_line(summary: dict[str, Any]) -> str:
    s = summary["student"]
    if s["kind"] == "layers":
        return (f"{len(s['kept_layers'])} of the teacher's {s['teacher_layers']} transformer layers "
                f"(0-based {', '.join(map(str, s['kept_layers']))}; {s['selection']}), its embeddings and its "
                f"{', '.join(summary['modules'][1:])} modules")
    return f"`{s['model']}`" + (" with a trainable linear projection to the teacher's size" if s["projection"]
                                else "")


def results_table(rows: list[dict]) -> str:
    return markdown_table(["split", "dataset", "pairs", "teacher", "student", "gap"],
                          [[r["split"], r["dataset"], r["n"], f"{r['teacher']:.2f}", f"{r['student']:.2f}",
                            f"{r['gap']:+.2f}"] for r in rows])


def write_card(model, folder, summary: dict[str, Any]) -> None:
    """Write the student's README.md (see the module docstring)."""
    hub_id = hub_model_id(summary["teacher"])
    write_model_card(model, folder, card_section(summary), base_model=summary["teacher"],
                     title=f"{hub_id or summary['teacher']} distilled", tags=("distillation",))


def card_section(summary: dict[str, Any]) -> str:
    """sentemb's section of the student's card, from the run summary."""
    teacher = card_base_model(summary["teacher"])
    p = summary["parameters"]
    parts = ["## sentemb distillation", ""]
    parts.append(f"A smaller sentence-embedding model trained to reproduce the sentence vectors of **{teacher}**. "
                 f"Student: {student_line(summary)}. Parameters: {p['student'] / 1e6:.1f} M "
                 f"({100 * p['student'] / p['teacher']:.0f}% of the teacher's {p['teacher'] / 1e6:.1f} M). "
                 "Load it with `sentence_transformers.SentenceTransformer(PATH)` or `sentemb.load(PATH)`.")
    c = summary["corpus"]
    parts.append("\n### Training\n")
    parts.append(f"Corpus: {sentences_line(c)} from "
                 + "; ".join(f"`{s['source']}` {s['sentences']}" for s in c["sources"])
                 + f" ({c['duplicates_removed']} duplicates removed"
                 + (f", {c['blank_removed']} blank lines" if c["blank_removed"] else "")
                 + f"), SHA-256 `{c['sha256'][:16]}…`.")
    tv = summary["teacher_vectors"]
    parts.append(f"\nTeacher vectors: {tv['encoded']} sentences encoded, {tv['cached']} from sentemb's embedding cache.")
    tr = summary["training"]
    sim = summary["hyper_parameters"].get("sim_weight")
    parts.append("\nLoss: mean squared error to the teacher's vectors (sentence-transformers `MSELoss`)"
                 + (f" + {sim} x the mean squared difference of the in-batch cosine-similarity matrices" if sim else "")
                 + ".\n")
    hp = summary["hyper_parameters"]
    parts.append(markdown_table(["hyper-parameter", "value"],
                        [[k, hp[k]] for k in _HYPER if hp.get(k) is not None]
                        + [["steps", tr["steps"]], ["training time", f"{tr['train_seconds']} s"]]))
    if tr.get("dev_curve"):
        sets = [k for k in tr["dev_curve"][0] if k not in ("step", "epoch")]
        before = tr.get("dev_before") or {}
        parts.append("\nDev Spearman x100 during training"
                     + (f" (student before training: {before['mean']})" if before else "") + ":\n")
        parts.append(markdown_table(["step", "epoch", *sets],
                            [[r["step"], r["epoch"], *(r[s] for s in sets)] for r in tr["dev_curve"]]))
        if tr.get("best_checkpoint"):
            parts.append(f"\nKept the best dev checkpoint: `{tr['best_checkpoint']}` (mean {tr['best_dev']}).")
    if summary.get("results"):
        parts.append("\n### Teacher vs student\n")
        parts.append(summary["metric"] + "; gap = student - teacher.\n")
        parts.append(results_table(summary["results"]))
    if summary.get("command"):
        parts.append(f"\nReproduce: `{summary['command']}`")
    return "\n".join(parts) + "\n"
