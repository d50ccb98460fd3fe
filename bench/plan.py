"""`python -m bench.plan RATE` (`make plan RATE=200`): what to set for a sustained rate.

It works from the quantities the last `make bench` measured (bench/measured.json).
"""

import sys
from collections.abc import Sequence

from bench.cost import parse_rate, plan, plan_lines
from bench.usage import MEASURED_PATH, load_measured
from local.gateway import usage_plan_quota
from local.template import load_template


def main(argv: Sequence[str] | None = None) -> int:
    """Print the plan for the rate given, or say why the rate is not one; 2 on a bad rate."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: make plan RATE=<enrollments a second, e.g. 200>", file=sys.stderr)
        return 2
    try:
        rate = parse_rate(args[0])
    except ValueError as exc:
        print(f"make plan: {exc}", file=sys.stderr)
        return 2
    result = plan(rate, load_measured(), monthly_quota=usage_plan_quota(load_template()))
    print("\n".join(plan_lines(result)))
    print(f"\n(measured quantities: {MEASURED_PATH.name}, written by make bench)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
