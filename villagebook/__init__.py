"""VillageBook: offline village-level reporting for grassroots innovation.

Kept import-free on purpose: the terminal app's start-up time depends on it.
"""

__version__ = "0.1.0"
