"""Plant each catalogued bug in a copy of the repository and run the parity suite on it.

The catalogue (``parity_tests/bugs/*.toml``, one file per area) lists realistic hand-written
mistakes as data: the file, the exact original snippet, its replacement, the kind
of mistake, a one-line story and the test meant to kill it. For each bug this
command copies the repository (tracked and untracked, non-ignored files) into a
temporary directory, replaces the snippet (refusing loudly unless it occurs
exactly once), runs the intended killer under the chosen hypothesis profile with
``-x -q``, and only if that passes, the rest of the suite. The default profile,
``ci-no-shrink``, draws exactly the ``ci`` profile's examples but reports a failure
without shrinking it: the same verdicts, without minutes of shrinking per bug. It prints, per bug,
killed or survived, by which test, whether that is the intended one, and the time.

Exit status 0 only when every bug applied and was killed by its intended test.
Before the bugs, the killer tests run once on an unmodified copy (a kill means
nothing if the test fails anyway); ``--no-baseline`` skips that.

    python -m scripts.bug_catalogue                  # every bug, one at a time
    python -m scripts.bug_catalogue --jobs 2         # two bugs at a time
    python -m scripts.bug_catalogue --only conv-col2im-overwrites
    python -m scripts.bug_catalogue --list
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:             # Python 3.10: the same parser as a package
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "parity_tests" / "bugs"
FIELDS = ("id", "file", "kind", "story", "killer", "original", "replacement")
KINDS = ("module arguments", "fresh state", "containers and snapshots", "optimizer state",
         "shapes", "numerics", "corners", "wrong derivative", "wrong reduction axis",
         "off-by-one geometry", "off-by-one step", "tie rule", "dtype upcast", "input checks",
         "initialisation")


@dataclass(frozen=True)
class Bug:
    id: str
    file: str
    kind: str
    story: str
    killer: tuple[str, ...]
    original: str
    replacement: str


@dataclass
class Result:
    bug: Bug
    status: str            # killed, survived, not applied, error
    test: str = ""         # the node id that failed first
    intended: bool = False
    seconds: float = 0.0
    detail: str = ""


def _entries(path: Path):
    """``(file, n, entry)`` for each ``[[bug]]`` of a catalogue file, or of every ``*.toml``
    in a catalogue folder (sorted by name)."""
    files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
    if not files:
        raise SystemExit(f"{path}: no catalogue file (*.toml) found")
    for file in files:
        with open(file, "rb") as f:
            for n, entry in enumerate(tomllib.load(f).get("bug", []), start=1):
                yield file, n, entry


def load(path: Path = CATALOGUE) -> list[Bug]:
    """The catalogue's bugs, checked for required fields, known kinds and unique ids."""
    bugs, seen = [], set()
    for path, n, entry in _entries(path):
        missing = [k for k in FIELDS if k not in entry]
        if missing:
            raise SystemExit(f"{path}: bug #{n} ({entry.get('id', '?')}) lacks {missing}")
        if entry["id"] in seen:
            raise SystemExit(f"{path}: duplicate bug id {entry['id']!r}")
        if entry["kind"] not in KINDS:
            raise SystemExit(f"{path}: bug {entry['id']!r} has unknown kind {entry['kind']!r}; "
                             f"known: {', '.join(KINDS)}")
        if entry["original"] == entry["replacement"]:
            raise SystemExit(f"{path}: bug {entry['id']!r} replaces a snippet by itself")
        seen.add(entry["id"])
        killer = entry["killer"]
        bugs.append(Bug(entry["id"], entry["file"], entry["kind"], entry["story"],
                        tuple([killer] if isinstance(killer, str) else killer),
                        entry["original"], entry["replacement"]))
    return bugs


def repository_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files (what the suite sees in a checkout)."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                         capture_output=True, check=True).stdout.decode()
    return [f for f in out.split("\0") if f and (ROOT / f).is_file()]


def copy_repository(dest: Path, files: list[str]) -> None:
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


def apply(bug: Bug, dest: Path) -> str | None:
    """Plant the bug in ``dest``; the reason it cannot be planted, or None."""
    path = dest / bug.file
    if not path.is_file():
        return f"{bug.file} does not exist"
    text = path.read_text()
    count = text.count(bug.original)
    if count != 1:
        return (f"the original snippet occurs {count} times in {bug.file} (expected exactly "
                f"once): the code changed, update the catalogue entry")
    path.write_text(text.replace(bug.original, bug.replacement))
    return None


FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.M)


def pytest(args: list[str], cwd: Path, profile: str, timeout: float, threads: int | None):
    env = dict(os.environ, HYPOTHESIS_PROFILE=profile, PYTHONPATH=str(cwd),
               PYTHONDONTWRITEBYTECODE="1")
    if threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-rfE",
           *args]
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    return proc.returncode, proc.stdout + proc.stderr


def first_failure(output: str) -> str:
    match = FAILED.search(output)
    return match.group(1) if match else ""


def is_intended(test: str, killers) -> bool:
    """A failing node id matches a killer given as a node id (parameters optional)."""
    base = test.split("[", 1)[0]
    return any(test == k or base == k or test.startswith(k.rstrip("]")) for k in killers)


def run_bug(bug: Bug, files, profile, timeout, threads) -> Result:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"bug-{bug.id}-") as tmp:
        dest = Path(tmp)
        copy_repository(dest, files)
        reason = apply(bug, dest)
        if reason:
            return Result(bug, "not applied", detail=reason,
                          seconds=time.perf_counter() - start)
        result = None
        for stage in ("killer", "rest"):
            args = list(bug.killer) if stage == "killer" else (
                ["parity_tests"] + [a for k in bug.killer for a in ("--deselect", k)])
            code, output = pytest(args, dest, profile, timeout, threads)
            if code is None:
                result = Result(bug, "error", detail=f"{stage}: timed out after {timeout} s")
                break
            if code == 1 or (code == 2 and first_failure(output)):
                test = first_failure(output) or "?"
                result = Result(bug, "killed", test, is_intended(test, bug.killer))
                break
            if code != 0:
                tail = "\n".join(output.strip().splitlines()[-5:])
                result = Result(bug, "error", detail=f"{stage}: pytest exit {code}\n{tail}")
                break
        result = result or Result(bug, "survived")
    result.seconds = time.perf_counter() - start
    return result


def baseline(bugs, files, profile, timeout, jobs) -> tuple[bool, str]:
    """Every killer test passes on the unmodified code (spread over ``jobs`` xdist workers)."""
    killers = sorted({k for bug in bugs for k in bug.killer})
    workers = ["-n", str(jobs)] if jobs > 1 else []
    with tempfile.TemporaryDirectory(prefix="bug-baseline-") as tmp:
        copy_repository(Path(tmp), files)
        code, output = pytest(killers + workers, Path(tmp), profile, timeout * 4, None)
    if code != 0:
        return False, f"pytest exit {code}: {first_failure(output)}\n" + "\n".join(
            (output or "").strip().splitlines()[-8:])
    return True, ""


def describe(r: Result) -> str:
    head = f"{r.status.upper():<11} {r.bug.id:<40} {r.seconds:6.1f} s"
    if r.status == "killed":
        return f"{head}  by {r.test}" + ("" if r.intended else "  (NOT the intended test: "
                                         + ", ".join(r.bug.killer) + ")")
    if r.status == "survived":
        return f"{head}  intended killer: {', '.join(r.bug.killer)}"
    return f"{head}  {r.detail}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", "-j", type=int, default=1,
                        help="bugs run at once, each in its own copy and process (default 1)")
    parser.add_argument("--only", action="append", default=[], metavar="ID",
                        help="run only this bug (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the bugs and exit")
    parser.add_argument("--check", action="store_true",
                        help="only check that every bug applies (its snippet occurs once)")
    parser.add_argument("--profile", default="ci-no-shrink",
                        help="hypothesis profile the suite runs under (default ci-no-shrink: "
                             "ci's examples, a failure reported without shrinking it)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds allowed per pytest run (default 900)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip running the killer tests on the unmodified code first")
    parser.add_argument("--catalogue", type=Path, default=CATALOGUE,
                        help="catalogue file, or a folder of them (default parity_tests/bugs)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    bugs = load(args.catalogue)
    if args.only:
        unknown = sorted(set(args.only) - {b.id for b in bugs})
        if unknown:
            parser.error(f"unknown bug id(s): {', '.join(unknown)}")
        bugs = [b for b in bugs if b.id in args.only]
    if args.list:
        for b in bugs:
            print(f"{b.id:<40} {b.kind:<26} {b.file}\n    {b.story}\n    killer: "
                  f"{', '.join(b.killer)}")
        print(f"{len(bugs)} bugs")
        return 0
    if args.check:
        bad = 0
        for b in bugs:
            text = (ROOT / b.file).read_text() if (ROOT / b.file).is_file() else ""
            count = text.count(b.original)
            if count != 1:
                bad += 1
                print(f"NOT APPLIED {b.id}: the original snippet occurs {count} times in "
                      f"{b.file}")
        print(f"{len(bugs) - bad} of {len(bugs)} bugs apply")
        return 1 if bad else 0
    files = repository_files()
    threads = 1 if args.jobs > 1 else None
    start = time.perf_counter()
    if not args.no_baseline:
        ok, why = baseline(bugs, files, args.profile, args.timeout, args.jobs)
        print(f"baseline: intended killers on the unmodified code "
              f"{'pass' if ok else 'FAIL'} ({time.perf_counter() - start:.1f} s)", flush=True)
        if not ok:
            print(why)
            return 1
    lock, results = threading.Lock(), []
    print(f"{len(bugs)} bugs, profile {args.profile}, {args.jobs} at a time", flush=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_bug, b, files, args.profile, args.timeout, threads)
                   for b in bugs]
        for future in as_completed(futures):
            r = future.result()
            with lock:
                results.append(r)
                print(describe(r), flush=True)
    total = time.perf_counter() - start
    counts = {s: sum(r.status == s for r in results)
              for s in ("killed", "survived", "not applied", "error")}
    intended = sum(r.status == "killed" and r.intended for r in results)
    print(f"\n{len(results)} bugs: {counts['killed']} killed ({intended} by the intended "
          f"test), {counts['survived']} survived, {counts['not applied']} not applied, "
          f"{counts['error']} errors; {total:.0f} s with --jobs {args.jobs}")
    bad = [r for r in results if r.status != "killed" or not r.intended]
    for r in sorted(bad, key=lambda r: r.bug.id):
        print(f"  needs attention: {describe(r)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
