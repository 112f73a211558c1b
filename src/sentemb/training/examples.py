"""Training examples: read a dataset as declared and check every row (labels as the task declares them).

Sources: a registry dataset (``sentemb.data.registry``), a local .tsv/.txt/.csv/.jsonl file, or a
Hugging Face Hub dataset (``datasets.load_dataset``). Labels are handled as declared, never guessed:

* ``graded``: a number inside ``label_range``;
* ``binary``: 0 or 1;
* ``nli``: one of ``label_names`` (default entailment, neutral, contradiction) or its index;
* ``pairs`` (two texts, no label) and ``triplets`` (anchor, positive, negative) carry no label;
* ``sentences``: one text per row (a .txt line, or a .jsonl/.csv/.tsv/.parquet column) for the
  unsupervised objectives; empty lines are skipped and counted.

A delimited row must have one field per role (or, with a header, the header's width): nothing beyond is
dropped unread. A bad row (missing or extra field, empty text, non-numeric / NaN / out-of-range / unknown
label) is an error naming file and line, or with ``skip_bad_rows`` a skip counted in the run summary.
:mod:`sentemb.training.data` converts examples to an objective's columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentemb.errors import InputError, SentembError
from sentemb.training.config import DEFAULT_NLI_LABELS, ROLES, SourceConfig

Values = list[Any]


@dataclass
class Examples:
    """Validated rows of one dataset: text columns and parsed labels."""

    source: str
    task: str
    texts: list[list[str]]  # one list per text column (2 for pair tasks, 3 for triplets)
    labels: list[float] | None
    label_range: tuple[float, float] | None = None
    label_names: tuple[str, ...] | None = None
    skipped: int = 0
    skip_reasons: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts[0])


# --- reading -----------------------------------------------------------------------------------------------------


def load_examples(cfg: SourceConfig, data_dir: str | None, base_dir: Path | None = None,
                  skip_bad_rows: bool = False) -> Examples:
    """Read and check the rows of one source as its task declares."""
    skip = cfg.skip_bad_rows if cfg.skip_bad_rows is not None else skip_bad_rows
    if cfg.dataset:
        ex = _registry_examples(cfg.dataset, data_dir, skip)
    else:
        roles = ROLES[cfg.task]
        names = tuple(cfg.label_names) if cfg.label_names else DEFAULT_NLI_LABELS
        if cfg.path:
            path = Path(cfg.path).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            if cfg.task == "sentences":
                source, rows = str(path), _sentence_rows(path, _columns(cfg.columns, roles, str(path)))
            else:
                source, rows = str(path), _file_rows(path, _columns(cfg.columns, roles, str(path)), roles)
        else:
            source, rows = _hub_rows(cfg, roles)
        ex = _collect(rows, source, cfg.task, cfg.label_range, names if cfg.task == "nli" else None, skip,
                      cfg.limit)
    if cfg.dataset and cfg.limit is not None and len(ex) > cfg.limit:
        ex.texts = [col[: cfg.limit] for col in ex.texts]
        ex.labels = ex.labels[: cfg.limit] if ex.labels is not None else None
    return ex


def _registry_examples(name: str, data_dir: str | None, skip: bool) -> Examples:
    from sentemb.data.registry import get_spec, load_pairs

    spec = get_spec(name)
    pairs = load_pairs(name, data_dir, skip_bad_rows=skip)
    return Examples(pairs.source, spec.task, [list(pairs.a), list(pairs.b)], list(pairs.labels),
                    spec.label_range, tuple(spec.label_names) if spec.label_names else None,
                    skipped=getattr(pairs, "skipped", 0))


def _columns(columns, roles: tuple[str, ...], where: str) -> list[str | int] | None:
    """The file column of each role, or None for the default (role names, or positions without a header)."""
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    if isinstance(columns, dict):
        unknown = sorted(set(columns) - set(roles))
        if unknown:
            raise SentembError(f"{where}: columns {unknown} are not roles of this task; roles: {', '.join(roles)}")
        missing = [r for r in roles if r not in columns]
        if missing:
            raise SentembError(f"{where}: columns name no field for {', '.join(missing)} "
                               f"(the task needs {', '.join(roles)})")
        columns = [columns[r] for r in roles]
    if len(columns) != len(roles):
        raise SentembError(f"{where}: {len(columns)} column(s) given; the task needs {len(roles)}: {', '.join(roles)}")
    return [int(c) if isinstance(c, str) and c.isdigit() else c for c in columns]


def _sentence_rows(path: Path, cols: list[str | int] | None) -> Iterator[tuple[int, Values]]:
    """One text per row: a .txt line, or one column of a .jsonl/.csv/.tsv/.parquet file."""
    from sentemb.data.texts import first_data_line, read_texts

    column = None if cols is None else str(cols[0])
    texts = read_texts(path, column)
    first = first_data_line(path)
    for i, t in enumerate(texts):
        yield first + i, [t]


def _file_rows(path: Path, cols: list[str | int] | None, roles: tuple[str, ...]) -> Iterator[tuple[int, Values]]:
    """Rows of a .tsv/.txt/.csv/.jsonl file by the shared pair-file parser: a header only when the first row
    names the columns (the given names, or the task's roles), never guessed."""
    from sentemb.data.pairs import pair_rows

    for line, values in pair_rows(path, cols, roles, guess_header=False):
        yield line, ValueError(values) if isinstance(values, str) else values


def _hub_rows(cfg: SourceConfig, roles: tuple[str, ...]) -> tuple[str, Iterator[tuple[int, Values]]]:
    """Rows of a Hub dataset split by the shared Hub reader; a ClassLabel column gives its label names."""
    from sentemb.data.hub import HubColumnsError, hub_split_rows

    source = cfg.describe()
    cols = _columns(cfg.columns, roles, source) or list(roles)
    label = cols[roles.index("label")] if "label" in roles else None
    try:
        rows = hub_split_rows(cfg.hf, cfg.hf_config, cfg.split, [str(c) for c in cols], label)
    except HubColumnsError as exc:
        raise SentembError(f"{source}: {exc} (map them with 'columns')") from None
    except Exception as exc:  # offline, unknown id, bad split: one clear line
        raise SentembError(f"{source}: could not load the Hub dataset ({type(exc).__name__}: {exc})") from None
    return source, rows


# --- checking --------------------------------------------------------------------------------------------------


def _collect(rows, source: str, task: str, label_range, label_names, skip: bool, limit: int | None) -> Examples:
    n_text = {"triplets": 3, "sentences": 1}.get(task, 2)
    texts: list[list[str]] = [[] for _ in range(n_text)]
    labels: list[float] | None = [] if task in ("graded", "binary", "nli") else None
    skipped, reasons = 0, []
    for line, values in rows:
        try:
            if isinstance(values, Exception):
                raise InputError(str(values), source, line)
            label = _check_row(values, n_text, task, label_range, label_names, source, line)
        except InputError as exc:
            empty_line = task == "sentences" and isinstance(values, list) and values and \
                isinstance(values[0], str) and not values[0].strip()
            if not (skip or empty_line):  # a corpus's empty lines are always a counted skip
                raise
            skipped += 1
            if len(reasons) < 5:
                reasons.append(str(exc))
            continue
        for col, v in zip(texts, values):
            col.append(v)
        if labels is not None:
            labels.append(label)
        if limit is not None and len(texts[0]) >= limit:
            break
    if not texts[0]:
        what = "no sentences" if task == "sentences" else "no usable rows"
        raise InputError(what + (f" ({skipped} bad or empty rows skipped)" if skipped else ""), source)
    return Examples(source, task, texts, labels, label_range, label_names, skipped, reasons)


def _check_row(values: Values, n_text: int, task: str, label_range, label_names, source: str, line: int):
    from sentemb.data.pairs import check_label

    for j in range(n_text):
        v = values[j] if j < len(values) else None
        if v is None:
            raise InputError(f"missing field {j + 1} (a text)", source, line)
        if not isinstance(v, str):
            raise InputError(f"field {j + 1} is not text: {v!r}", source, line)
        if not v.strip():
            raise InputError(f"empty text in field {j + 1}", source, line)
    if task in ("pairs", "triplets", "sentences"):
        return None
    y = values[n_text] if len(values) > n_text else None
    return check_label(y, task, source, line, label_range, label_names)
