"""Test databases: templates named after a fingerprint, one clone per worker slot.

Empty on purpose: a worker imports only :mod:`.attach` (and the SQLite loader), never the
template builder or the server-side cloners' policy."""
