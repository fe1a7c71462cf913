"""The list pages' section of docs/PERFORMANCE.md and its chart (list p95 against rows, a
line per query and database), from bench.list_pages' figures.

The figures are kept beside the report (docs/performance-list-pages.json): building the
million rows takes minutes, so `python -m bench` measures them only with --list-pages and
otherwise reports the figures stored last, under their own date and command.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[1] / "docs"
FIGURES = "performance-list-pages.json"
CHART = "performance-list-pages.png"
GOAL = 1.5
# the page's statement names every column: shown shorter
_SELECT_LIST = re.compile(r"SELECT attachments\.id, .*? FROM")
HEADING = "## List pages: one clinic from 1,000 to 1,000,000 attachments"


def load(directory: Path = DOCS) -> dict[str, Any] | None:
    path = directory / FIGURES
    return json.loads(path.read_text()) if path.exists() else None


def store(results: dict[str, Any], directory: Path = DOCS) -> None:
    """The figures and the chart, in the report's directory."""
    (directory / FIGURES).write_text(json.dumps(results, indent=2) + "\n")
    draw(results, directory / CHART)


def list_pages_results(
    measure: bool, quick: bool, database_url: str | None, directory: Path
) -> dict[str, Any] | None:
    """`python -m bench --list-pages`: measured now (10,000 rows and 20 rounds when quick)
    and stored beside the report; without the flag, the figures stored there last."""
    if not measure:
        return load(directory)
    from bench import list_pages

    rows, rounds = (10_000, 20) if quick else (1_000_000, 100)
    command = "python -m bench --list-pages" + (" --quick" if quick else "")
    results = list_pages.run_all(rows, rounds, database_url, command)
    store(results, directory)
    return results


def draw(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dbs = results["databases"]
    fig, axes = plt.subplots(1, len(dbs), figsize=(6 * len(dbs), 4.5), squeeze=False)
    for ax, db in zip(axes[0], dbs, strict=True):
        rows = [s["rows"] for s in db["steps"]]
        for query in db["steps"][0]["queries"]:
            ax.plot(rows, [s["queries"][query]["p95_ms"] for s in db["steps"]], "o-", label=query)
        first = db["steps"][0]["queries"]
        worst = max(q["p95_ms"] for q in first.values())
        ax.axhline(worst * GOAL, color="grey", linestyle=":", label="1.5 x the slowest at 1k")
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("attachments in the clinic")
        ax.set_ylabel("p95 (ms)")
        ax.set_title(f"{db['database']}: list p95 against rows")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(f"{results['command']}, {results['date']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _ratio(db: dict[str, Any], query: str, figure: str = "p95_ms") -> float:
    first, last = db["steps"][0]["queries"][query], db["steps"][-1]["queries"][query]
    return round(last[figure] / first[figure], 2)


def list_pages_section(results: dict[str, Any] | None) -> list[str]:
    if results is None:
        return [HEADING, "", "Not measured yet: `python -m bench --list-pages`."]
    lines = [
        HEADING,
        "",
        f"`{results['command']}` on {results['date']}: one clinic whose one patient holds "
        "every attachment (so a patient's list is as long as the account's: the worst "
        "case), in a database of its own for each size, filled by bulk inserts (COPY on "
        "PostgreSQL, executemany on SQLite). Each query runs in-process through the real "
        f"app (auth included), {results['rounds']} times on each size after 5 to warm up, "
        "the sizes and queries interleaved round after round, so that the load of this "
        "shared machine (2 cores, five people's work; the load average before and after "
        "is given) falls on every size alike: ratios between sizes hold where absolute "
        "figures move. Goal: p95 at the largest size at most 1.5 x p95 at 1,000, for every "
        "query, on both databases.",
        "",
        f"![list p95 against rows]({CHART})",
        "",
    ]
    for db in results["databases"]:
        steps = db["steps"]
        head = " | ".join(f"{s['rows']:,}" for s in steps)
        lines += [
            f"### {db['database']}",
            "",
            f"p50 / p95 in ms by attachments in the clinic; ratio = p95 at {steps[-1]['rows']:,}"
            f" / p95 at {steps[0]['rows']:,} (the goal's), and the same of p50 (steadier on "
            "a loaded machine).",
            "",
            f"| query | {head} | ratio | p50 ratio | goal ≤ {GOAL} |",
            "|---|" + "---|" * len(steps) + "---|---|---|",
        ]
        for query in steps[0]["queries"]:
            cells = " | ".join(
                f"{s['queries'][query]['p50_ms']} / {s['queries'][query]['p95_ms']}" for s in steps
            )
            ratio = _ratio(db, query)
            met = "met" if ratio <= GOAL else "**not met**"
            p50 = _ratio(db, query, "p50_ms")
            lines.append(f"| {query} | {cells} | **{ratio}** | {p50} | {met} |")
        before, after = db["load_average"]
        lines += [
            "",
            f"Load average (1 min) before and after: {before}, {after}. Bulk insert of "
            f"{steps[-1]['rows']:,} rows with its indexes, counts and statistics: "
            f"{steps[-1]['fill_seconds']} s.",
            "",
        ]
    lines += [HOW, ""]
    for db in results["databases"]:
        lines += [f"### The plans on {db['database']} at {db['steps'][-1]['rows']:,} rows", ""]
        for query, plans in db["plans"].items():
            shown = [_SELECT_LIST.sub("SELECT attachments.<every column> FROM", p) for p in plans]
            lines += [f"{query}:", "", "```", *"\n\n".join(shown).split("\n"), "```", ""]
    return lines


HOW = """### How the lists stay flat

- `total_entries` stays exact and costs one primary-key read: `attachment_counts` holds
  each account's (patient 0) and each patient's live and archived attachments, changed in
  the transaction that inserts an attachment or archives or unarchives it (an upsert of
  deltas; archiving is one conditional `UPDATE`, so two racing archivings count once).
  Attachments are never deleted or moved to another patient (a quarantined file that is
  deleted stays, failed; the sweep deletes objects, not rows), so nothing else changes the
  counts. A list uses them when its filters are only about archiving (none,
  `archived_at:?`, `archived_at:!?`, `archived_at:*`); a size filter has counts of its own
  (below); any other filter counts the rows it selects, from an index where one serves
  it. Migration 0008 backfills the counts (one grouped scan of the table);
  `tests/integration/test_attachment_counts.py` compares them with `COUNT(*)` after
  sequential and concurrent operations (8 threads, racing archive and unarchive, a worker
  running) and after the migration, on both databases.
- Pages are read in order from partial indexes of the live rows (`WHERE archived_at IS
  NULL`): `(account_id, created_at, id)`, `(patient_id, created_at, id)` and
  `(account_id, size)`. A page of 50 reads offset + 50 index entries and sorts nothing.
  (The indexes they replace led with `archived_at`; PostgreSQL does not take `archived_at
  IS NULL` as fixing that column, so it could not read created_at's order from them and
  sorted the whole clinic for each page.) `tests/integration/test_list_plans.py` holds
  these plans on both databases.
- SQLite keeps no statistics unless asked: without them it read the size-filtered,
  newest-first page through the size index and sorted every match. clinifile now runs
  `ANALYZE` (with `PRAGMA analysis_limit=1000`: milliseconds at any size) at each
  process's first connection; a server started on a near-empty database gets statistics
  of the large one at its next start. PostgreSQL's autovacuum keeps its own.
- A list of the account's attachments filtered by size (`>=`, `>`, `<=`, `<`, two of
  them for a range, `?`; with or without `archived_at`'s presence) takes its exact total
  from `attachment_size_counts` (`db/size_counts.py`, migration 0010): each account's
  live and archived attachments counted by size in narrow bands (every size below 64 a
  band of its own; each power of two above cut in 32, so a band is about 3% of its sizes
  wide), changed in the transaction that sets a size (a job ending completed or
  quarantined; nothing clears one; on PostgreSQL in the completion's own statement) or
  archives or unarchives a sized attachment, each band's count spread over 8 rows by
  attachment id (workers completing files of one size do not queue for one row's lock).
  The bands wholly inside the filter's range are summed (sizes from 1 KB to 4 GB make
  about 700 bands, of up to 8 rows each; here 32 bands); the one or two bands its bounds
  cut are counted from the size index over only that slice (here sizes 500 to 503: 4,000
  index entries at a million rows, where the count read the 500,000 matches), in one
  statement (one snapshot). A list of archived ones reads the same slice from
  `(account_id, size) WHERE archived_at IS NOT NULL`. One patient's list filtered by
  size still counts that patient's rows (bands per patient would not help: without an
  index of a patient's rows by size, counting a cut band's slice reads all of them
  anyway). `tests/integration/test_size_counts.py` compares the totals with counting the
  rows at and around every kind of band edge (0, 1, 63/64, powers of two and their
  neighbours, the largest BIGINT), with archived, unarchived, quarantined,
  deleted-from-quarantine, failed and pending attachments and another clinic's beside
  them, after racing completions and archivings, and after the migration, on both
  databases."""


def save(results: dict[str, Any]) -> None:
    """Figures and chart next to the doc, and the doc's section rewritten in place."""
    store(results)
    doc = DOCS / "PERFORMANCE.md"
    text = doc.read_text()
    new = "\n".join(list_pages_section(results)) + "\n"
    # the figures this section replaces, from when they were measured separately
    text = re.sub(
        r"### List pages at 1,000 and 1,000,000 attachments.*?(?=\n### )", "", text, flags=re.S
    )
    pattern = re.compile(re.escape(HEADING) + r".*?(?=\n## |\Z)", re.S)
    separate = "## Measured separately"
    if pattern.search(text):
        text = pattern.sub(lambda _: new.rstrip("\n") + "\n", text)
    elif separate in text:  # where `python -m bench` puts it: before those
        text = text.replace(separate, new + "\n" + separate, 1)
    else:
        text = text.rstrip("\n") + "\n\n" + new
    doc.write_text(text)
