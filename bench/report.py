"""docs/performance.md, as `make bench` writes it: a title, then sections of markdown.

A section is a heading and its lines. A run gives three of them (`run_sections`: the run itself,
its figures, its notes); the sections that explain how the figures are measured and what they say
stay the same from run to run, and live here (`sections`). A new part of the page is one more
`Section` in either list.
"""

import os
import platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.common import ROOT, Figure

PERFORMANCE_PATH = ROOT / "docs" / "performance.md"
TITLE = "Performance"
PREAMBLE = [
    "`make bench` (`python -m bench`) writes this page after each run: edit `bench/report.py`,",
    "not this file.",
]
TABLE_HEADER = ["| figure | measured | floor | ratio | target |", "|---|---|---|---|---|"]

HOW_IT_MEASURES = """\
`make bench` measures each figure beside its floor in the same run, alternating between the two
so that noise on a shared machine hits both, and prints the run's table and notes. It shows its
progress as it goes, on stderr (a bar on a terminal, plain lines otherwise). The cold-start and
restore figures run what Lambda runs: the ApiFunction artifact, built for this machine, under
Python 3.13 with nothing else on `sys.path` (without a Python 3.13, the repository's `.venv`,
and a note says so). Each module of `bench/` says what its floor is: for the warm figures, the
same AWS calls made directly; for a cold start, a bare botocore handler doing the same call; for
a batch, its processing delay. Other work on the machine during a run widens the ratios: the
run's section gives the load average when it started.
""".splitlines()

WHAT_THE_FIGURES_SAY = """\
- **Restore → first response** (SnapStart; primed: 1.03x to 1.12x of its floor across the
  recorded runs, target 1.2x; 1.26x to 1.41x with the stubbed requests alone). A child forked
  from an initialized process stands for an environment restored from its snapshot. With the app
  only imported, as before the SnapStart hooks, the first request loads botocore's service
  models and endpoint rulesets and warms every layer of the app: about 6x to 10x the floor, up
  to about 300 ms for a GET. Primed before the snapshot (each route served with stubbed AWS
  answers, then one real HTTP exchange per service by throwaway clients with a server on the
  loopback address, for the signer, urllib3 and the parsers that stubs skip), it pays what the
  floor pays: the first connection. See [ADR 0004](adr/0004-snapstart-priming.md).
- **Cold start** (about 2.5x its floor in the recorded runs, target 1.5x, not met). Importing
  `app.main` costs about 400 ms on a 2-core machine, of which FastAPI, pydantic, Starlette and
  the OpenTelemetry API that FastAPI imports take about half: as much as the whole floor, a
  botocore handler. What the app itself could cut, it has: clients come from botocore, not boto3
  (boto3 also imports s3transfer; [ADR 0005](adr/0005-botocore-without-boto3.md)); nothing is
  created at import; each artifact holds only what its handler imports, compiled to bytecode. On
  AWS the API function uses SnapStart, so this cost is paid once per deployment.
- **Warm overhead** (target 1.2x: met by both `POST /enrollments` in the recorded runs; the
  others ranged from 1.17x to 1.34x, and `POST /age-groups` has swung as far as 1.65x). A Lambda
  environment serves one request at a time, so on Lambda the routes' blocking calls run inline
  on the event loop instead of hopping to a worker thread
  ([ADR 0006](adr/0006-the-thread-hop.md)); under Mangum that hop also started a new thread per
  request, and removing it took the GETs from about 1.35x to 1.15x. Offline (botocore stubbed)
  the app adds about 0.25 ms to a request; against the emulator the same code takes about 0.8
  ms, as it runs right after a 4 ms network wait on a busy machine. What remains is FastAPI's
  dependency solving, routing, pydantic validation and serialization, and Mangum's event
  translation.
- **Lists** (`GET /enrollments`: a client's first and next page of 20 at about 1.06x their
  floor, one Query; every client's, the stack key's, four Queries, one a shard, at about 1.07x).
  What the app adds to the Query is the query parameters' validation, one HMAC to open the
  cursor and one to seal the next, and 20 items serialized. moto answers a Query of an index by
  reading every item of the table, so here a page takes tens of milliseconds, more as the table
  grows; DynamoDB reads the page's items only, one read unit for 20
  ([ADR 0011](adr/0011-enrollment-lists.md)).
- **`Idempotency-Key`** (about 1.06x its own floor). A first request with a key makes one more
  DynamoDB call (the claim) and writes in a transaction instead of a put; the app's own share is
  the same as without a key. Against moto it costs 25 to 40 ms more than a request without a
  key, nearly all of it moto copying the enrollments table for each transaction (its rollback),
  a cost that grows with the table and that DynamoDB does not have.
- **Processing** (a batch: met). A batch of ten takes its processing delay plus 3 to 6%: its
  records run concurrently. Sequentially the same batch takes ten delays, so the processor costs
  a tenth of the GB-seconds (at 128 MB, from its measured peak of about 60 MB).
- **Sustained intake** (p99 and growth met in the last recorded run; growth was 1.14x in a run
  on a loaded machine). At 80% of capacity, as the usage plan's 50/s is of the processor's 62.5/s,
  enrollments are processed about one delay after they are accepted, from the first quarter of
  the run to the last. Without the batching window the same run took two delays each: every
  invocation held a batch of one or two, and the rest waited for a free one.
- **100 enrollments through the local stack** (target 1.3x, not met: 1.6x in the last recorded
  run). With 25 concurrent batches, the floor is a single round of one delay; the rest is the
  emulator, one moto process on two cores serving the hundred reads and updates at once beside
  the poller.
- **Webhook: `PROCESSED` → delivery received** (goal p99 <= 1 s locally, not met: 0.96 s, then 1.43
  s and 1.33 s in the recorded runs, on a machine shared with other work; p50 0.53 to 0.66 s; the
  floor, one signed POST on loopback, under 1 ms at p50). The POST is not what costs: the path's
  polling and the emulator are. Locally, the stream mapping (`local/stream.py`) that finds no record
  waits its `POLL_INTERVAL_SECONDS`, 250 ms (Lambda's four polls a second of a shard), before it
  looks again, so a change waits up to 250 ms to be seen; each look is three calls to the emulator
  (DescribeStream, GetShardIterator, GetRecords). Then the invocation reads the enrollment and the
  webhook and sends the job; the delivery queue's poller (`local/poller.py`), long-polling, receives
  it at once (no batching window); the attempt reads both again, POSTs and writes the attempt. Every
  one of those calls goes to one moto process on two cores, which also serves the API and the
  processor's poller: the notes give the median from `PROCESSED` to the attempt's start, most of the
  figure. On AWS the figure is the sum of: the stream's propagation (a change reaches the stream
  typically well under a second after the write); Lambda's polling of each shard, four times a
  second (up to 250 ms); the stream mapping's batching window, none (template.yaml,
  `EnrollmentChanges`: `MaximumBatchingWindowInSeconds: 0`, `BatchSize: 100`: an invocation starts
  as soon as a poll finds a record); the delivery queue's polling (`DeliveryJobs`: `BatchSize: 10`
  and no batching window, so Lambda's long-polling pollers take a job as soon as it is sent); a few
  DynamoDB and SQS calls of single-digit milliseconds each; a cold start of the notifier, when one
  comes; and the endpoint's answer time, which a partner sets (up to the 15 s timeout). A partner
  that polls once after `Retry-After` learns of `PROCESSED` about 6 s after its `POST`; with a
  webhook, the sum above after the processing ends: typically under a second, and the endpoint's
  own answer time.
""".splitlines()


COST_CHANGES = """\
The cost table above prices each service from this run's quantities (`bench/usage.py`) and the
prices in `bench/prices.toml`, each with its source and the date it was read. Two changes were
made because the table showed where the money went; each was measured before and after (`python
-m bench.usage`, the cost part of `make bench`, on 2026-11-30):

- **`Retry-After` on `202` and on a `PENDING` read.** A client that polls every second read each
  enrollment 5.66 times at 50/s and 5.70 at 1/s; following the header, 1.03 and 1.00. API
  Gateway, the largest line, went from $23.32 to $7.10 per million enrollments at 50/s. The cost
  in latency: a client learns of `PROCESSED` about 6 s after its `POST`, against a measured time
  to `PROCESSED` of 5.1 s (median) and 6.8 s (max).
- **An X-Ray sampling rule for the API's stage** (no reservoir, 5%): X-Ray went from $8.75 to
  $4.00 per million at 1/s (1.75 to 0.80 traces an enrollment), $0.75 to $0.65 at 50/s; the
  total at 1/s from $24.54 to $19.79.

**A webhook instead of polls** (the column "webhook instead of polls", at the admitted rate). A
client with an endpoint never polls: the GET, its API Gateway request, the API function's
invocation, its DynamoDB read and its log lines are gone. In their place the notifier: a share of
a stream invocation (Lambda polls a shard four times a second; at 50/s with no batching window
that is about 12.5 records an invocation, within the template's `BatchSize: 100`), a share of a
delivery invocation (the jobs of a stream batch, up to the queue mapping's `BatchSize: 10`),
their GB-seconds (measured warm, against a receiver that answers at once: a partner's answer
time adds to each delivery invocation, 128 MB per batch), the job's SQS send, receive and
delete, the attempt's PutItem in the deliveries table, and the reads of the webhook and the
enrollment, in the stream's invocation (eventually consistent for the webhook) and again in the
delivery's. The stream's GetRecords cost nothing: DynamoDB does not charge for the GetRecords a
Lambda trigger makes (DynamoDB pricing page, DynamoDB Streams; the DynamoDB guide's "Evaluate
your DynamoDB Streams usage"; `bench/prices.toml`). The stream invokes the notifier on every
enrollment's move to `PROCESSED` whether or not its client has an endpoint, so the polling
columns carry that share too (the stream's invocation and its two reads).

The seed's design is set beside ours twice: with its clients polling every second, as the table
always has, and polling once after a `Retry-After`, as ours do. The second is the fair
comparison: `Retry-After` is a client's habit as much as a design, and the seed's clients could
have followed one too. In the run above, against a seed whose clients poll every second, our
polling clients cost 0.89x the seed's and a webhook instead of the polls 0.76x; against a seed
whose clients poll once after `Retry-After`, 1.38x and 1.18x: our design costs more per
enrollment than the seed's, webhook or not. What it pays for: the enrollments' indexes
(`GET /enrollments` and the CPF index: 11 of its 13 write units, $6.88 a million, where the seed
has none), the REST API's $3.50 a million requests against the HTTP API's $1.00 (usage plans and
keys), and the notifier's share. What it saves: the processor's batches (a tenth of the seed's
GB-seconds), and with a webhook every poll. On the quantities recorded before the indexes (the
previous bench/measured.json, no index writes), the same model gives 0.53x against a seed polling
every second and 0.83x against one following `Retry-After`.

Not changed, and why: the API function's memory (its Lambda line is under $1 per million, so
halving it would save about $0.1 for a latency this machine cannot measure as Lambda's CPU share
would); the processor's tracing and batching window at 1/s (its $4.86 per million is mostly the
4 s of work; a longer window would delay every enrollment). The usage plan has no monthly quota
unless a deployment sets `UsagePlanMonthlyQuota`; one would bind first at any sustained load
(`make plan` says how large it must be for a rate).
""".splitlines()


@dataclass(frozen=True)
class Section:
    """One part of the report: a heading, and the markdown lines under it."""

    heading: str
    lines: Sequence[str]


def figures_table(figures: Iterable[Figure]) -> list[str]:
    """The figures as a markdown table, one row each."""
    return [*TABLE_HEADER, *(figure.row() for figure in figures)]


def bullet_list(items: Iterable[str]) -> list[str]:
    """The items as a markdown list."""
    return [f"- {item}" for item in items]


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes, as text."""
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def run_lines(started: datetime, seconds: float, load: str) -> list[str]:
    """When the run started, how long it took, and on what: CPUs, load, Python."""
    minutes, rest = divmod(round(seconds), 60)
    return bullet_list(
        [
            f"started {started:%Y-%m-%d %H:%M} UTC, took {minutes} min {rest} s",
            f"machine: {os.cpu_count()} CPUs ({platform.machine()}, {platform.system()}); "
            f"load average when it started: {load} (1, 5 and 15 min)",
            f"Python {platform.python_version()} running the benchmarks; the interpreter of the "
            "cold-start and restore figures is in the notes",
        ]
    )


def run_sections(run: Sequence[str], table: Sequence[str], notes: Sequence[str]) -> list[Section]:
    """What one run found: the run itself, its figures, its notes."""
    return [Section("The run", run), Section("Figures", table), Section("Notes", notes)]


def sections(measured: Sequence[Section]) -> list[Section]:
    """Every section of the page, in order: how it measures, the run's, what the figures say."""
    return [
        Section("How it measures", HOW_IT_MEASURES),
        *measured,
        Section("What the figures say", WHAT_THE_FIGURES_SAY),
        Section("What changed the cost", COST_CHANGES),
    ]


def render(parts: Iterable[Section], level: int = 2) -> str:
    """The sections as markdown, each under a heading of `level`."""
    out: list[str] = []
    for section in parts:
        out += ["", f"{'#' * level} {section.heading}", "", *section.lines]
    return "\n".join(out).strip("\n") + "\n"


def document(parts: Iterable[Section]) -> str:
    """The whole page: its title, the preamble, then the sections."""
    return "\n".join([f"# {TITLE}", "", *PREAMBLE, "", render(parts)])


def write(text: str, path: Path = PERFORMANCE_PATH) -> Path:
    """Write the page; return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
