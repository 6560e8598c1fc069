"""The node: a host joins a market, takes the jobs the chain gives it, runs them, finishes them.

| module | job |
|---|---|
| :mod:`.parts` | what a node is made of, built from the configuration (``build_parts``) |
| :mod:`.checks` | start-up checks, one verdict each |
| :mod:`.state` | the node's records on disk (``NodeDb``: a step per run, saved first), the home lock |
| :mod:`.documents` | a job's document: fetched by CID, its format told, compiled (``compile_job_document``) |
| :mod:`.jobs` | one job from its run to its finish (``JobProcessor``) |
| :mod:`.results` | the result document |
| :mod:`.loop` | the queue, assignments, retries, shutdown (``Node``) |
| :mod:`.events` | lifecycle events (``NodeEvents``) and the read model (``NodeState``) |
| :mod:`.secrets` | which secrets market jobs may read (``MarketSecrets``) |
| :mod:`.status` | ``node status`` |
"""
