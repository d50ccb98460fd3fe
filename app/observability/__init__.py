"""What every layer may use to be observed: the log context and the metrics."""
