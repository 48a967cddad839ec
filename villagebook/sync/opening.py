"""Opening a bundle file for merge or verify: an encrypted one is decrypted into the
home first, a plain one is read as it is, if this node's policy allows it.

The policy (setting `require_encryption`): `auto` (the default) refuses a plain
bundle once every trusted, unrevoked key here has a recipient (every neighbour
runs a version that encrypts); `always` refuses every plain bundle; `never`
accepts plain ones (an office still reached by older versions). A plain bundle
is refused only after it passed every other check, so that a damaged or hostile
one is named for what it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from villagebook.i18n import N_
from villagebook.services.errors import Refused
from villagebook.store.home import keys_path
from villagebook.store.node import Store
from villagebook.sync import format as fmt
from villagebook.sync import sealed
from villagebook.sync.age_keys import load_identity
from villagebook.sync.archive import open_regular
from villagebook.sync.errors import BundleRejected

REQUIRE_SETTING = "require_encryption"
POLICIES = ("auto", "always", "never")
_UNSAFE_NAME = re.compile(r"[^\w.-]+")


def safe_unit_name(name: str | None, code: str) -> str:
    """A unit's name as bundle file names carry it (its code if it has none)."""
    cleaned = _UNSAFE_NAME.sub("_", name).strip("._") if name else ""
    return cleaned[:40] or code


def policy(store: Store) -> str:
    """This node's policy for plain bundles: auto, always or never."""
    found = store.get_setting(REQUIRE_SETTING)
    return found if found in POLICIES else "auto"


def set_policy(store: Store, value: str) -> None:
    """Choose the policy for plain bundles."""
    if value not in POLICIES:
        raise Refused("The policy must be one of: auto, always, never")
    with store.transaction():
        store.put_setting(REQUIRE_SETTING, value)


def requires_encryption(store: Store) -> bool:
    """Whether a plain bundle is refused here now (see the module's docstring)."""
    chosen = policy(store)
    if chosen != "auto":
        return chosen == "always"
    row = store.conn.execute("SELECT count(*), count(recipient) FROM sync_key "
                             "WHERE revoked_at IS NULL").fetchone()
    return bool(row[0]) and row[0] == row[1]


def not_encrypted() -> BundleRejected:
    """The refusal of a plain bundle where this node requires encryption."""
    return BundleRejected("not_encrypted", N_("The bundle is not encrypted, and this office "
                          "requires encrypted bundles; ask the sender to export it again "
                          "without --plain"))


def named_receiver(store: Store, file_name: str) -> str | None:
    """The unit a bundle's file name says it is for (`SENDER-RECEIVER-NNNN.vbundle`),
    when that is a unit this node knows; None otherwise."""
    stem = file_name.removesuffix(fmt.SUFFIX)
    head, _, number = stem.rpartition("-")
    if not number.isdigit():
        return None
    for code, name in store.conn.execute("SELECT code, name FROM unit ORDER BY code"):
        if head.endswith(("-" + safe_unit_name(name, code), "-" + str(code))):
            return str(name or code)
    return None


@contextmanager
def plaintext(store: Store, path: Path) -> Iterator[tuple[Path, bool]]:
    """The bundle's signed zip and whether it arrived encrypted; decrypted (streaming)
    into HOME/.decrypting, removed when the block ends, whatever happens."""
    with open_regular(path) as handle:
        encrypted = sealed.is_sealed(handle.read(len(sealed.MAGIC)))
        if encrypted:
            handle.seek(0)
            sealed.read_header(handle)  # caps and kinds first: no key work before it
    if not encrypted:
        yield path, False
        return
    with sealed.scratch_file(store.home, ".zip") as inner:
        with open_regular(path) as handle:
            sealed.unseal(handle, inner, load_identity(keys_path(store.home)),
                          named_receiver(store, path.name))
        yield inner, True
