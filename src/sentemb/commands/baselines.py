"""Baseline models: ``sentemb wordvec train|convert|oov`` (averaged word vectors) and ``sentemb whiten``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentemb.cli_app import DeviceOpt, app, console, out

wordvec_app = typer.Typer(
    help="Averaged word-vector baselines (jieba words for Chinese, whitespace words for English).",
    no_args_is_help=True,
)
app.add_typer(wordvec_app, name="wordvec")

DatasetsOpt = Annotated[str | None, typer.Option(
    help="Registered datasets whose sentences to use, comma-separated, e.g. csts-train,afqmc-train (labels unused).")]
DataDirOpt = Annotated[str | None, typer.Option(help="Benchmark data folder (default: $SENTEMB_DATA).")]
ColumnOpt = Annotated[str | None, typer.Option(help="Text column of a .jsonl/.csv/.tsv/.parquet corpus (default: text).")]
SegmenterOpt = Annotated[str, typer.Option(help="Word segmentation: jieba (Chinese, also mixed text) or whitespace (English).")]
OverwriteOpt = Annotated[bool, typer.Option(
    help="Replace the output folder even if it holds other files (by default only an empty folder or an earlier "
         "output of the same command is replaced).")]
BackoffOpt = Annotated[bool, typer.Option(
    "--char-backoff/--no-char-backoff", help="jieba: a word without a vector falls back to its characters' vectors.")]


def _warn(message: str) -> None:
    console.print(f"[yellow]warning:[/yellow] {message}", highlight=False)


@wordvec_app.command("train")
def wordvec_train(
    output: Annotated[Path, typer.Option("--output", "-o", help="Model folder to write (sentence-transformers format).")],
    corpus: Annotated[Path | None, typer.Argument(help="Training text: .txt with one sentence per line, or a column of .jsonl/.csv/.tsv/.parquet.")] = None,
    datasets: DatasetsOpt = None,
    data_dir: DataDirOpt = None,
    column: ColumnOpt = None,
    segmenter: SegmenterOpt = "jieba",
    dim: Annotated[int, typer.Option(help="Vector size.")] = 200,
    epochs: Annotated[int, typer.Option(help="Passes over the corpus.")] = 5,
    min_count: Annotated[int, typer.Option(help="Words seen fewer times get no vector.")] = 2,
    window: Annotated[int, typer.Option(help="Context window (words each side).")] = 5,
    sg: Annotated[bool, typer.Option("--sg/--cbow", help="Skip-gram instead of CBOW.")] = False,
    workers: Annotated[int, typer.Option(help="Training threads (1 for exactly reproducible vectors).")] = 2,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    sif: Annotated[bool, typer.Option("--sif/--no-sif", help="Weight words by a/(a+p(w)) (SIF) instead of a plain mean.")] = False,
    sif_a: Annotated[float, typer.Option(help="SIF parameter a.")] = 1e-3,
    char_backoff: BackoffOpt = True,
    overwrite: OverwriteOpt = False,
):
    """Train word2vec (gensim) on a corpus and save the averaged-word-vector sentence model.

    The corpus word frequencies are saved with the model (word_frequencies.tsv), for SIF weights.
    """
    from sentemb.models.wordvec_build import train_wordvec

    r = train_wordvec(output, corpus, datasets, data_dir, column=column, segmenter=segmenter, dim=dim, epochs=epochs,
                      min_count=min_count, window=window, sg=sg, workers=workers, seed=seed, sif=sif, sif_a=sif_a,
                      char_backoff=char_backoff, overwrite=overwrite, warn=_warn)
    console.print(f"trained word2vec on {r.fit.describe()}", highlight=False)
    i = r.info
    console.print(f"[green]saved[/green] {output}: {i['vocab']} words x {dim} dims from {i['tokens']} tokens "
                  f"({i['distinct_words']} distinct); {100 * i['corpus_oov_rate']:.2f}% of corpus tokens are "
                  f"below --min-count {min_count} and get no vector", highlight=False)


@wordvec_app.command("convert")
def wordvec_convert(
    vectors: Annotated[Path, typer.Argument(help="Word vectors: word2vec/fastText text (.txt, .vec, .gz; Tencent AI Lab format) or word2vec binary (.bin).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model folder to write.")],
    fmt: Annotated[str, typer.Option("--format", help="auto (by suffix: .bin is binary), text or binary.")] = "auto",
    segmenter: SegmenterOpt = "jieba",
    max_vocab: Annotated[int | None, typer.Option(help="Read only the first N words (files list frequent words first).")] = None,
    sif: Annotated[bool, typer.Option("--sif/--no-sif", help="SIF weights; word frequencies come from --sif-corpus/--sif-datasets.")] = False,
    sif_corpus: Annotated[Path | None, typer.Option(help="Text file to count word frequencies in, for --sif.")] = None,
    sif_datasets: DatasetsOpt = None,
    data_dir: DataDirOpt = None,
    sif_a: Annotated[float, typer.Option(help="SIF parameter a.")] = 1e-3,
    char_backoff: BackoffOpt = True,
    overwrite: OverwriteOpt = False,
):
    """Make an averaged-word-vector sentence model from a pretrained word-vector file."""
    from sentemb.models.wordvec_build import convert_wordvec

    r = convert_wordvec(vectors, output, fmt, segmenter=segmenter, max_vocab=max_vocab, sif=sif, sif_corpus=sif_corpus,
                        sif_datasets=sif_datasets, data_dir=data_dir, sif_a=sif_a, char_backoff=char_backoff,
                        overwrite=overwrite, warn=_warn)
    if r.fit is not None:
        console.print(f"word frequencies from {r.fit.describe()}", highlight=False)
    dup = r.info.get("duplicates_skipped")
    console.print(f"[green]saved[/green] {output}: {r.info['vocab']} words x {r.info['dim']} dims"
                  + (f" ({dup} duplicate/case-merged words skipped)" if dup else ""), highlight=False)


@wordvec_app.command("oov")
def wordvec_oov(
    model: Annotated[str, typer.Option("--model", "-m", help="Word-vector model folder.")],
    texts: Annotated[Path | None, typer.Argument(help="Texts to check (.txt one per line, or a column of .jsonl/.csv/.tsv/.parquet).")] = None,
    datasets: DatasetsOpt = None,
    data_dir: DataDirOpt = None,
    column: ColumnOpt = None,
    top: Annotated[int, typer.Option(help="Show the N most frequent missing words.")] = 10,
):
    """Report how many words of some texts (or of each dataset) have no vector in the model."""
    from sentemb.models import load
    from sentemb.models.fit_corpus import fitting_sentences, split_names
    from sentemb.models.wordvec import oov_stats

    m = load(model, device="cpu")
    groups = []
    if texts is not None:
        groups.append((str(texts), fitting_sentences(texts, column=column).sentences))
    for name in split_names(datasets):
        groups.append((name, fitting_sentences(None, name, data_dir).sentences))
    if not groups:
        from sentemb.errors import SentembError

        raise SentembError("give a texts file or --datasets")
    for name, sentences in groups:
        stats = oov_stats(m, sentences, top=top)
        out.print(f"{name}: {stats.summary()}", highlight=False, markup=False, soft_wrap=True)
        if stats.top_oov and top:
            out.print("  most frequent: " + ", ".join(f"{w} ({c})" for w, c in stats.top_oov), soft_wrap=True,
                      highlight=False, markup=False)


@app.command()
def whiten(
    model: Annotated[str, typer.Argument(help="Model folder, hub id or alias (word-vector models too).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Whitened model folder to write.")],
    corpus: Annotated[Path | None, typer.Option(help="Sentences to fit on: .txt one per line, or a column of .jsonl/.csv/.tsv/.parquet.")] = None,
    datasets: DatasetsOpt = None,
    data_dir: DataDirOpt = None,
    column: ColumnOpt = None,
    dim: Annotated[int | None, typer.Option(help="Output dims kept (default: all, no reduction).")] = None,
    max_sentences: Annotated[int | None, typer.Option(help="Fit on a random sample of at most N sentences.")] = None,
    normalize: Annotated[bool, typer.Option(
        "--normalize/--no-normalize", help="Append L2 normalisation after the whitening (dot product = cosine).")] = False,
    pooling: Annotated[str | None, typer.Option(help="Pooling for a plain transformer (default: the model's own / mean).")] = None,
    batch_size: Annotated[int, typer.Option(help="Texts per forward pass.")] = 64,
    seed: Annotated[int, typer.Option(help="Seed of the --max-sentences sample.")] = 0,
    device: DeviceOpt = None,
    overwrite: OverwriteOpt = False,
):
    """BERT-whitening: fit mean and whitening matrix on train/dev sentences, save the model with it appended.

    The whitening is a stock Dense layer (identity activation), so the output loads in plain
    sentence-transformers. It is fitted on the vectors before any final Normalize, which it replaces;
    --normalize puts a Normalize back after it. Fit on train/dev sentences: a test split is warned about.
    """
    from sentemb.models.whitening import whiten_to_folder

    r = whiten_to_folder(model, output, corpus=corpus, datasets=datasets, data_dir=data_dir, column=column, dim=dim,
                         max_sentences=max_sentences, normalize=normalize, pooling=pooling, batch_size=batch_size,
                         seed=seed, device=device, overwrite=overwrite, warn=_warn, show_progress=True)
    w, had_norm = r.whitening, r.had_normalize
    console.print(f"fitted whitening on {r.fit.describe()}", highlight=False)
    dropped = len(w.mean) - w.dim if dim is None else 0
    console.print(f"[green]saved[/green] {output}: {len(w.mean)} -> {w.dim} dims, "
                  f"{100 * w.kept_variance():.1f}% of the variance kept"
                  + (f"; {dropped} direction(s) without variance dropped" if dropped else "")
                  + ("; the model's final Normalize was replaced by the whitening" if had_norm and not normalize
                     else ""), highlight=False)
