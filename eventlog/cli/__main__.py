"""`python -m eventlog.cli ...` runs the `eventlog` command line."""

from eventlog.cli.app import main

main()
