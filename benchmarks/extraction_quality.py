"""Measures how well ``knowledge.extraction.extract_html`` recovers articles from news pages.

Builds 20 pages (4 per BBC category, the five layouts of ``tests/newspages.py`` in turn) from
the BBC corpus, extracts each one directly (no network), and reports per page:

* ``char_recall``   share of the source body's characters recovered (difflib matching blocks)
* ``para_exact``    share of source paragraphs found verbatim as paragraphs of the output
* ``token_prec``    share of output word tokens that belong to the source body (multiset)
* ``leak``          share of boilerplate-only word tokens that show up in the output
* ``leaked_strings`` boilerplate strings found verbatim in the output
* title / published / updated / source correctness, and extraction time.

Prints a table and the averages, and writes ``benchmarks/results/extraction_quality.json``.
Run: ``python benchmarks/extraction_quality.py`` (``--smoke``: one page per layout, written to
``extraction_quality_smoke.json``, for CI)
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.extraction import ExtractionError, extract_html  # noqa: E402
from tests.newspages import CATEGORIES, VARIANTS, bbc_available, build_page, load_story  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
NUMBERS = (12, 57, 123, 199)  # 4 stories per category, 20 pages in all
_WORD = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def measure(category: str, number: int, variant: int) -> dict:
    page = build_page(load_story(category, number), variant)
    source = "\n\n".join(page.story.paragraphs)
    start = time.perf_counter()
    try:
        article = extract_html(page.html, "https://mirror.example/story")
        text, error = article.text, ""
    except ExtractionError as exc:
        article, text, error = None, "", exc.reason
    millis = (time.perf_counter() - start) * 1000

    matcher = SequenceMatcher(None, source, text, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    out_paragraphs = set(text.split("\n\n"))
    source_counts = Counter(tokens(source))
    out_tokens = tokens(text)
    in_source = sum((Counter(out_tokens) & source_counts).values())
    boiler_only = {t for b in page.boilerplate for t in tokens(b)} - set(source_counts)
    leaked_tokens = boiler_only & set(out_tokens)
    return {
        "page": f"{category}/{number:03d}",
        "variant": variant,
        "source_chars": len(source),
        "output_chars": len(text),
        "char_recall": matched / len(source),
        "para_exact": sum(p in out_paragraphs for p in page.story.paragraphs) / len(page.story.paragraphs),
        "token_prec": in_source / len(out_tokens) if out_tokens else 0.0,
        "leak": len(leaked_tokens) / len(boiler_only) if boiler_only else 0.0,
        "leaked_strings": [b for b in page.boilerplate if b in text],
        "title_ok": bool(article and article.title == page.story.headline),
        "published_ok": bool(article and article.published == page.published),
        "updated_ok": bool(article and article.updated == page.updated),
        "source_ok": bool(article and article.source == page.site),
        "ms": millis,
        "error": error,
    }


def main() -> int:
    smoke = "--smoke" in sys.argv[1:]
    if not bbc_available():
        print("BBC corpus not found; set NEWSBOT_BBC_DIR", file=sys.stderr)
        return 1
    rows = [
        measure(category, number, (c + k) % VARIANTS)
        for c, category in enumerate(CATEGORIES)
        for k, number in enumerate(NUMBERS[:1] if smoke else NUMBERS)
    ]
    header = f"{'page':<18}{'var':>4}{'chars':>7}{'recall':>8}{'paras':>7}{'prec':>7}{'leak':>7}  title date upd  site {'ms':>6}"
    print(header)
    print("-" * len(header))
    yes = {True: "ok", False: "NO"}
    for r in rows:
        print(
            f"{r['page']:<18}{r['variant']:>4}{r['source_chars']:>7}{r['char_recall']:>8.3f}"
            f"{r['para_exact']:>7.2f}{r['token_prec']:>7.3f}{r['leak']:>7.3f}  {yes[r['title_ok']]:>5}"
            f" {yes[r['published_ok']]:>4} {yes[r['updated_ok']]:>3} {yes[r['source_ok']]:>5} {r['ms']:>6.1f}"
            + (f"  leaked: {r['leaked_strings']}" if r["leaked_strings"] else "")
            + (f"  error: {r['error']}" if r["error"] else "")
        )
    keys = ("char_recall", "para_exact", "token_prec", "leak", "title_ok", "published_ok", "updated_ok", "source_ok", "ms")
    averages = {k: sum(float(r[k]) for r in rows) / len(rows) for k in keys}
    print("-" * len(header))
    print("averages: " + ", ".join(f"{k}={v:.3f}" for k, v in averages.items()))
    out = RESULTS / ("extraction_quality_smoke.json" if smoke else "extraction_quality.json")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"pages": rows, "averages": averages}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
