#!/usr/bin/env python3
"""Draw the package's import layers from its source: docs/layers.md (a Mermaid graph).

    python scripts/import-layers.py           # rewrite docs/layers.md
    python scripts/import-layers.py --check   # exit 1 if docs/layers.md is stale or imports form a cycle
    python scripts/import-layers.py --private # list private names imported across modules (exit 1 if any)

Every module of ``godistcache`` (``.py``, and the ``.pyx`` sources, whose
``import``/``cimport`` lines are read with a regular expression) is a node; an
import of another module of the package is an edge. Imports at module level
are solid edges; imports inside a function (made lazily, when called) are
dashed. A module's layer is 0 when it imports nothing of the package at module
level, else one more than the highest layer it imports: data flows down, and a
module-level import cycle is an error. A subpackage is one node, its
``__init__``; the package root (which only re-exports) is left out, as are
imports of it.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "godistcache"
OUT = ROOT / "docs" / "layers.md"
_PYX_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+c?import\s+([\w, ]+)|c?import\s+([\w.]+))", re.M)


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / PACKAGE).rglob("*")):
        if (
            path.suffix in (".py", ".pyx")
            and "__pycache__" not in path.parts
            and path != ROOT / PACKAGE / "__init__.py"
        ):
            found[module_name(path)] = path
    return found


def _resolve(current: str, level: int, target: str | None, is_package: bool) -> str:
    if level == 0:
        return target or ""
    base = current.split(".")
    base = base[: len(base) - level + (1 if is_package else 0)]
    return ".".join(base + ([target] if target else []))


def imports_of(name: str, path: Path, known: set[str]) -> dict[str, bool]:
    """The package modules name imports: {module: True if at module level, False if only inside a function}."""
    found: dict[str, bool] = {}

    def add(target: str, top: bool) -> None:
        while target and target not in known:
            target = target.rpartition(".")[0]  # `from .x import y`: y may be a name, not a module
        if target and target != name:
            found[target] = found.get(target, False) or top

    if path.suffix == ".pyx":
        for m in _PYX_IMPORT.finditer(path.read_text(encoding="utf-8")):
            declared = ROOT.joinpath(*(m.group(1) or m.group(3)).split(".")).with_suffix(".pxd")
            if declared.exists() and not declared.with_suffix(".pyx").exists():
                continue  # a cimport of C declarations only (clock.pxd): no module behind it
            if m.group(1):
                for item in m.group(2).split(","):
                    add(f"{m.group(1)}.{item.split(' as ')[0].strip()}", True)
            else:
                add(m.group(3), True)
        return found

    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        top = id(node) not in in_function
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, top)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, node.level, node.module, path.name == "__init__.py")
            for alias in node.names:
                add(f"{base}.{alias.name}", top)
    return found


def private_imports() -> list[str]:
    """``from <package module> import _name`` across modules, where ``_name`` is not itself a module.

    A private name belongs to its module; another module that needs it
    should get a public name (or a documented contract) instead.
    """
    mods = modules()
    known = set(mods)
    found = []
    for name, path in mods.items():
        if path.suffix != ".py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = _resolve(name, node.level, node.module, path.name == "__init__.py")
            if not (base == PACKAGE or base.startswith(PACKAGE + ".")):
                continue
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and f"{base}.{alias.name}" not in known:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name} from {base}")
    return found


def graph() -> tuple[dict[str, dict[str, bool]], dict[str, int]]:
    mods = modules()
    known = set(mods)
    edges = {name: imports_of(name, path, known) for name, path in mods.items()}
    layers: dict[str, int] = {}
    visiting: list[str] = []

    def layer(name: str) -> int:
        if name in layers:
            return layers[name]
        if name in visiting:
            cycle = visiting[visiting.index(name) :] + [name]
            raise SystemExit("import cycle at module level: " + " -> ".join(cycle))
        visiting.append(name)
        below = [layer(dep) for dep, top in edges[name].items() if top]
        visiting.pop()
        layers[name] = 1 + max(below) if below else 0
        return layers[name]

    for name in mods:
        layer(name)
    return edges, layers


def render(edges: dict[str, dict[str, bool]], layers: dict[str, int]) -> str:
    def node(name: str) -> str:
        return name.replace(".", "_")

    def label(name: str) -> str:
        return name[len(PACKAGE) + 1 :]

    lines = [
        "# Import layers",
        "",
        "Generated by `python scripts/import-layers.py` from the source (checked by",
        "`tests/test_layers.py`): do not edit. Each box is a module of `godistcache` (a subpackage",
        "is its `__init__`; the package root, which only re-exports, is left out); an arrow points from a module to",
        "one it imports. Solid arrows are module-level imports, dashed ones are made inside a",
        "function, lazily. Layer 0 imports nothing of the package; every other module sits one",
        "layer above the highest it imports at module level, so data flows down and nothing",
        "imports upward at load time.",
        "",
        "```mermaid",
        "flowchart BT",
    ]
    for level in sorted(set(layers.values()), reverse=True):
        lines.append(f'  subgraph L{level}["layer {level}"]')
        for name in sorted(n for n, lv in layers.items() if lv == level):
            lines.append(f'    {node(name)}["{label(name)}"]')
        lines.append("  end")
    for name in sorted(edges):
        for dep, top in sorted(edges[name].items()):
            lines.append(f"  {node(name)} {'-->' if top else '-.->'} {node(dep)}")
    lines += ["```", ""]
    lines.append("| layer | modules |")
    lines.append("|---|---|")
    for level in sorted(set(layers.values())):
        names = ", ".join(f"`{label(n)}`" for n in sorted(n for n, lv in layers.items() if lv == level))
        lines.append(f"| {level} | {names} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/layers.md is not what the source gives")
    parser.add_argument("--private", action="store_true", help="list private names imported across modules")
    args = parser.parse_args(argv)
    if args.private:
        found = private_imports()
        print("\n".join(found) or "no private name is imported across modules")
        return 1 if found else 0
    text = render(*graph())
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT.relative_to(ROOT)} is stale: run python scripts/import-layers.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
