"""Where the LogAnchor contract lives on each chain: a small JSON file in the data folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEPLOYMENTS_FILE = "anchor_contract.json"


def deployments_path(data_dir: Path) -> Path:
    return data_dir / DEPLOYMENTS_FILE


def read_deployment(data_dir: Path, chain_id: int) -> dict[str, Any] | None:
    """The recorded deployment for ``chain_id``, or None."""
    path = deployments_path(data_dir)
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("chains", {}).get(str(chain_id))


def write_deployment(data_dir: Path, chain_id: int, record: dict[str, Any]) -> Path:
    """Record the deployment for ``chain_id``, keeping other chains' records (atomic write)."""
    path = deployments_path(data_dir)
    data = json.loads(path.read_text()) if path.exists() else {"chains": {}}
    data.setdefault("chains", {})[str(chain_id)] = record
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path
