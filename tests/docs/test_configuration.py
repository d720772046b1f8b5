"""Every LEDGER_* variable the code reads is in the README's configuration table."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.paths import ROOT

VARIABLE = re.compile(r"\bLEDGER_[A-Z0-9_]*[A-Z0-9]\b")
# Where the product reads its settings: the server, the log, the scripts and their shell
# wrappers. (tests/ has its own switches, e.g. LEDGER_TEST_ONLY_DATABASE: not settings.)
SOURCES = ("api", "ledger", "scripts")
SUFFIXES = {".py", ".sh"}


def used_in_code() -> dict[str, list[str]]:
    """Each variable named in the product's code, with the files naming it."""
    found: dict[str, list[str]] = {}
    files = [ROOT / "wsgi.py"]
    for folder in SOURCES:
        files += [p for p in sorted((ROOT / folder).rglob("*")) if p.suffix in SUFFIXES]
    for path in files:
        for name in set(VARIABLE.findall(path.read_text(encoding="utf-8"))):
            found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found


def documented(readme: str) -> set[str]:
    """The variables named in the first column of the README's configuration table."""
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(VARIABLE.findall(line.split("|")[1]))
    return names


def test_every_ledger_variable_in_the_code_is_in_the_readme_table():
    table = documented((ROOT / "README.md").read_text(encoding="utf-8"))
    missing = {name: files for name, files in used_in_code().items() if name not in table}
    assert not missing, "add to README.md's configuration table (default, meaning):\n" + "\n".join(
        f"  {name}  (named in {', '.join(files)})" for name, files in sorted(missing.items())
    )


def test_the_table_names_no_variable_the_code_does_not_read():
    table = documented((ROOT / "README.md").read_text(encoding="utf-8"))
    assert not table - set(used_in_code())


def test_the_table_parser_reads_first_columns_only(tmp_path: Path):
    readme = (
        "# X\n## Configuration\n| Variable | Default | Meaning |\n|---|---|---|\n"
        "| `LEDGER_A`, `LEDGER_B` | `1` | like `LEDGER_C` |\n## Tests\n| `LEDGER_D` | | |\n"
    )
    assert documented(readme) == {"LEDGER_A", "LEDGER_B"}
