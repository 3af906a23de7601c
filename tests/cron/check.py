#!/usr/bin/env python3
"""Next fire times of cron expressions by croniter (python3-croniter, Debian), for the cron unit
test to compare with. Reads lines "EXPRESSION<TAB>START_MS" on stdin; writes one line per input:
the next 5 fire times in unix milliseconds, space-separated, or "invalid"."""
import sys
from datetime import datetime, timezone

from croniter import croniter

for line in sys.stdin:
    expr, start = line.rstrip("\n").split("\t")
    try:
        it = croniter(expr, datetime.fromtimestamp(int(start) / 1000, tz=timezone.utc), day_or=True)
        out = []
        for _ in range(5):
            t = it.get_next(datetime)
            out.append(str(int(t.timestamp()) * 1000))
        print(" ".join(out))
    except Exception:  # noqa: BLE001 - anything croniter refuses
        print("invalid")
    sys.stdout.flush()
