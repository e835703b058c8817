"""Mutation testing of the pure core: `make mutate` (python -m tests.mutate [FILE ...]).

Each target file is changed one operator at a time (a comparison, an arithmetic or boolean operator, a number, a
min/max, a condition negated) and only its own tests are run against the mutant; a mutant the tests still pass
"survives". Surviving mutants are written to `mutation-report.txt` (generated, not committed) unless they are listed in
`tests/mutation_equivalents.txt` with the reason they cannot change behaviour.

Why not mutmut: it copies the code base into `mutants/` and routes every function through a trampoline, which these
files (dataclasses, numpy columns, module-level tables of functions) and the app-wide fixtures do not survive as they
are. This runner is small instead: the parent process imports the heavy libraries once; each mutant runs in a forked
child that compiles the mutated syntax tree into the target module, rebinds every name other modules imported from it
(`from placement.engine import rank_shelters` elsewhere sees the mutant too), and runs pytest on the file's own tests,
stopping at the first failure. Strings are not mutated (messages are checked by the tests that read them, and would
add hundreds of mutants); docstrings, annotations and `__all__` never are.

A mutant's id is `file:function:change#n` (n counts that change inside the function), so the list of equivalents
survives edits elsewhere in the file.
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.txt"
REPORT = ROOT / "mutation-report.txt"

# Files whose tests use the app's database (one per run, made by the parent): their mutants run one at a time.
USES_DATABASE = {"shelters/figures.py"}

# Each file and its own tests (the first failing test ends a mutant's run, so the quick ones come first).
TARGETS: dict[str, list[str]] = {
    "alerts/rules.py": ["tests/alerts/test_rules.py", "tests/alerts/test_rule_boundaries.py"],
    "shelters/figures.py": ["tests/shelters/test_figures.py", "tests/shelters/test_figures_edges.py"],
    "placement/engine.py": ["tests/placement/test_engine_edges.py", "tests/placement/test_engine.py"],
    "placement/batch.py": ["tests/placement/test_batch_edges.py", "tests/placement/test_batch.py"],
}

_COMPARE_SWAP = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
_BINOP_SWAP = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr, ast.BitXor: ast.BitOr,
    ast.LShift: ast.RShift, ast.RShift: ast.LShift, ast.MatMult: ast.Mult,
}
_SYMBOL = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
    ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/",
    ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
    ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@", ast.And: "and", ast.Or: "or",
}


@dataclass(frozen=True)
class Mutant:
    id: str
    line: int
    text: str  # the original line, stripped
    path: tuple  # how to find the node in a fresh copy of the tree: field names and indexes from the module
    kind: str  # compare | binop | augop | boolop | unary | number | bool | minmax | negate
    index: int = 0  # which operator of a comparison


def _walk(node: ast.AST, path: tuple = ()):
    """(node, path) for every node, skipping what is never mutated."""
    yield node, path
    for name, value in ast.iter_fields(node):
        if name in ("annotation", "returns", "type_comment", "decorator_list"):
            continue
        items = value if isinstance(value, list) else [value]
        for i, child in enumerate(items):
            if not isinstance(child, ast.AST):
                continue
            if _is_docstring(node, name, i) or _is_all(child):
                continue
            yield from _walk(child, (*path, name, i if isinstance(value, list) else None))


def _is_docstring(parent: ast.AST, field: str, i: int) -> bool:
    if field != "body" or i != 0 or not isinstance(parent, (ast.Module, ast.FunctionDef, ast.ClassDef)):
        return False
    first = parent.body[0]
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)


def _is_all(node: ast.AST) -> bool:
    return isinstance(node, (ast.Assign, ast.AnnAssign)) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in getattr(node, "targets", [getattr(node, "target", None)]))


def _follow(tree: ast.AST, path: tuple) -> ast.AST:
    node = tree
    for name, i in zip(path[::2], path[1::2]):
        value = getattr(node, name)
        node = value[i] if i is not None else value
    return node


def _in_fstring(tree: ast.AST, path: tuple) -> bool:
    node = tree
    for name, i in zip(path[::2], path[1::2]):
        if isinstance(node, ast.JoinedStr):
            return True
        value = getattr(node, name)
        node = value[i] if i is not None else value
    return False


def _function_of(tree: ast.AST, path: tuple) -> str:
    names, node = [], tree
    for name, i in zip(path[::2], path[1::2]):
        value = getattr(node, name)
        node = value[i] if i is not None else value
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
    return ".".join(names) or "<module>"


def mutants_of(relpath: str) -> list[Mutant]:
    source = (ROOT / relpath).read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    found: list[tuple[str, str, int, tuple, str, int]] = []
    for node, path in _walk(tree):
        changes: list[tuple[str, str, int]] = []  # (description, kind, index)
        if isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                changes.append((f"{_SYMBOL[type(op)]} -> {_SYMBOL[_COMPARE_SWAP[type(op)]]}", "compare", k))
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
            changes.append((f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[_BINOP_SWAP[type(node.op)]]}", "binop", 0))
        elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOP_SWAP:
            changes.append((f"{_SYMBOL[type(node.op)]}= -> {_SYMBOL[_BINOP_SWAP[type(node.op)]]}=", "augop", 0))
        elif isinstance(node, ast.BoolOp):
            other = "or" if isinstance(node.op, ast.And) else "and"
            changes.append((f"{_SYMBOL[type(node.op)]} -> {other}", "boolop", 0))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.Invert)):
            symbol = {ast.Not: "not", ast.USub: "-", ast.Invert: "~"}[type(node.op)]
            changes.append((f"drop {symbol}", "unary", 0))
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            changes.append((f"{node.value} -> {not node.value}", "bool", 0))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float) and not _in_fstring(tree, path):
            changes.append((f"{node.value!r} -> {node.value + 1!r}", "number", 0))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max")):
            changes.append((f"{node.func.id} -> {'max' if node.func.id == 'min' else 'min'}", "minmax", 0))
        if isinstance(node, (ast.If, ast.IfExp, ast.While)) and not isinstance(node.test, (ast.Compare, ast.BoolOp)) \
                and not (isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not)):
            changes.append(("negate condition", "negate", 0))
        for description, kind, index in changes:
            found.append((_function_of(tree, path), description, getattr(node, "lineno", 0), path, kind, index))
    seen: Counter = Counter()
    result = []
    for function, description, line, path, kind, index in found:
        seen[(function, description)] += 1
        ident = f"{relpath}:{function}:{description}#{seen[(function, description)]}"
        text = lines[line - 1].strip() if line else ""
        if "pragma: no mutate" in text:
            continue
        result.append(Mutant(ident, line, text, path, kind, index))
    return result


def mutate(tree: ast.Module, mutant: Mutant) -> ast.Module:
    tree = copy.deepcopy(tree)
    node = _follow(tree, mutant.path)
    if mutant.kind == "compare":
        ops = list(node.ops)
        ops[mutant.index] = _COMPARE_SWAP[type(ops[mutant.index])]()
        node.ops = ops
    elif mutant.kind in ("binop", "augop"):
        node.op = _BINOP_SWAP[type(node.op)]()
    elif mutant.kind == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif mutant.kind == "unary":
        _replace(tree, mutant.path, node.operand)
    elif mutant.kind == "bool":
        node.value = not node.value
    elif mutant.kind == "number":
        node.value = node.value + 1
    elif mutant.kind == "minmax":
        node.func.id = "max" if node.func.id == "min" else "min"
    elif mutant.kind == "negate":
        node.test = ast.UnaryOp(ast.Not(), node.test)
    return ast.fix_missing_locations(tree)


def _replace(tree: ast.AST, path: tuple, new: ast.AST) -> None:
    parent = _follow(tree, path[:-2])
    name, i = path[-2], path[-1]
    if i is None:
        setattr(parent, name, new)
    else:
        getattr(parent, name)[i] = new


def load_equivalents() -> dict[str, str]:
    """id -> reason, from the committed list (`id  # reason` a line)."""
    result = {}
    if EQUIVALENTS.exists():
        for raw in EQUIVALENTS.read_text().splitlines():
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            ident, _, reason = raw.partition("  # ")
            result[ident.strip()] = reason.strip()
    return result


def _install(module_name: str, tree: ast.Module, filename: str) -> None:
    """Run the mutated module in place of the original and point every other module's imports at its new objects."""
    module = sys.modules[module_name]
    old = dict(module.__dict__)
    exec(compile(tree, filename, "exec"), module.__dict__)  # noqa: S102 - the point of the exercise
    replaced = {id(value): module.__dict__[name] for name, value in old.items()
                if name in module.__dict__ and module.__dict__[name] is not value and not name.startswith("__")}
    for other in list(sys.modules.values()):
        if other is module or other is None:
            continue
        namespace = getattr(other, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for name, value in list(namespace.items()):
            new = replaced.get(id(value))
            if new is not None:
                namespace[name] = new


_POOL_FOLDER: Path | None = None


def _run_child(module_name: str, tree: ast.Module, filename: str, tests: list[str]) -> int:
    import pytest

    _install(module_name, tree, filename)
    # A failing property is enough: no shrinking (it can take minutes on hundreds of shelters), no example database.
    from hypothesis import Phase, settings

    settings.register_profile("mutate", phases=(Phase.explicit, Phase.reuse, Phase.generate), database=None)
    settings.load_profile("mutate")
    if _POOL_FOLDER is not None:  # the app the parent made, on its database template (see `_preload`)
        from tests import conftest

        @pytest.fixture(scope="session", name="pool_folder")
        def pool_folder() -> Path:
            return _POOL_FOLDER

        conftest.pool_folder = pool_folder
    # Only what these tests need: no plugins found by entry point but Hypothesis' (schemathesis and anyio take
    # seconds to load), plain asserts (a mutant is killed by any failure; rewriting every test module would cost
    # more than running it), and no garbage collection at the end (the child exits at once).
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", "--no-header", "--assert=plain",
                            "-p", "_hypothesis_pytestplugin", "-p", "no:unraisableexception",
                            "-p", "no:threadexception", *tests]))


def _preload() -> None:
    """Import once in the parent what every child needs (a forked child starts with it)."""
    global _POOL_FOLDER
    import pytest  # noqa: F401

    os.environ.pop("TEST_DATABASE_URL", None)  # SQLite only
    # The app the database tests share (tests/conftest.py makes one per run; it costs seconds): made once here
    # on a folder of the parent's, which each child's `pool_folder` fixture then names.
    from tests import conftest

    _POOL_FOLDER = Path(tempfile.mkdtemp(prefix="safehaven-mutate-"))
    conftest._pooled("sqlite", f"sqlite:///{_POOL_FOLDER / 'test.db'}", _POOL_FOLDER)
    for name in ("numpy", "hypothesis", "sqlalchemy", "flask", "ortools.sat.python.cp_model",
                 "ortools.graph.python.min_cost_flow", "app", "tests.fixtures.factories", "scipy.optimize",
                 "aiosmtpd", "schemathesis", "playwright.sync_api"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def run(relpath: str, timeout: float, out, only: set[str] | None = None, jobs: int = 1
        ) -> tuple[int, int, list[tuple[Mutant, str]], list[tuple[Mutant, str]]]:
    """Mutants of one file: (total, killed, survivors not listed, equivalents that survived)."""
    module_name = relpath.removesuffix(".py").replace("/", ".")
    module = importlib.import_module(module_name)
    filename = module.__file__
    tree = ast.parse((ROOT / relpath).read_text())
    tests = [t for t in TARGETS[relpath] if (ROOT / t).exists()]
    equivalents = load_equivalents()
    mutants = [m for m in mutants_of(relpath) if only is None or m.id in only]
    survivors, equivalent = [], []
    killed = 0
    # The tests must pass on the file as it is; a mutant may then take a few times as long before it counts as
    # killed by a timeout (a loop that no longer ends).
    started = time.monotonic()
    if _fork_run(module_name, tree, filename, tests, timeout) != 0:
        raise SystemExit(f"{relpath}: its tests fail without any mutant ({', '.join(tests)})")
    timeout = min(timeout, max(10.0, 4 * (time.monotonic() - started)))
    # Mutants run `jobs` at a time, except where the tests share the one database the parent made.
    jobs = 1 if relpath in USES_DATABASE else max(1, jobs)
    pending = list(enumerate(mutants, 1))
    running: dict[int, tuple[int, Mutant, float]] = {}
    results: list[tuple[int, Mutant, str]] = []
    while pending or running:
        while pending and len(running) < jobs:
            n, mutant = pending.pop(0)
            mutated = mutate(tree, mutant)
            try:
                compile(mutated, filename, "exec")
            except (SyntaxError, ValueError):
                results.append((n, mutant, "killed"))  # cannot even be built
                continue
            running[_fork(module_name, mutated, filename, tests)] = (n, mutant, time.monotonic())
        for pid, (n, mutant, began) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code: int | None = os.waitstatus_to_exitcode(status)
            elif time.monotonic() - began > timeout:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                code = None
            else:
                continue
            del running[pid]
            if code == 0:
                outcome = "equivalent" if mutant.id in equivalents else "SURVIVED"
            else:
                outcome = "timeout" if code is None else "killed"
            results.append((n, mutant, outcome))
            print(f"[{relpath} {n}/{len(mutants)}] {outcome:10} {time.monotonic() - began:5.1f}s {mutant.id} "
                  f"(line {mutant.line})", file=out, flush=True)
        time.sleep(0.02)
    for n, mutant, outcome in sorted(results, key=lambda r: r[0]):
        if outcome == "equivalent":
            equivalent.append((mutant, equivalents[mutant.id]))
        elif outcome == "SURVIVED":
            survivors.append((mutant, ""))
        else:
            killed += 1
    return len(mutants), killed, survivors, equivalent


def _fork_run(module_name: str, tree: ast.Module, filename: str, tests: list[str], timeout: float) -> int | None:
    """Run `tests` in a forked child with `tree` as the module: pytest's exit code, None after `timeout`."""
    return _wait(_fork(module_name, tree, filename, tests), timeout)


def _fork(module_name: str, tree: ast.Module, filename: str, tests: list[str]) -> int:
    """Start a forked child running `tests` with `tree` as the module; its process id."""
    pid = os.fork()
    if pid == 0:  # the child
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        code = 1
        try:
            code = _run_child(module_name, tree, filename, tests)
        finally:
            os._exit(code)
    return pid


def _wait(pid: int, timeout: float) -> int | None:
    """The child's exit code, or None when it ran past `timeout` (then it is ended)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help=f"target files (default: all of {', '.join(TARGETS)})")
    parser.add_argument("--timeout", type=float, default=60.0, help="at most this many seconds a mutant (4 times the unmutated run, at least 10)")
    parser.add_argument("--list", action="store_true", help="only list the mutants")
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="mutants run at once (default: one per core; one for tests that use the database)")
    parser.add_argument("--only", action="append", metavar="ID", help="run only this mutant (repeatable)")
    args = parser.parse_args(argv)
    files = args.files or sorted({i.split(":")[0] for i in args.only or ()}) or list(TARGETS)
    if args.list:
        for relpath in files:
            for mutant in mutants_of(relpath):
                print(f"{mutant.id}\tline {mutant.line}\t{mutant.text}")
        return 0
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    _preload()
    started = time.monotonic()
    summary, lines = [], []
    known = load_equivalents()
    all_ids = set()
    for relpath in files:
        all_ids.update(m.id for m in mutants_of(relpath))
        total, killed, survivors, equivalent = run(relpath, args.timeout, sys.stderr, set(args.only) if args.only else None, args.jobs)
        share = (killed + len(equivalent)) / total if total else 1.0
        summary.append(f"{relpath}: {total} mutants, {killed} killed ({killed / max(1, total):.1%}), "
                       f"{len(equivalent)} equivalent, {len(survivors)} surviving; "
                       f"killed or equivalent {share:.1%}")
        for mutant, _ in survivors:
            lines.append(f"SURVIVED {mutant.id}\n    line {mutant.line}: {mutant.text}")
        for mutant, reason in equivalent:
            lines.append(f"equivalent {mutant.id}\n    line {mutant.line}: {mutant.text}\n    {reason}")
    if _POOL_FOLDER is not None:
        shutil.rmtree(_POOL_FOLDER, ignore_errors=True)
    stale = sorted(i for i in known if i.split(":")[0] in files and i not in all_ids)
    elapsed = time.monotonic() - started
    text = "\n".join([f"Mutation report ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {elapsed:.0f} s)",
                      *summary, "", *lines,
                      *([""] + [f"listed as equivalent but no longer a mutant: {i}" for i in stale] if stale else [])])
    args.report.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
