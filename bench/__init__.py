"""Measurement: `make bench`, each figure side by side with its floor in the same run; `make soak`,
the local stack under load (with faults, `--retries`), every enrollment accounted for."""
