"""The report of a pipeline run: one self-contained HTML page and its markdown twin.

``build_report(run_dir)`` reads every stage folder of a ``sentemb run`` output (``NN-id/stage.json`` and
the files each stage wrote) and writes ``report.html`` (inline CSS, charts embedded as base64 PNG) and
``report.md`` (the same text and tables; charts linked from ``report_files/`` and the stage folders).
"""

from sentemb.report.build import ReportPaths, build_report

__all__ = ["ReportPaths", "build_report"]
