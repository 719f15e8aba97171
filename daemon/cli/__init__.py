"""The ``aiopsd`` command line: a root Typer app with one module per command group."""
