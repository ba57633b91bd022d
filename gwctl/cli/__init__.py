"""The ``gwctl`` command line: argument parsing and presentation only."""
