"""The `villagebook` command line: the public, scriptable interface (see README).

Exit codes: 0 success; 1 an input was rejected (one clear line on stderr, in the
user's language, nothing changed); 2 usage error; 3 an unexpected internal
error (details in the home's error.log, never a traceback on the terminal).
"""

from villagebook.cli import (
    clock,  # noqa: F401  (registers its commands)
    config,  # noqa: F401  (registers its commands)
    evaluation,  # noqa: F401  (registers its commands)
    evidence,  # noqa: F401  (registers its commands)
    records,  # noqa: F401  (registers its commands)
    sync,  # noqa: F401  (registers its commands)
)
from villagebook.cli.base import cli, main

__all__ = ["cli", "main"]
