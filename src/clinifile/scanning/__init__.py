"""Malware scanning with ClamAV's daemon: its socket protocol (clamd) and the private clamd
`serve` runs (runner)."""
