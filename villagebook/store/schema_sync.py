"""Schema steps of the sync area (see `villagebook.store.migrations`).

Append new steps at the end; never edit or reorder a released one.
"""

from __future__ import annotations

from villagebook.store.migrations_base import Step

STEPS: tuple[Step, ...] = ()
