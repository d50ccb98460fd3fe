"""The documentation holds together: every relative link leads to a file (and a heading) that
exists, and the README stays short enough to read in a few minutes."""

import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_MAX_LINES = 250
DOCUMENTS = [README, *sorted((ROOT / "docs").rglob("*.md"))]

# An inline link or image, `[text](target)` or `![alt](target "title")`; the target may be in <>.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^\s)>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`+[^`]*`+")
# A scheme (`https:`, `mailto:`): a link out of the repository, not checked here.
EXTERNAL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def prose(path: Path) -> list[tuple[int, str]]:
    """The file's lines outside fenced code blocks, numbered from 1, without code spans."""
    lines: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, CODE_SPAN.sub(lambda span: span.group().strip("`"), line)))
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """The anchors of a markdown file's headings; a repeat gets `-1`, `-2`, as on GitHub."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in prose(path):
        if match := HEADING.match(line):
            anchor = slug(match.group(1))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.add(anchor if count == 0 else f"{anchor}-{count}")
    return frozenset(found)


def relative_links(document: Path) -> list[tuple[int, str]]:
    """The numbered lines and targets of `document`'s links that stay in the repository."""
    return [
        (number, target)
        for number, line in prose(document)
        for target in LINK.findall(line)
        if not EXTERNAL.match(target)
    ]


def resolve(document: Path, target: str) -> Path:
    """The file a link of `document` leads to (the document itself for `#anchor`)."""
    path_part = target.partition("#")[0]
    return (document.parent / unquote(path_part)).resolve() if path_part else document


def broken_links(document: Path, root: Path = ROOT) -> list[str]:
    """Each relative link of `document` that leads nowhere under `root`: `line: target: why`."""
    broken: list[str] = []
    for number, target in relative_links(document):
        resolved = resolve(document, target)
        anchor = target.partition("#")[2]
        if not resolved.is_relative_to(root) or not resolved.exists():
            broken.append(f"{number}: {target}: no such file in the repository")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{number}: {target}: no heading #{anchor} in {resolved.name}")
    return broken


@pytest.mark.parametrize(
    "document", DOCUMENTS, ids=[str(path.relative_to(ROOT)) for path in DOCUMENTS]
)
def test_every_relative_link_resolves(document: Path) -> None:
    assert broken_links(document) == []


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES


def test_every_document_is_reachable_from_the_readme() -> None:
    reached, queue = {README}, [README]
    while queue:
        document = queue.pop()
        for _, target in relative_links(document):
            linked = resolve(document, target)
            if linked.suffix == ".md" and linked.exists() and linked not in reached:
                reached.add(linked)
                queue.append(linked)
    assert set(DOCUMENTS) - reached == set()


def test_a_broken_link_and_a_missing_heading_are_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## The part\n", encoding="utf-8")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Title\n\n## A section\n\n"
        "[fine](#a-section) [fine](other.md#the-part) [out](https://example.com/none)\n"
        "[gone](no-such-page.md) [no heading](other.md#no-such-part) [out of tree](../../x.md)\n"
        "```\n[in code](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == [
        "6: no-such-page.md: no such file in the repository",
        "6: other.md#no-such-part: no heading #no-such-part in other.md",
        "6: ../../x.md: no such file in the repository",
    ]
