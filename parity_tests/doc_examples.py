"""What the documentation tests read: pages, their ```python blocks, the README's quick start.

A page is ``README.md`` or any ``docs/**/*.md``; its runnable examples are the fenced
blocks whose info string is ``python`` (``text``, ``console``, ``toml``... are shown,
not run). :func:`run_page` runs a page's blocks in order, each in a fresh namespace; a
block that fails with ``NameError`` there is run again in the namespace the page's
earlier blocks built, so a page may build one example on the one above it.
"""
from __future__ import annotations

import re
import shlex
import traceback
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 200

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")

# What user documentation must not carry: tracker references and development history.
FORBIDDEN = (
    (re.compile(r"\bissues?\s*#?\d+", re.I), "an issue number"),
    (re.compile(r"(?<![\w&#/=\"'])#\d+\b"), "a tracker reference (#N)"),
    (re.compile(r"\b(?:this|previous|earlier|later|next|an?) session\b", re.I), "session history"),
    (re.compile(r"\bengineers?\b", re.I), "who worked on it"),
    (re.compile(r"\btried and dropped\b", re.I), "development history"),
)


class Block(NamedTuple):
    page: Path
    line: int          # 1-based line of the opening fence
    info: str          # the fence's info string: "python", "console", ...
    code: str


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/, in a stable order."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page (indented ones, as in lists, included)."""
    out, lines, i = [], page.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, start = m["indent"], m["fence"], i
        body, i = [], i + 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        out.append(Block(page, start + 1, m["info"].strip().split(" ")[0].lower(),
                         "\n".join(body) + "\n"))
        i += 1
    return out


def python_blocks(page: Path) -> list[Block]:
    return [b for b in blocks(page) if b.info in ("python", "py")]


def run_page(page: Path) -> int:
    """Run every python block of `page`; AssertionError naming the first that fails."""
    shared: dict = {"__name__": "__docs__"}
    for block in python_blocks(page):
        where = f"{page.relative_to(ROOT)}:{block.line}"
        code = compile(block.code, where, "exec")
        fresh: dict = {"__name__": "__docs__"}
        try:
            exec(code, fresh)
        except NameError:
            try:
                exec(code, shared)
            except Exception:
                raise AssertionError(f"the example at {where} fails, in a fresh namespace "
                                     f"and after the page's earlier examples:\n"
                                     f"{traceback.format_exc()}") from None
        except Exception:
            raise AssertionError(f"the example at {where} fails:\n"
                                 f"{traceback.format_exc()}") from None
        else:
            shared.update(fresh)
    return len(python_blocks(page))


def relative_links(page: Path) -> list[str]:
    """The targets of the page's Markdown links and images that are not URLs or anchors."""
    targets = re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8"))
    return [t for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def forbidden_mentions(text: str) -> list[str]:
    """Each line of `text` that mentions an issue number or development history."""
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        for pattern, what in FORBIDDEN:
            m = pattern.search(line)
            if m:
                found.append(f"line {n}: {what}: {m.group(0)!r} in {line.strip()[:120]!r}")
    return found


def notebook_text(path: Path) -> str:
    """The markdown and code cells of a notebook (not its outputs)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in nb.cells)


def quick_start_commands() -> list[str]:
    """The command lines of the README's quick start block (comments stripped)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = next(b for b in blocks_of_text(section) if b.info == "console")
    return [line.split("  #", 1)[0].strip() for line in block.code.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def blocks_of_text(text: str) -> list[Block]:
    tmp = re.split(r"^```", text, flags=re.M)
    out = []
    for k in range(1, len(tmp) - 1, 2):
        info, _, code = tmp[k].partition("\n")
        out.append(Block(README, 0, info.strip().lower(), code))
    return out


def quick_variant(command: str, out_dir: Path) -> tuple[dict, list[str]]:
    """(environment additions, argv) of the quick variant of a quick-start command.

    Training and lockstep runs get tiny limits and a temporary run folder (later
    flags override earlier ones); a pytest command naming test files collects them
    only (the suite runs them), the whole-suite command gets an empty argv (it is
    the suite, checked against .ci/run's command); the others run as written. A
    command of a kind not known here raises KeyError, so a new quick-start line
    needs a quick variant.
    """
    words = shlex.split(command)
    env = {}
    while words and "=" in words[0] and not words[0].startswith("-"):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    if words[:3] == ["python", "-m", "scripts.train"]:
        extra = ["--limit-train", "128", "--limit-test", "128", "--epochs", "1",
                 "--out-dir", str(out_dir)]
    elif words[:3] == ["python", "-m", "scripts.lockstep"]:
        extra = ["--steps", "2", "--limit-train", "128", "--out-dir", str(out_dir)]
    elif words[:3] in (["python", "-m", "scripts.mnist"], ["python", "-m", "scripts.oracle_demo"]):
        extra = []
    elif words[:1] == ["pytest"] and any(w.endswith(".py") for w in words):
        words = ["python", "-m", "pytest"] + words[1:]
        extra = ["--collect-only", "-q", "-p", "no:cacheprovider"]
    elif words[:1] == ["pytest"]:
        return env, []          # the whole suite: what CI runs, so it is checked by running
    else:
        raise KeyError(f"no quick variant for the quick-start command {command!r}")
    return env, words + extra
