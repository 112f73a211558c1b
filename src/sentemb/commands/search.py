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
    from sentemb.search.index import build_index
    from sentemb.search.inputs import read_input

    src = read_input(corpus, model, column, id_column)
    with console.status(f"encoding {len(src.records)} texts and indexing"):
        idx = build_index(src.records, src.model, output, index=index, precision=precision, backend=backend,
                          uri=uri, collection=collection, token=token, query_prompt=query_prompt,
                          query_prompt_name=query_prompt_name, batch_size=batch_size, overwrite=overwrite,
                          vectors=src.vectors, load_options=src.load_options, timeout=timeout)
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
    with console.status(f"encoding and adding {len(src.records)} rows"):
        n = idx.add(src.records, replace=replace, batch_size=batch_size, vectors=src.vectors)
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
