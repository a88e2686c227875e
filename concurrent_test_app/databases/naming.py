"""Every database name this app derives, computed in one function each, and the check on them.

A derived name reads ``<prefix>_<kind>_<fingerprint>[_<run token>]_<check>``:

- ``prefix`` joins the test database name, the project and the alias (shortened with a hash
  when too long), so each project's databases on a shared server are told apart;
- ``kind`` is ``tpl`` for a published template, ``bld`` for a template being built, and
  ``w<slot>`` for worker ``slot``'s clone;
- ``fingerprint`` is 12 hex digits of the schema fingerprint;
- the run token (clones only) is unique to one run, ``keepdb`` for clones kept between runs,
  or ``ready`` for the ready clones a run leaves for the next (see :mod:`.ready`), where
  ``w<n>`` numbers the ready clone rather than a worker slot;
- ``check`` is 4 hex digits of a hash over the rest, so that a name typed by hand or belonging
  to somebody else's database never passes :func:`assert_derived` by accident.

Every name fits PostgreSQL's 63 and MySQL's 64 character limits. SQLite templates and clones
are files named the same way, with a ``.sqlite3`` suffix, in :func:`sqlite_directory`.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from concurrent_test_app.conf import app_settings
from concurrent_test_app.databases.types import SettingsDict
from concurrent_test_app.exceptions import UnsafeDatabaseNameError

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 63  # PostgreSQL's limit; MySQL allows 64.
MAX_PREFIX_LENGTH = 32
FINGERPRINT_DIGITS = 12
KEEPDB_TOKEN = "keepdb"
READY_TOKEN = "ready"
SQLITE_SUFFIX = ".sqlite3"
SQLITE_FOLDER = ".concurrent_test"

TEMPLATE = "tpl"
BUILDING = "bld"
CLONE = "w"

# Mixed into the check digits so that they mean "derived by this app", not just "well formed".
_SEAL = b"django-concurrent-test/naming/1"

_NAME_RE = re.compile(
    r"^(?P<prefix>[a-z0-9_]+?)_(?P<kind>tpl|bld|w(?P<slot>[0-9]{1,4}))"
    r"_(?P<fingerprint>[0-9a-f]{12})(?:_(?P<token>[a-z0-9]{6}|ready))?_(?P<check>[0-9a-f]{4})$"
)
_UNSAFE_CHARS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class DerivedName:
    """The parts of a name that :func:`assert_derived` accepted."""

    name: str
    prefix: str
    kind: str
    fingerprint: str
    slot: int | None
    token: str | None


def _hash(text: str, digits: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:digits]


def _slug(text: str) -> str:
    return _UNSAFE_CHARS.sub("_", text.lower()).strip("_")


def _seal(body: str) -> str:
    check = hashlib.sha256(_SEAL + body.encode()).hexdigest()[:4]
    name = f"{body}_{check}"
    if len(name) > MAX_NAME_LENGTH:  # a bug here, never a user error: prefixes are capped
        raise UnsafeDatabaseNameError(
            f"The derived name {name!r} is longer than {MAX_NAME_LENGTH}."
        )
    return name


def _short(fingerprint: str) -> str:
    short = fingerprint[:FINGERPRINT_DIGITS].lower()
    if not re.fullmatch(r"[0-9a-f]{12}", short):
        raise UnsafeDatabaseNameError(
            f"A fingerprint must start with 12 hex digits, not {fingerprint!r}."
        )
    return short


def default_project_name() -> str:
    """Return the project name derived from the settings module and the project's root folder.

    Two projects whose settings are both ``config.settings`` still get different names,
    because the root folder's absolute path is hashed into the name.
    """
    module = app_settings.settings_module
    root = Path.cwd()
    if module:
        try:
            package = importlib.import_module(module.split(".")[0])
            package_file = getattr(package, "__file__", None)
            if package_file:
                path = Path(package_file).resolve()
                # A package's __init__.py lives one folder deeper than a plain module.
                root = path.parent.parent if path.name == "__init__.py" else path.parent
        except ImportError:
            pass
    readable = _slug(root.name)[:10] or "project"
    return f"{readable}{_hash(f'{root.resolve()}:{module}', 4)}"


def project_name() -> str:
    """Return PROJECT_NAME, or the derived default."""
    return app_settings.project_name or default_project_name()


def name_prefix(test_database_name: str, alias: str, project: str | None = None) -> str:
    """Return the prefix shared by every name derived for one test database of one project."""
    parts = [_slug(test_database_name), _slug(project or project_name()), _slug(alias)]
    raw = "_".join(part for part in parts if part) or "db"
    if len(raw) > MAX_PREFIX_LENGTH:
        raw = f"{raw[: MAX_PREFIX_LENGTH - 7].rstrip('_')}_{_hash(raw, 6)}"
    return raw


def template_name(prefix: str, fingerprint: str) -> str:
    """Return the published template's name for ``fingerprint``."""
    return _seal(f"{prefix}_{TEMPLATE}_{_short(fingerprint)}")


def building_name(prefix: str, fingerprint: str) -> str:
    """Return the temporary name a template of ``fingerprint`` is built under."""
    return _seal(f"{prefix}_{BUILDING}_{_short(fingerprint)}")


def clone_name(template: str, slot: int, run_token: str) -> str:
    """Return worker ``slot``'s clone of ``template`` for the run holding ``run_token``."""
    parsed = assert_derived(template, kind=TEMPLATE)
    if not re.fullmatch(r"[a-z0-9]{6}", run_token) and run_token != READY_TOKEN:
        raise UnsafeDatabaseNameError(
            f"A run token is 6 lowercase letters or digits or {READY_TOKEN!r}, not {run_token!r}."
        )
    if not 0 < slot < 10_000:
        raise UnsafeDatabaseNameError(f"A worker slot is between 1 and 9999, not {slot!r}.")
    return _seal(f"{parsed.prefix}_{CLONE}{slot}_{parsed.fingerprint}_{run_token}")


def new_run_token() -> str:
    """Return a token unique to one run, so two runs of one project never share a clone."""
    return secrets.token_hex(3)


def parse(name: str) -> DerivedName | None:
    """Return the parts of ``name`` (a database name or a SQLite file path), or None."""
    base = Path(name).name if ("/" in name or name.endswith(SQLITE_SUFFIX)) else name
    if base.endswith(SQLITE_SUFFIX):
        base = base[: -len(SQLITE_SUFFIX)]
    match = _NAME_RE.match(base)
    if match is None or len(base) > MAX_NAME_LENGTH:
        return None
    body = base[: -len(match["check"]) - 1]
    if _seal(body) != base:
        return None
    kind = match["kind"]
    slot = int(match["slot"]) if match["slot"] else None
    return DerivedName(
        name=name,
        prefix=match["prefix"],
        kind=CLONE if slot is not None else kind,
        fingerprint=match["fingerprint"],
        slot=slot,
        token=match["token"],
    )


def assert_derived(name: object, kind: str | None = None) -> DerivedName:
    """Return the parts of ``name``; raise UnsafeDatabaseNameError unless this module derived it."""
    parsed = parse(str(name)) if isinstance(name, (str, Path)) and name else None
    if parsed is None or (parsed.kind in (TEMPLATE, BUILDING)) != (parsed.token is None):
        raise UnsafeDatabaseNameError(
            f"Refusing to touch the database {name!r}: its name was not derived by "
            "concurrent_test_app, which only ever creates, clones or drops its own templates "
            "and worker clones."
        )
    if kind is not None and parsed.kind != kind:
        wanted = {TEMPLATE: "a template", BUILDING: "a template being built", CLONE: "a clone"}
        raise UnsafeDatabaseNameError(
            f"Refusing to use the database {name!r} here: it is not {wanted.get(kind, kind)}."
        )
    return parsed


def belongs_to(name: str, prefix: str) -> bool:
    """Return whether ``name`` is a derived name of the databases under ``prefix``."""
    parsed = parse(name)
    return parsed is not None and parsed.prefix == prefix


def sqlite_directory(settings_dict: SettingsDict) -> Path:
    """Return the folder that holds a SQLite alias's templates and clones.

    It sits beside the test database file if there is one, else beside the real database
    file, else in the system's temporary folder; a hidden subfolder keeps them together.
    """
    test_name = (settings_dict.get("TEST") or {}).get("NAME")
    for candidate in (test_name, settings_dict.get("NAME")):
        if candidate and not _is_memory(str(candidate)):
            return Path(candidate).resolve().parent / SQLITE_FOLDER
    return Path(tempfile.gettempdir()) / SQLITE_FOLDER


def sqlite_path(settings_dict: SettingsDict, name: str) -> Path:
    """Return the file of the derived SQLite database ``name``."""
    assert_derived(name)
    return sqlite_directory(settings_dict) / f"{name}{SQLITE_SUFFIX}"


def sqlite_memory_name(alias: str, slot: int, run_token: str) -> str:
    """Return the shared-cache in-memory database a worker loads its SQLite clone into."""
    return f"file:concurrent_{_slug(alias)}_{slot}_{run_token}?mode=memory&cache=shared"


def sqlite_base_name(settings_dict: SettingsDict) -> str:
    """Return the test database name a SQLite alias's derived names start from."""
    test_name = (settings_dict.get("TEST") or {}).get("NAME")
    if test_name and not _is_memory(str(test_name)):
        return Path(test_name).stem
    real = settings_dict.get("NAME")
    if real and not _is_memory(str(real)):
        return f"test_{Path(real).stem}"
    return "test_memory"


def _is_memory(name: str) -> bool:
    return name == ":memory:" or "mode=memory" in name
