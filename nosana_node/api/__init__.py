"""The node's own HTTP API and status page (served by ``node start``).

| module | job |
|---|---|
| :mod:`.view` | the seam to the node: ``NodeView`` (read model, runs, events) and ``JobEntry`` |
| :mod:`.bus` | ``LogBus``: the runner's reporter; numbered live log lines and op/flow changes |
| :mod:`.fanout` | live lines to many followers: bounded queues, slow clients dropped |
| :mod:`.storedlog` | a flow's stored log read back, merged by time, in bounded batches |
| :mod:`.access` | who may read a job's logs: the operator token, the poster's signed challenge |
| :mod:`.health` | ``/health``: engine, RPC, vault and disk checks, rate-limited |
| :mod:`.chainstatus` | the chain's side of ``/status``: market, queue, balances, stake, payments |
| :mod:`.refresh` | a value fetched off the loop at most once per TTL |
| :mod:`.metrics` | the Prometheus text format (counters, gauges, histograms) |
| :mod:`.nodemetrics` | the node's metrics, fed by events, the bus and the RPC client |
| :mod:`.server` | the aiohttp application and the thread that serves it |
| :mod:`.client` | the developer's side: ``job logs`` signs a challenge and follows |
| ``page.html`` | the status page (self-contained) |
"""
