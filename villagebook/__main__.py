"""`python -m villagebook` runs the command line."""

from villagebook.cli import main

main()
