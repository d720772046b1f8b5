#!/usr/bin/env python3
"""Compile contracts/*.sol with the pinned solcjs from node_modules into contracts/build/.

Reproducible by construction: exact compiler version from package-lock.json, fixed optimizer
and EVM settings, no metadata hash in the bytecode, sorted JSON output. Running it twice, on
any machine, gives byte-identical artifacts (a test checks this against the committed ones).

    python scripts/build_contracts.py            # (re)write contracts/build/*.json
    python scripts/build_contracts.py --check    # exit 1 if the committed artifacts differ
    python scripts/build_contracts.py --out DIR  # write elsewhere
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = ROOT / "contracts"
BUILD_DIR = CONTRACTS_DIR / "build"
SOLC_DIR = ROOT / "node_modules" / "solc"
CONTRACT_NAMES = ("LogAnchor", "PlainRootStore", "CompensationVault", "TestToken")

# Changing any of these changes the bytecode: rebuild and commit the artifacts together.
SETTINGS: dict = {
    "evmVersion": "cancun",
    "optimizer": {"enabled": True, "runs": 1_000_000},
    "viaIR": False,
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.deployedBytecode.object",
                "evm.deployedBytecode.immutableReferences",
                "evm.methodIdentifiers",
            ]
        }
    },
}

# solcjs's JavaScript API takes and returns standard JSON; stdin/stdout keep it file-free.
_NODE_COMPILE = """
const solc = require(process.argv[1]);
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const output = JSON.parse(solc.compile(input));
  process.stdout.write(JSON.stringify({version: solc.version(), output}));
});
"""


def pinned_solc_version() -> str:
    """The exact solc version pinned in package.json (must match what is installed)."""
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["solc"]
    installed = json.loads((SOLC_DIR / "package.json").read_text())["version"]
    if pinned != installed:
        raise SystemExit(f"node_modules has solc {installed}, package.json pins {pinned}: npm ci")
    return pinned


def compile_sources() -> tuple[str, dict, dict[str, str]]:
    """Run the pinned compiler; return (long version, standard-JSON output, sources)."""
    pinned_solc_version()
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH; install Node.js 20+")
    sources = {
        f"{name}.sol": (CONTRACTS_DIR / f"{name}.sol").read_text() for name in CONTRACT_NAMES
    }
    standard_input = {
        "language": "Solidity",
        "sources": {path: {"content": text} for path, text in sources.items()},
        "settings": SETTINGS,
    }
    proc = subprocess.run(
        [node, "-e", _NODE_COMPILE, str(SOLC_DIR)],
        input=json.dumps(standard_input, sort_keys=True),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"solcjs failed:\n{proc.stderr}")
    result = json.loads(proc.stdout)
    output = result["output"]
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    for e in output.get("errors", []):
        print(e["formattedMessage"], file=sys.stderr)
    if errors:
        raise SystemExit("compilation failed")
    return result["version"], output, sources


def artifacts() -> dict[str, dict]:
    """Compile and shape one artifact per contract."""
    version, output, sources = compile_sources()
    out: dict[str, dict] = {}
    for name in CONTRACT_NAMES:
        path = f"{name}.sol"
        compiled = output["contracts"][path][name]
        out[name] = {
            "contractName": name,
            "sourcePath": f"contracts/{path}",
            "sourceSha256": hashlib.sha256(sources[path].encode()).hexdigest(),
            "abi": compiled["abi"],
            "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
            # Where the deployed code holds immutables (zeros here, set by the constructor):
            # comparing code on chain with the artifact must skip these ranges.
            "immutableReferences": compiled["evm"]["deployedBytecode"].get(
                "immutableReferences", {}
            ),
            "methodIdentifiers": compiled["evm"]["methodIdentifiers"],
            "compiler": {"name": "solcjs", "version": version},
            "settings": {k: v for k, v in SETTINGS.items() if k != "outputSelection"},
        }
    return out


def render(artifact: dict) -> str:
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUILD_DIR, help="output folder")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    built = artifacts()
    if args.check:
        stale = [
            name
            for name, art in built.items()
            if not (args.out / f"{name}.json").exists()
            or (args.out / f"{name}.json").read_text() != render(art)
        ]
        for name in stale:
            print(
                f"{args.out / name}.json is stale: run scripts/build_contracts.py", file=sys.stderr
            )
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, art in built.items():
        (args.out / f"{name}.json").write_text(render(art))
        size = (len(art["deployedBytecode"]) - 2) // 2
        print(f"{name}: {size} bytes deployed -> {args.out / name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
