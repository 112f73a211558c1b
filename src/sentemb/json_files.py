"""Reading sentemb's small JSON files (manifests, calibrations) with errors that name the file and line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sentemb.errors import SentembError


def read_json(path: str | os.PathLike, missing: str, hint: str = "") -> Any:
    """The parsed content of ``path``; ``missing`` is the error for an absent file, ``hint`` follows a parse error."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SentembError(missing) from None
    except json.JSONDecodeError as exc:
        raise SentembError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno}){'; ' + hint if hint else ''}") from None
