"""Speed benchmark: size, latency, throughput, memory (and accuracy) per model and backend, side by side.

>>> from sentemb.bench import BenchSettings, markdown_table, run_bench
>>> report = run_bench(["minilm-offline", "out/minilm-int8"], texts, BenchSettings(threads=2))  # doctest: +SKIP
>>> print(markdown_table(report))  # doctest: +SKIP
"""

from typing import TYPE_CHECKING

from sentemb.lazy import lazy_exports

__all__ = ["run_bench", "BenchSettings", "BenchReport", "plan_entries", "parse_batch_sizes", "markdown_table",
           "markdown_report", "csv_text", "comparison", "write_outputs", "read_report"]

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(["BenchReport", "comparison", "csv_text", "markdown_report", "markdown_table", "read_report",
                     "write_outputs"], "sentemb.bench.report"),
    **dict.fromkeys(["BenchSettings", "parse_batch_sizes", "plan_entries", "run_bench"], "sentemb.bench.runner"),
})

if TYPE_CHECKING:
    from sentemb.bench.report import (
        BenchReport,
        comparison,
        csv_text,
        markdown_report,
        markdown_table,
        read_report,
        write_outputs,
    )
    from sentemb.bench.runner import BenchSettings, parse_batch_sizes, plan_entries, run_bench
