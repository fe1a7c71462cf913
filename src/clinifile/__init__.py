"""clinifile: patient attachments behind a Cliniko-compatible API."""

__version__ = "0.1.0"
