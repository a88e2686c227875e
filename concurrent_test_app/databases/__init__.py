"""Test databases: templates named after a fingerprint, one clone per worker slot.

- :mod:`.naming` every derived name; :mod:`.fingerprint` what a template is built from;
  :mod:`.schema` the tables a built template must have; :mod:`.types` the shared types;
- :mod:`.template` builds or reuses a template; :mod:`.sweep` drops old templates and the
  clones of runs that are gone; :mod:`.owners` says who made a clone;
- :mod:`.slots` is the parent's side of a run (:class:`~.slots.WorkerDatabases`), with the
  run's holds and claims in :mod:`.holds`; :mod:`.attach` is the worker's side;
- :mod:`.cloning` holds one cloner per vendor: the only place where vendors differ.

Empty on purpose: a worker imports only :mod:`.attach` of this package (which reaches the
SQLite loader through :mod:`.cloning`), never the template builder, the slots or the sweep.
"""
