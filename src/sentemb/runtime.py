"""Process-wide settings a command applies before it does any work: CPU threads."""

from __future__ import annotations

import os
import sys

from sentemb.errors import SentembError

#: read by torch / OpenMP / BLAS at start-up, and by sentemb's onnxruntime backend when it opens an exported model
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "SENTEMB_ONNX_THREADS")


def limit_threads(threads: int | None) -> None:
    """Use at most ``threads`` CPU threads for torch, OpenMP / BLAS and exported ONNX models (None: leave as is).

    Sets the environment variables those libraries read when they start (so it also reaches worker
    processes) and, if torch is already imported, ``torch.set_num_threads``. On a busy machine fewer
    threads than cores is often much faster.
    """
    if threads is None:
        return
    if threads < 1:
        raise SentembError(f"--threads must be at least 1, got {threads}")
    for var in THREAD_VARIABLES:
        os.environ[var] = str(threads)
    if "torch" in sys.modules:  # started already: its thread pool does not read the variables again
        import torch

        torch.set_num_threads(threads)
