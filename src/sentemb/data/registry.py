"""The benchmark dataset registry: every dataset split is one declarative entry, read by a named reader.

``DATASETS`` maps a name (``<family>-<split>``, e.g. ``lcqmc-test``) to a frozen ``DatasetSpec``: language,
task (``graded`` scores, ``binary`` 0/1 labels, or 3-way ``nli``), the file(s) relative to the data folder,
the reader for their format, the label range, the row count recorded in the data folder's SOURCES.md,
a one-line provenance, and optionally the same split on the Hugging Face Hub.

``SUITES`` groups names for ``sentemb eval --suite``. ``zh`` is the seed benchmark table in its column
order (csts_dev, csts_test, afqmc, lcqmc, bq, pawsx, xiaobu), which mixes dev and test splits.
``suites_for_split(suite, split)`` swaps every member for the same dataset's ``dev`` or ``test`` split:
members whose dataset has no labelled split of that kind are left out (``split_gaps`` names them),
and duplicates collapse, order kept. Examples: ``("zh", "test")`` -> csts-test, lcqmc-test, bq-test,
pawsx-test (AFQMC and OPPO xiaobu publish no labelled test set); ``("zh", "dev")`` -> csts-dev,
afqmc-dev, lcqmc-dev, bq-dev, pawsx-dev, xiaobu-dev; ``("en", "test")`` -> stsb-test.

``load_pairs`` reads the local file when the data folder (``--data-dir`` / ``SENTEMB_DATA``) has it,
otherwise the Hub copy unless ``HF_HUB_OFFLINE`` is set; every label is checked, and a malformed row
is an error naming file and line, or with ``skip_bad_rows=True`` a counted skip (``Pairs.skipped``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sentemb.data.hub import HubSource, hub_offline, hub_rows
from sentemb.data.location import DATA_ENV, locate_data_dir
from sentemb.data.pairs import Pairs, check_label
from sentemb.data.readers import BadRow, Row, get_reader
from sentemb.errors import InputError, SentembError, unknown_name

TASKS = ("graded", "binary", "nli")
SPLITS = ("dev", "test")
NLI_LABELS = ("entailment", "neutral", "contradiction")


@dataclass(frozen=True)
class DatasetSpec:
    """One split of one benchmark dataset (data, not code)."""

    name: str
    family: str  # the dataset without its split: "lcqmc" for lcqmc-dev and lcqmc-test
    language: str  # "zh" | "en"
    task: str  # "graded" | "binary" | "nli"
    split: str  # "train" | "dev" | "test"
    files: tuple[str, ...]  # relative to the data folder
    reader: str  # a name in sentemb.data.readers.READERS
    label_range: tuple[float, float] | None  # None for nli
    expected_rows: int  # as recorded in SOURCES.md
    source: str  # one-line provenance
    hub: HubSource | None = None
    label_names: tuple[str, ...] | None = None  # nli: label i is label_names[i]

    @property
    def path(self) -> str:
        """The (first) file, relative to the data folder."""
        return self.files[0]


_CSTS = "Chinese STS-B (CNSD, translated STSbenchmark); shuxinyin/SimCSE-Pytorch data/STS-B/cnsd-sts-{}.txt"
_CSTS_REPO = "zejunwang1/CSTS"
_STSB = "STS Benchmark (Cer et al., 2017), official sts-{}.csv; via oborchers/Fast_Sentence_Embeddings evaluation/"


def _binary(family, split, file, reader, rows, source, hub=None):
    return DatasetSpec(f"{family}-{split}", family, "zh", "binary", split, (file,), reader, (0.0, 1.0), rows,
                       source, hub)


def _cmteb(repo, split):
    return HubSource(f"C-MTEB/{repo}", split)


def _nli(family, split, file, rows, source, hub=None):
    return DatasetSpec(f"{family}-{split}", family, "zh", "nli", split, (file,), "tsv", None, rows, source, hub,
                       NLI_LABELS)


_ENTRIES = [
    *(DatasetSpec(f"csts-{s}", "csts", "zh", "graded", s, (f"chinese-sts-b/cnsd-sts-{s}.txt",), "cnsd", (0.0, 5.0),
                  n, _CSTS.format(s), _cmteb("STSB", hs))
      for s, n, hs in (("train", 5231, "train"), ("dev", 1458, "validation"), ("test", 1361, "test"))),
    _binary("afqmc", "train", "afqmc/train.txt", "tsv", 34334,
            f"AFQMC (CLUE, Ant Financial question matching); {_CSTS_REPO} AFQMC/train.txt", _cmteb("AFQMC", "train")),
    _binary("afqmc", "dev", "afqmc/dev.json", "clue-jsonl", 4316,
            "AFQMC (CLUE) public dev; jsksxs360/How-to-use-Transformers data/afqmc_public/dev.json",
            _cmteb("AFQMC", "validation")),
    _binary("lcqmc", "dev", "lcqmc/LCQMC.valid.data", "tsv", 8802,
            "LCQMC (Liu et al., COLING 2018); shawroad/CoSENT_Pytorch data/LCQMC/LCQMC.valid.data",
            _cmteb("LCQMC", "validation")),
    _binary("lcqmc", "test", "lcqmc/LCQMC.test.data", "tsv", 12500,
            "LCQMC (Liu et al., COLING 2018); shawroad/CoSENT_Pytorch data/LCQMC/LCQMC.test.data",
            _cmteb("LCQMC", "test")),
    _binary("bq", "dev", "bq/dev.csv", "csv-header", 10000,
            "BQ corpus (Chen et al., EMNLP 2018), original release; IceFlameWorm/NLP_Datasets BQ_corpus/dev.csv",
            _cmteb("BQ", "validation")),
    _binary("bq", "test", "bq/test.csv", "csv-header", 10000,
            "BQ corpus (Chen et al., EMNLP 2018), original release; IceFlameWorm/NLP_Datasets BQ_corpus/test.csv",
            _cmteb("BQ", "test")),
    _binary("pawsx", "dev", "pawsx-zh/dev_2k.tsv", "tsv-header", 2000,
            f"PAWS-X zh (Yang et al., EMNLP 2019), original layout; {_CSTS_REPO} PAWS-X/dev_2k.tsv",
            _cmteb("PAWSX", "validation")),
    _binary("pawsx", "test", "pawsx-zh/test_2k.tsv", "tsv-header", 2000,
            f"PAWS-X zh (Yang et al., EMNLP 2019), original layout; {_CSTS_REPO} PAWS-X/test_2k.tsv",
            _cmteb("PAWSX", "test")),
    _binary("xiaobu", "dev", "oppo-xiaobu/dev.txt", "tsv", 10000,
            f"OPPO xiaobu dialogue short-text matching, plain-text dev; {_CSTS_REPO} OPPO-xiaobu/dev.txt"),
    _binary("atec", "dev", "atec/ATEC.valid.data", "tsv", 20000,
            "ATEC 2018 NLP competition, CoSENT/C-MTEB split; shawroad/CoSENT_Pytorch data/ATEC/ATEC.valid.data",
            _cmteb("ATEC", "validation")),
    _binary("atec", "test", "atec/ATEC.test.data", "tsv", 20000,
            "ATEC 2018 NLP competition, CoSENT/C-MTEB split; shawroad/CoSENT_Pytorch data/ATEC/ATEC.test.data",
            _cmteb("ATEC", "test")),
    *(DatasetSpec(f"stsb-{s}", "stsb", "en", "graded", s, (f"stsbenchmark-en/sts-{s}.csv",), "stsbenchmark",
                  (0.0, 5.0), n, _STSB.format(s),
                  HubSource("sentence-transformers/stsb", hs, label_scale=5.0))
      for s, n, hs in (("train", 5749, "train"), ("dev", 1500, "validation"), ("test", 1379, "test"))),
    _nli("cnsd-snli", "dev", "chinese-snli/dev.txt", 9314,
         f"CNSD Chinese-SNLI (translated SNLI) dev, '-' labels removed; {_CSTS_REPO} Chinese-SNLI/dev.txt"),
    _nli("cnsd-snli", "test", "chinese-snli/test.txt", 9176,
         f"CNSD Chinese-SNLI (translated SNLI) test, '-' labels removed; {_CSTS_REPO} Chinese-SNLI/test.txt"),
    _nli("cmnli", "dev", "chinese-mnli/dev.txt", 12241, f"CMNLI (CLUE) dev; {_CSTS_REPO} Chinese-MNLI/dev.txt",
         HubSource("clue/clue", "validation", "cmnli", ("sentence1", "sentence2", "label"))),
    _nli("ocnli", "dev", "ocnli/dev.txt", 2950, f"OCNLI (CLUE) dev, unlabelled rows removed; {_CSTS_REPO} OCNLI/dev.txt",
         HubSource("clue/clue", "validation", "ocnli", ("sentence1", "sentence2", "label"), drop_unlabelled=True)),
]

DATASETS: dict[str, DatasetSpec] = {s.name: s for s in _ENTRIES}
_BY_FAMILY = {(s.family, s.split): s.name for s in _ENTRIES}

SUITES: dict[str, list[str]] = {
    "zh": ["csts-dev", "csts-test", "afqmc-dev", "lcqmc-dev", "bq-dev", "pawsx-dev", "xiaobu-dev"],
    "zh-test": ["csts-test", "lcqmc-test", "bq-test", "pawsx-test", "atec-test"],
    "en": ["stsb-dev", "stsb-test"],
}

# Column headers of the seed benchmark table, for reports in its layout.
SEED_COLUMNS: dict[str, str] = {
    "csts-dev": "csts_dev", "csts-test": "csts_test", "afqmc-dev": "afqmc", "lcqmc-dev": "lcqmc",
    "bq-dev": "bq", "pawsx-dev": "pawsx", "xiaobu-dev": "xiaobu",
}


def get_spec(name: str) -> DatasetSpec:
    """The registry entry for ``name``; an unknown name lists the valid ones."""
    if name not in DATASETS:
        raise unknown_name("dataset", name, DATASETS)
    return DATASETS[name]


def _suite(suite: str) -> list[str]:
    if suite not in SUITES:
        raise unknown_name("suite", suite, SUITES)
    return SUITES[suite]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise unknown_name("split", split, SPLITS)


def suites_for_split(suite: str, split: str | None = None) -> list[str]:
    """Members of ``suite``, each swapped for its dataset's ``split`` ("dev"/"test"); None: as defined."""
    members = _suite(suite)
    if split is None:
        return list(members)
    _check_split(split)
    out: list[str] = []
    for name in members:
        cand = _BY_FAMILY.get((DATASETS[name].family, split))
        if cand is not None and cand not in out:
            out.append(cand)
    return out


def split_gaps(suite: str, split: str) -> list[str]:
    """Members of ``suite`` whose dataset has no labelled ``split`` (left out by ``suites_for_split``)."""
    _check_split(split)
    return [n for n in _suite(suite) if (DATASETS[n].family, split) not in _BY_FAMILY]


def resolve_data_dir(data_dir: str | Path | None) -> Path | None:
    """The benchmark data folder: the argument, else ``$SENTEMB_DATA``, else None (:func:`locate_data_dir`)."""
    return locate_data_dir(data_dir)


def local_files(spec: DatasetSpec, data_dir: str | Path | None) -> list[Path] | None:
    """The dataset's files under the data folder, or None when the folder is unset or lacks one."""
    root = resolve_data_dir(data_dir)
    if root is None:
        return None
    paths = [root / f for f in spec.files]
    return paths if all(p.is_file() for p in paths) else None


def is_available(name: str, data_dir: str | Path | None) -> bool:
    """Whether the data folder holds the dataset's file(s)."""
    return local_files(get_spec(name), data_dir) is not None


def _missing_message(spec: DatasetSpec, root: Path | None, hub_note: str) -> str:
    files = ", ".join(spec.files)
    where = (f"not found under the data folder {root} (expected {', '.join(str(root / f) for f in spec.files)})"
             if root is not None else "no data folder is set")
    return (f"dataset {spec.name!r}: {where}. It is read from {files} under the benchmark data folder: "
            f"pass --data-dir DIR or set {DATA_ENV}=DIR. {hub_note}")


def load_pairs(name: str, data_dir: str | Path | None = None, skip_bad_rows: bool = False) -> Pairs:
    """The labelled pairs of a registered dataset (local file first, then the Hub when online).

    Labels are floats: scores for graded sets, 0/1 for binary sets, and for nli sets the index in
    ``spec.label_names`` (0 entailment, 1 neutral, 2 contradiction).
    """
    spec = get_spec(name)
    root = resolve_data_dir(data_dir)
    paths = local_files(spec, root)
    if paths is not None:
        reader = get_reader(spec.reader)
        return _collect(spec, [(str(p), reader(p)) for p in paths], skip_bad_rows, " + ".join(map(str, paths)))
    if spec.hub is None:
        raise SentembError(_missing_message(spec, root, "No Hub copy is registered for this dataset."))
    if hub_offline():
        raise SentembError(_missing_message(
            spec, root, f"HF_HUB_OFFLINE is set, so its Hub copy ({spec.hub.uri}) was not tried."))
    try:
        rows, dropped = hub_rows(spec.hub)
    except SentembError:
        raise
    except Exception as exc:  # network, missing repo, changed layout: say what failed and how to avoid it
        raise SentembError(_missing_message(
            spec, root, f"Reading its Hub copy {spec.hub.uri} failed: {type(exc).__name__}: {exc}")) from None
    pairs = _collect(spec, [(spec.hub.uri, rows)], skip_bad_rows, spec.hub.uri)
    read = len(pairs) + pairs.skipped  # rows of the split (bad rows skipped on request included)
    if read != spec.expected_rows:
        raise SentembError(
            f"dataset {spec.name!r}: its Hub copy {spec.hub.uri} has {read} rows"
            + (f" (plus {dropped} unlabelled)" if dropped else "")
            + f", the registered split has {spec.expected_rows}; scores on it would not be comparable with "
            f"published ones. Put {', '.join(spec.files)} under the data folder (--data-dir or {DATA_ENV})")
    pairs.skipped += dropped
    return pairs


def _collect(spec: DatasetSpec, sources: list[tuple[str, Iterator[Row | BadRow]]], skip: bool,
             source: str) -> Pairs:
    a: list[str] = []
    b: list[str] = []
    labels: list[float] = []
    skipped = 0
    for path, rows in sources:
        for row in rows:
            try:
                if isinstance(row, BadRow):
                    raise InputError(row.reason, path, row.line)
                labels.append(_label(spec, row, path))
            except InputError:
                if not skip:
                    raise
                skipped += 1
                continue
            a.append(row.a)
            b.append(row.b)
    if not a:
        raise InputError(f"no pairs read for dataset {spec.name!r}" + (f" ({skipped} bad rows skipped)" if skipped
                                                                       else ""), source)
    return Pairs(a, b, labels, source, skipped=skipped)


def _label(spec: DatasetSpec, row: Row, path: str) -> float:
    """Check the row's texts and return its parsed label (raises InputError naming file and line)."""
    if not row.a.strip() or not row.b.strip():
        raise InputError("empty sentence", path, row.line)
    return check_label(row.label, spec.task, path, row.line, spec.label_range, spec.label_names)


def load_sentences(names: Iterable[str] | str, data_dir: str | Path | None = None,
                   skip_bad_rows: bool = False) -> list[str]:
    """Unique sentences (both sides, first-seen order) of the named datasets; labels are ignored."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    seen: dict[str, None] = {}
    for name in names:
        p = load_pairs(name, data_dir, skip_bad_rows=skip_bad_rows)
        for x, y in zip(p.a, p.b):
            seen.setdefault(x, None)
            seen.setdefault(y, None)
    return list(seen)
