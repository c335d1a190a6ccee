"""The decision core: pure functions from (rulebook, signal, state, clock time) to new state,
windows and the reasons behind them.

The stream glue (`streams/`) and the offline tools (`rules.offline`) call the same
functions, so both give the same answers. Nothing here imports Faust, Kafka or Prometheus,
does I/O or reads a clock: time is always passed in, timezone-aware UTC.
"""
