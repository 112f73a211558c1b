"""Use embeddings: ``sentemb index build|add|delete|info``, ``search``, ``match``, ``calibrate``, ``mine``, ``cluster``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sentemb.cli_app import app, console, out
from sentemb.errors import SentembError

index_app = typer.Typer(help="Build and change a semantic-search index (faiss embedded, or Milvus).",
                        no_args_is_help=True)
app.add_typer(index_app, name="index")

CorpusArg = Annotated[Path, typer.Argument(
    help="Texts (.txt one per line, .jsonl/.csv/.tsv/.parquet with a text column) or a folder from `sentemb encode`.")]
OptModel = Annotated[str | None, typer.Option("--model", "-m", help="Model folder, hub id or alias "
                                              "(not needed for an encoded folder, which names its model).")]
ColumnOpt = Annotated[str | None, typer.Option(help="Text column/field (default: text).")]
IdColumnOpt = Annotated[str | None, typer.Option(help="Id column/field (default: 'id' when every row has one, "
                                                 "else row numbers).")]
UriOpt = Annotated[str | None, typer.Option(help="Milvus server URI, e.g. http://host:19530 "
                                            "(default: Milvus Lite in DIR/milvus.db).")]
TokenOpt = Annotated[str | None, typer.Option(help="Milvus token (user:password or API key); never stored.")]
TimeoutOpt = Annotated[float, typer.Option(help="Seconds to wait for a Milvus server before giving up.")]
BatchOpt = Annotated[int, typer.Option(help="Texts per forward pass.")]


def _echo_truncated(n: int, what: str, model) -> None:
    if n:
        console.print(f"[yellow]{n} {what} longer than {getattr(model, 'max_seq_length', '?')} tokens "
                      "were truncated[/yellow]")


@index_app.command("build")
def index_build(
    corpus: CorpusArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Index folder to create.")],
    model: OptModel = None,
    index: Annotated[str, typer.Option(help="flat (exact), hnsw or ivf (approximate).")] = "flat",
    precision: Annotated[str, typer.Option(help="float32, int8 or binary (quantised, top candidates rescored).")]
    = "float32",
    backend: Annotated[str, typer.Option(help="faiss (embedded files) or milvus.")] = "faiss",
    uri: UriOpt = None,
    collection: Annotated[str | None, typer.Option(help="Milvus collection (default: sentemb).")] = None,
    token: TokenOpt = None,
    query_prompt: Annotated[str | None, typer.Option(help="Text put before every query, e.g. 'query: '.")] = None,
    query_prompt_name: Annotated[str | None, typer.Option(help="Name of one of the model's own prompts "
                                                          "to put before every query.")] = None,
    column: ColumnOpt = None,
    id_column: IdColumnOpt = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing index at --output.")] = False,
    batch_size: BatchOpt = 32,
    timeout: TimeoutOpt = 10.0,
):
    """Encode a corpus and build a search index folder (manifest, vectors, ids, texts, metadata)."""
    from sentemb.progress import make_progress
    from sentemb.search.index import build_index
    from sentemb.search.inputs import read_input

    src = read_input(corpus, model, column, id_column)
    with make_progress(console) as progress:
        idx = build_index(src.records, src.model, output, index=index, precision=precision, backend=backend,
                          uri=uri, collection=collection, token=token, query_prompt=query_prompt,
                          query_prompt_name=query_prompt_name, batch_size=batch_size, overwrite=overwrite,
                          vectors=src.vectors, load_options=src.load_options, timeout=timeout, progress=progress)
    m = idx.manifest
    console.print(f"[green]indexed {m['rows']} rows[/green] -> {output} ({m['backend']}, {m['index']}, "
                  f"{m['precision']}, dim {m['dimension']}, model {m['model']})")
    _echo_truncated(m.get("truncated_at_build", 0), "text(s)", idx.model if src.vectors is None else None)


@index_app.command("add")
def index_add(
    index_dir: Annotated[Path, typer.Argument(help="Index folder.")],
    corpus: CorpusArg,
    column: ColumnOpt = None,
    id_column: IdColumnOpt = None,
    replace: Annotated[bool, typer.Option(help="Replace rows whose id is already in the index "
                                          "(default: refuse them).")] = False,
    uri: UriOpt = None,
    token: TokenOpt = None,
    batch_size: BatchOpt = 32,
    timeout: TimeoutOpt = 10.0,
):
    """Add the rows of another corpus file (or encoded folder of the same model) to an index."""
    from sentemb.search.index import open_index
    from sentemb.search.inputs import read_input

    idx = open_index(index_dir, uri=uri, token=token, timeout=timeout)
    src = read_input(corpus, idx.manifest["model"] if Path(corpus).is_dir() else None, column, id_column,
                     start_id=idx.next_id(), need_model=False)
    from sentemb.progress import make_progress

    with make_progress(console) as progress:
        n = idx.add(src.records, replace=replace, batch_size=batch_size, vectors=src.vectors, progress=progress)
    console.print(f"[green]added {n} rows[/green] -> {index_dir} ({len(idx)} rows in all)")
    _echo_truncated(idx.last_truncated, "text(s)", idx.model if src.vectors is None else None)


@index_app.command("delete")
def index_delete(
    index_dir: Annotated[Path, typer.Argument(help="Index folder.")],
    ids: Annotated[list[str] | None, typer.Option("--ids", help="Ids to delete (repeat, or comma-separated).")] = None,
    ids_file: Annotated[Path | None, typer.Option(help="A file of ids to delete, one per line.")] = None,
    uri: UriOpt = None,
    token: TokenOpt = None,
    timeout: TimeoutOpt = 10.0,
):
    """Delete rows by id; ids not in the index are reported, not an error."""
    from sentemb.search.index import open_index

    wanted = [i.strip() for item in (ids or []) for i in item.split(",") if i.strip()]
    if ids_file is not None:
        from sentemb.data.texts import read_texts

        wanted += [i.strip() for i in read_texts(ids_file) if i.strip()]
    if not wanted:
        raise SentembError("give the ids to delete: --ids ID[,ID...] or --ids-file FILE")
    idx = open_index(index_dir, uri=uri, token=token, timeout=timeout)
    deleted, missing = idx.delete(wanted)
    console.print(f"[green]deleted {deleted} rows[/green] from {index_dir} ({len(idx)} rows left)")
    if missing:
        console.print(f"[yellow]{len(missing)} id(s) not in the index: {', '.join(missing[:10])}"
                      f"{' ...' if len(missing) > 10 else ''}[/yellow]")


@index_app.command("info")
def index_info(index_dir: Annotated[Path, typer.Argument(help="Index folder.")]):
    """Print an index's manifest (model, pooling, dimension, precision, rows, query prompt)."""
    from sentemb.search.manifest import read_index_manifest

    out.print_json(json.dumps(read_index_manifest(index_dir), ensure_ascii=False))


def _queries(queries: list[str] | None, queries_file: Path | None, column: str | None) -> list[str]:
    qs = list(queries or [])
    if queries_file is not None:
        from sentemb.data.texts import check_not_empty, first_data_line, read_texts

        more = read_texts(queries_file, column)
        check_not_empty(more, queries_file, first_data_line(queries_file))
        qs += more
    if not qs:
        raise SentembError("give one or more queries, or --queries FILE")
    return qs


@app.command()
def search(
    index_dir: Annotated[Path, typer.Argument(help="Index folder from `sentemb index build`.")],
    query: Annotated[list[str] | None, typer.Argument(help="Query text(s).")] = None,
    k: Annotated[int, typer.Option("-k", "--top-k", help="Results per query (at most the index's rows).")] = 10,
    queries: Annotated[Path | None, typer.Option("--queries", help="A file of queries (any corpus format).")] = None,
    column: ColumnOpt = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Check that the index was built with this "
                                              "model (default: use the index's own model).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON lines: one object per query.")] = False,
    rescore_multiplier: Annotated[int | None, typer.Option(help="int8/binary: candidates per result rescored "
                                                           "(default 4).")] = None,
    ef_search: Annotated[int | None, typer.Option(help="hnsw: search breadth (default 64).")] = None,
    nprobe: Annotated[int | None, typer.Option(help="ivf: lists searched (default 16).")] = None,
    uri: UriOpt = None,
    token: TokenOpt = None,
    timeout: TimeoutOpt = 10.0,
    batch_size: BatchOpt = 32,
):
    """Search an index with one or more queries; prints rank, score, id and text of the top-k rows."""
    from sentemb.search.index import open_index

    qs = _queries(query, queries, column)
    idx = open_index(index_dir, model_name=model, uri=uri, token=token, timeout=timeout)
    params = {k_: v for k_, v in (("rescore_multiplier", rescore_multiplier), ("ef_search", ef_search),
                                  ("nprobe", nprobe)) if v is not None}
    results = idx.search(qs, k=k, batch_size=batch_size, **params)
    for q, hits in zip(qs, results):
        if json_out:
            typer.echo(json.dumps({"query": q, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False))
            continue
        if len(qs) > 1:
            typer.echo(f"# {q}")
        for h in hits:
            typer.echo(f"{h.rank}\t{h.score:.4f}\t{h.id}\t{h.text}")
    if k > len(idx):
        console.print(f"[yellow]k={k} is larger than the index ({len(idx)} rows): every row is returned[/yellow]")
    _echo_truncated(idx.last_truncated, "query(ies)", idx.model)


def _ci(m: dict, key: str) -> str:
    lo, hi = m.get("ci95", {}).get(key, (None, None))
    return f"{100 * m[key]:.1f}" + (f" [{100 * lo:.1f}, {100 * hi:.1f}]" if lo is not None else "")


@app.command()
def calibrate(
    model: Annotated[str, typer.Argument(help="Model folder, hub id or alias.")],
    datasets: Annotated[str | None, typer.Option(help="Labelled binary pair sets to fit on, comma-separated "
                                                 "(dev splits, e.g. lcqmc-dev).")] = None,
    pairs: Annotated[list[Path] | None, typer.Option(help="A file of labelled pairs (.tsv/.csv/.jsonl, label 0/1). "
                                                     "Repeatable.")] = None,
    columns: Annotated[str | None, typer.Option(help="Pair columns of --pairs, e.g. 'q1,q2,label'.")] = None,
    test_datasets: Annotated[str | None, typer.Option(help="Also report the dev threshold on these sets "
                                                      "(e.g. lcqmc-test).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write the calibration: a model "
                                                "folder or a .json file (default: the model's own folder).")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the fit and test figures as JSON.")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the confidence intervals.")] = 1000,
    data_dir: Annotated[str | None, typer.Option(help="Benchmark data folder (default: $SENTEMB_DATA).")] = None,
    batch_size: BatchOpt = 32,
):
    """Fit match thresholds (F1- and accuracy-optimal) and a cosine -> probability map on labelled pairs,
    and store them with the model (``sentemb_calibration.json``)."""
    from rich.table import Table

    from sentemb.models import load
    from sentemb.models.fit_corpus import split_names
    from sentemb.models.loading import resolve_model_path
    from sentemb.search.calibration import calibrate as fit
    from sentemb.search.calibration import evaluate_calibration, labelled_scores, save_calibration

    target = output
    if target is None:
        folder = Path(resolve_model_path(model))
        if not folder.is_dir() or "site-packages" in str(folder.resolve()):
            raise SentembError(f"{model} is not a model folder of yours to write into; give -o DIR_OR_FILE.json")
        target = folder
    names = split_names(datasets)
    tests = split_names(test_datasets)
    enc = load(model)
    with console.status("encoding the pairs and fitting"):
        cal = fit(model, names, pairs, columns, data_dir, encoder=enc, batch_size=batch_size, n_boot=bootstrap)
    path = save_calibration(cal, target)
    fit_m = cal.metrics["at_threshold"]
    table = Table(title=f"calibration of {model} on {', '.join(cal.datasets)} (n={cal.metrics['n']})")
    for col in ("set", "threshold", "precision", "recall", "F1", "accuracy"):
        table.add_column(col)
    table.add_row("fit (F1-optimal)", f"{cal.threshold:.4f}", _ci(fit_m, "precision"), _ci(fit_m, "recall"),
                  _ci(fit_m, "f1"), _ci(fit_m, "accuracy"))
    acc_m = cal.metrics["at_threshold_accuracy"]
    table.add_row("fit (accuracy-optimal)", f"{cal.threshold_accuracy:.4f}", _ci(acc_m, "precision"),
                  _ci(acc_m, "recall"), _ci(acc_m, "f1"), _ci(acc_m, "accuracy"))
    results = {"model": model, "calibration": str(path), "fit": cal.to_dict(), "test": {}}
    for name in tests:
        s, y, _ = labelled_scores(enc, [name], data_dir=data_dir, batch_size=batch_size)
        m = evaluate_calibration(cal, s, y, n_boot=bootstrap)
        results["test"][name] = m
        table.add_row(name, f"{cal.threshold:.4f}", _ci(m, "precision"), _ci(m, "recall"), _ci(m, "f1"),
                      _ci(m, "accuracy"))
    out.print(table)
    if json_path is not None:
        from sentemb.atomic import write_text

        write_text(json_path, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    console.print(f"[green]calibration written[/green] -> {path}")


@app.command()
def match(
    index_dir: Annotated[Path, typer.Argument(help="Index folder (e.g. of FAQ questions).")],
    query: Annotated[list[str] | None, typer.Argument(help="Query text(s).")] = None,
    queries: Annotated[Path | None, typer.Option("--queries", help="A file of queries (any corpus format).")] = None,
    column: ColumnOpt = None,
    calibration: Annotated[Path | None, typer.Option(help="A calibration .json or model folder "
                                                     "(default: the index model's own).")] = None,
    threshold: Annotated[float | None, typer.Option(help="Fixed cosine threshold instead of the calibrated one.")]
    = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON lines, one per query.")] = False,
    uri: UriOpt = None,
    token: TokenOpt = None,
    timeout: TimeoutOpt = 10.0,
    batch_size: BatchOpt = 32,
):
    """Best hit of each query in an index, with its match probability and is_match (calibrated threshold)."""
    from sentemb.search.calibration import load_calibration
    from sentemb.search.index import open_index
    from sentemb.search.matching import match_queries

    qs = _queries(query, queries, column)
    idx = open_index(index_dir, uri=uri, token=token, timeout=timeout)
    cal = load_calibration(calibration) if calibration is not None else None
    if calibration is not None and cal is None:
        raise SentembError(f"no calibration in {calibration} (sentemb_calibration.json)")
    for m in match_queries(idx, qs, calibration=cal, threshold=threshold, batch_size=batch_size):
        if json_out:
            typer.echo(json.dumps(m.to_dict(), ensure_ascii=False))
        else:
            prob = "-" if m.probability is None else f"{m.probability:.3f}"
            typer.echo(f"{m.query}\t{m.id}\t{m.score:.4f}\t{prob}\t{'match' if m.is_match else 'no-match'}\t{m.text}")


def _encoded_or_texts(corpus: Path, model: str | None, column: str | None, allow_empty: bool = False):
    """(input, encoder or None): an encoded folder needs no encoder."""
    from sentemb.search.inputs import read_input

    src = read_input(corpus, model, column, None, allow_empty=allow_empty)
    if src.vectors is not None:
        return src, None
    from sentemb.models import load

    return src, load(src.model, **src.load_options)


@app.command()
def mine(
    corpus: CorpusArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Ranked pairs (.tsv: score, id1, id2, text1, text2).")],
    model: OptModel = None,
    threshold: Annotated[float | None, typer.Option(help="Keep pairs with cosine >= this.")] = None,
    calibrated: Annotated[bool, typer.Option(help="Use the model's calibrated match threshold "
                                             "(`sentemb calibrate`).")] = False,
    top_k: Annotated[int, typer.Option(help="Neighbours kept per text; raise it when texts have many near "
                                       "duplicates.")] = 10,
    max_pairs: Annotated[int | None, typer.Option(help="Keep at most this many pairs (default: texts x top-k).")]
    = None,
    duplicates: Annotated[Path | None, typer.Option(help="Exact duplicates (.tsv: id, duplicate_of, text); "
                                                    "default: beside --output as NAME.exact.tsv.")] = None,
    column: ColumnOpt = None,
    batch_size: BatchOpt = 32,
):
    """Find paraphrase / near-duplicate pairs, most similar first; identical texts are reported apart."""
    from sentemb.search.mining import mine as run_mine
    from sentemb.search.mining import write_duplicates, write_pairs

    if calibrated and threshold is not None:
        raise SentembError("give --threshold or --calibrated, not both")
    src, enc = _encoded_or_texts(corpus, model, column)
    if calibrated:
        from sentemb.search.calibration import load_calibration

        cal = load_calibration(enc) if enc is not None else load_calibration(src.model)
        if cal is None:
            raise SentembError(f"model {src.model!r} has no calibration; run `sentemb calibrate` or give --threshold")
        threshold = cal.threshold
    texts, ids = src.records.texts, src.records.ids
    from sentemb.progress import make_progress

    with make_progress(console) as progress:
        result = run_mine(texts, enc, threshold=threshold, top_k=top_k, vectors=src.vectors, batch_size=batch_size,
                          max_pairs=max_pairs, progress=progress)
    write_pairs(output, result, ids, texts)
    dup_path = duplicates or output.with_name(output.stem + ".exact.tsv")
    write_duplicates(dup_path, result, ids, texts)
    n_dup = sum(len(g) - 1 for g in result.duplicates)
    console.print(f"[green]{len(result.pairs)} pairs[/green]"
                  + (f" with cosine >= {threshold:.4f}" if threshold is not None else "")
                  + f" among {result.distinct} distinct texts -> {output}")
    console.print(f"{n_dup} exact duplicate row(s) in {len(result.duplicates)} group(s) -> {dup_path}")
    if result.saturated:
        console.print(f"[yellow]{result.saturated} text(s) have {top_k}+ neighbours above the threshold: some "
                      "pairs may be missing; raise --top-k[/yellow]")


@app.command()
def cluster(
    corpus: CorpusArg,
    model: OptModel = None,
    method: Annotated[str, typer.Option(help="kmeans, agglomerative or community.")] = "kmeans",
    k: Annotated[str | None, typer.Option("--k", help="Number of clusters, or 'auto' (k-means: best silhouette).")]
    = None,
    threshold: Annotated[float | None, typer.Option(help="Cosine threshold (agglomerative cut; community: "
                                                    "similarity to the centre, default 0.75).")] = None,
    min_size: Annotated[int, typer.Option(help="community: smallest community kept.")] = 2,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Cluster of each text (.tsv: id, cluster, "
                                                "text).")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the summary as JSON.")] = None,
    plot: Annotated[Path | None, typer.Option(help="2-D projection coloured by cluster (.png).")] = None,
    central: Annotated[int, typer.Option(help="Most central texts shown per cluster.")] = 3,
    show: Annotated[int, typer.Option(help="Clusters shown in the summary (largest first).")] = 20,
    column: ColumnOpt = None,
    batch_size: BatchOpt = 32,
):
    """Group texts by meaning; prints each cluster's size and its most central texts."""
    from sentemb.search.clustering import cluster_vectors, plot_clusters
    from sentemb.search.encoder import encode_normalized

    if k is not None and k != "auto" and not k.isdigit():
        raise SentembError(f"--k must be a number or 'auto', got {k!r}")
    src, enc = _encoded_or_texts(corpus, model, column)
    texts, ids = src.records.texts, src.records.ids
    from sentemb.progress import make_progress

    with make_progress(console) as progress:
        vecs = src.vectors if src.vectors is not None else encode_normalized(enc, texts, batch_size=batch_size,
                                                                             progress=progress)
    with console.status(f"clustering {len(texts)} texts ({method})"):
        result = cluster_vectors(vecs, method, k if k in (None, "auto") else int(k), threshold, min_size, central)
    for s in result.summaries[:show]:
        out.print(f"[bold]cluster {s.cluster}[/bold] ({s.size} texts)")
        for r in s.central:
            out.print(f"    {texts[r]}", markup=False, highlight=False)
    more = f", {result.unassigned} in no cluster" if result.unassigned else ""
    console.print(f"[green]{result.n_clusters} clusters[/green] of {len(texts)} texts ({method}{more})")
    if output is not None:
        from sentemb.atomic import write_text
        from sentemb.similarity import escape_field

        rows = [f"{i}\t{int(c)}\t{escape_field(t)}" for i, c, t in zip(ids, result.labels, texts)]
        write_text(output, "id\tcluster\ttext\n" + "\n".join(rows) + "\n")
    if json_path is not None:
        from sentemb.atomic import write_text

        summary = {"method": method, "params": result.params, "clusters": result.n_clusters,
                   "unassigned": result.unassigned, "texts": len(texts),
                   "summary": [{"cluster": s.cluster, "size": s.size, "central": [texts[r] for r in s.central]}
                               for s in result.summaries]}
        write_text(json_path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    if plot is not None:
        plot_clusters(vecs, result.labels, plot)
