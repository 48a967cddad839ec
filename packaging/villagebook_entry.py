"""The frozen executable's entry point (PyInstaller runs a script, not a console_scripts entry)."""

from villagebook.cli import main

main()
