"""Job definitions v0.1 (JSON or YAML): loading with positions, validation, the execution plan.

Typical use::

    job = load(Path("llama.json"))        # JobProblems (a ProblemList, exit 2) when invalid
    job.definition.ops[0].args.image      # the validated model (nosana_node.jobdef.schema)
    job.plan.groups                       # groups in run order, with their op ids
    job.warnings                          # accepted, but worth a look

Compilation to a flow and running come in a later phase; they read the model and the plan.
"""

from __future__ import annotations

from nosana_node.jobdef.validate import JobProblems, ValidJob, load, loads, validate_document

__all__ = ["JobProblems", "ValidJob", "load", "loads", "validate_document"]
