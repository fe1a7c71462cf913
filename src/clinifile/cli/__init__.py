"""The `clinifile` command line."""
