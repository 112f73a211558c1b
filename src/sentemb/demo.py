"""Which data the built-in demo (``sentemb run`` with no pipeline file, ``make demo``) runs on.

1. The benchmark files, when the data folder (``--data-dir`` / ``SENTEMB_DATA``) holds the demo's six
   datasets (STSb and Chinese STS-B train/dev/test): ``demo.yaml``, fully offline.
2. Else their Hugging Face Hub copies, when the Hub may be used and answers: ``demo.yaml`` again.
3. Else (``HF_HUB_OFFLINE`` set, or the Hub unreachable) the bundled sample: ``demo-bundled.yaml``, the
   same stages on small sentence-pair files shipped with sentemb, whose scores only illustrate the pipeline.

The choice is printed as one line before the first stage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEMO = "demo.yaml"
BUNDLED = "demo-bundled.yaml"
DEMO_DATASETS = ("stsb-train", "stsb-dev", "stsb-test", "csts-train", "csts-dev", "csts-test")


@dataclass(frozen=True)
class DemoChoice:
    config: str  # the file name in sentemb/resources
    line: str  # what the demo says about its data

    @property
    def path(self) -> Path:
        return resource_path(self.config)


def resource_path(name: str) -> Path:
    """A file shipped in ``sentemb/resources``."""
    from importlib.resources import files

    return Path(str(files("sentemb.resources").joinpath(name)))


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub endpoint answers within ``timeout`` seconds (any HTTP status counts)."""
    import urllib.error
    import urllib.request

    endpoint = os.environ.get("HF_ENDPOINT", "").strip() or "https://huggingface.co"
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout).close()
        return True
    except urllib.error.HTTPError:
        return True  # it answered
    except (OSError, ValueError):
        return False


def choose_demo(data_dir: str | os.PathLike | None = None, reachable=hub_reachable) -> DemoChoice:
    """The demo config for this machine and the line that says which data it uses (see the module docs)."""
    from sentemb.data.hub import hub_offline
    from sentemb.data.location import locate_data_dir
    from sentemb.data.registry import is_available

    root = locate_data_dir(data_dir)
    missing = [n for n in DEMO_DATASETS if root is None or not is_available(n, root)]
    if not missing:
        return DemoChoice(DEMO, f"demo data: the benchmark files in {root} (STSb, Chinese STS-B)")
    why = "no data folder" if root is None else f"the data folder {root} lacks {', '.join(missing)}"
    if not hub_offline():
        if reachable():
            return DemoChoice(DEMO, f"demo data: the Hugging Face Hub copies of STSb and Chinese STS-B ({why})")
        offline = "the Hugging Face Hub cannot be reached"
    else:
        offline = "HF_HUB_OFFLINE is set"
    return DemoChoice(BUNDLED, f"demo data: the bundled sample pairs ({why}; {offline}): scores that illustrate "
                               "the pipeline, not benchmark results (set SENTEMB_DATA for those)")
