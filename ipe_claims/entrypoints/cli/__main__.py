"""``python -m ipe_claims.entrypoints.cli``: the ``ipe`` command, as ``ipe up --detach`` re-runs it."""

from ipe_claims.entrypoints.cli import main

main()
