"""The trust store: which public keys speak for which unit, and the hierarchy
this node believes in.

A key is trusted *directly* (`keys trust FILE --unit CODE`, after comparing
fingerprints by phone) or *enrolled*: a trusted township's bundle vouches for
its villages' keys (and for the district's key, towards its villages). A unit's
further devices need more than their parent's word: a hand-over signed by a
device of the same unit (`sync.handover`). Revoked
keys stay listed, marked, so their later bundles are refused by name. The
hierarchy used for authorisation (who is whose parent, who is the district)
comes from here and from this node's own unit, never from record data alone.
"""

from __future__ import annotations

import codecs
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from villagebook.i18n import N_
from villagebook.services.errors import Refused
from villagebook.store.node import Store, system_now
from villagebook.sync import format as fmt
from villagebook.sync import handover
from villagebook.sync.age_keys import LINE_PREFIX, Binding, binding_in, is_bound, key_lines
from villagebook.sync.errors import BundleRejected
from villagebook.sync.identity import load_key_file, load_secret_key
from villagebook.sync.minisign import KeyFormatError, PublicKey

_COLUMNS = ("key_id, public_key, unit_code, parent_code, role, device_id, enrolled_by, "
            "trusted_at, revoked_at, handover_by, handover, recipient")


@dataclass(frozen=True)
class TrustedKey:
    """A key and the unit it speaks for."""

    key_id: str
    public_key: PublicKey
    unit: str
    parent: str | None
    role: str
    device_id: str | None = None
    enrolled_by: str | None = None
    trusted_at: str = ""
    revoked_at: str | None = None
    handover_by: str | None = None
    handover: str | None = None
    #: The device's age recipient and the key's signature over it (`Binding.text`).
    recipient: str | None = None
    own: bool = False

    @property
    def revoked(self) -> bool:
        """Whether this key was revoked."""
        return self.revoked_at is not None

    @property
    def level(self) -> int:
        """0 village, 1 township, 2 district."""
        return fmt.ROLES.index(self.role)


def _row_key(row: tuple[str, ...]) -> TrustedKey:
    return TrustedKey(row[0], PublicKey.from_text(row[1]), row[2], row[3], row[4], row[5],
                      row[6], row[7], row[8], row[9], row[10], row[11])


def own_parent(conn: sqlite3.Connection, unit: str) -> str | None:
    """The parent of this node's own unit, from its own unit record."""
    row = conn.execute("SELECT parent_code FROM unit WHERE code = ?", (unit,)).fetchone()
    return str(row[0]) if row and row[0] else None


def own_key(store: Store) -> TrustedKey:
    """This node's own key, always trusted for its own unit."""
    public, binding = load_key_file(store.home)
    node = store.node
    return TrustedKey(public.key_id_hex, public, node.unit_code,
                      own_parent(store.conn, node.unit_code), node.role.value,
                      node.device_id, recipient=binding.text() if binding else None, own=True)


def find_key(store: Store, key_id: str) -> TrustedKey | None:
    """The trusted (or revoked) key with this id, this node's own included."""
    mine = own_key(store)
    if key_id == mine.key_id:
        return mine
    row = store.conn.execute(f"SELECT {_COLUMNS} FROM sync_key WHERE key_id = ?",
                             (key_id,)).fetchone()
    return _row_key(row) if row else None


def list_keys(store: Store) -> list[TrustedKey]:
    """Every key in the trust store, this node's own first."""
    rows = store.conn.execute(f"SELECT {_COLUMNS} FROM sync_key ORDER BY unit_code, key_id")
    return [own_key(store), *(_row_key(row) for row in rows)]


def read_public_key(path: Path) -> PublicKey:
    """A minisign public key file; Refused if it is not one."""
    return read_key_file(path)[0]


def key_file_decoded(data: bytes) -> str:
    """A key file's text as any Windows tool may have saved it: UTF-8 with or without
    a BOM, UTF-16 with its BOM (PowerShell 5.1's `>`), CRLF or LF line ends."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16")
    else:
        text = data.decode("utf-8-sig")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_key_file(path: Path) -> tuple[PublicKey, Binding | None]:
    """A minisign public key file and the recipient line it carries, if that line is
    signed by the key; Refused if it is not a key file or the line is not signed."""
    try:
        text = key_file_decoded(path.read_bytes()[:16384])
        public = PublicKey.from_text(key_lines(text))
    except (KeyFormatError, UnicodeError):
        raise Refused("{path} is not a minisign public key file", path=str(path)) from None
    binding = binding_in(text)
    if binding is None and LINE_PREFIX in text:
        raise Refused("The encryption key in {path} is not signed by its key", path=str(path))
    if binding is not None and not is_bound(public, binding):
        raise Refused("The encryption key in {path} is not signed by its key", path=str(path))
    return public, binding


def trust_key(store: Store, public: PublicKey, unit: str,
              binding: Binding | None = None) -> TrustedKey:
    """Trust `public` for `unit` directly (its place follows from this node's own),
    with the recipient `binding` it signed (checked by `read_key_file`)."""
    if not fmt.UNIT.match(unit):
        raise Refused("{unit} is not a 12-digit unit code", unit=unit)
    node = store.node
    level = fmt.ROLES.index(node.role.value)
    parent = own_parent(store.conn, node.unit_code)
    if public.key_id_hex == own_key(store).key_id:
        raise Refused("This is this node's own key")
    known = _known_place(store.conn, unit)
    if unit == node.unit_code:
        role, unit_parent = node.role.value, parent
    elif known is not None:
        role, unit_parent = known  # e.g. the district trusting a village's new laptop
    elif unit == parent:
        role, unit_parent = fmt.ROLES[level + 1], None
    elif level == 0:
        role, unit_parent = fmt.ROLES[2], None  # a village may trust its district directly
    else:
        role, unit_parent = fmt.ROLES[level - 1], node.unit_code
    # Another laptop of this node's own unit: hand it over, so that the unit's
    # neighbours can tell it from a key the township made up (docs/SYNC.md).
    signature = handover.sign_handover(load_secret_key(store.home), unit, public) \
        if unit == node.unit_code else None
    by = own_key(store).key_id if signature else None
    with store.transaction() as conn:
        found = find_key(store, public.key_id_hex)
        if found is not None:
            _check_same(found, unit)
            if signature and found.handover is None:
                _store_handover(conn, found.key_id, by, signature)
            learn_recipient(store, found, binding)
            return find_key(store, found.key_id) or found
        key = TrustedKey(public.key_id_hex, public, unit, unit_parent, role,
                         trusted_at=_now(), handover_by=by, handover=signature,
                         recipient=_checked(public, binding))
        _insert(conn, key)
    return key


def _known_place(conn: sqlite3.Connection, unit: str) -> tuple[str, str | None] | None:
    """The role and parent this node already holds for `unit`, from any of its keys."""
    row = conn.execute("SELECT role, parent_code FROM sync_key WHERE unit_code = ? "
                       "ORDER BY parent_code IS NULL, rowid LIMIT 1", (unit,)).fetchone()
    return (str(row[0]), row[1]) if row else None


def _store_handover(conn: sqlite3.Connection, key_id: str, by: str | None,
                    signature: str) -> None:
    conn.execute("UPDATE sync_key SET handover_by = ?, handover = ? WHERE key_id = ?",
                 (by, signature, key_id))


def _check_same(found: TrustedKey, unit: str) -> None:
    if found.unit != unit:
        raise Refused("Key {key} is already trusted for unit {unit}", key=found.key_id,
                      unit=found.unit)
    if found.revoked:
        raise Refused("Key {key} was revoked and cannot be trusted again", key=found.key_id)


def _insert(conn: sqlite3.Connection, key: TrustedKey) -> None:
    conn.execute(
        f"INSERT INTO sync_key ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (key.key_id, key.public_key.base64(), key.unit, key.parent, key.role, key.device_id,
         key.enrolled_by, key.trusted_at, key.revoked_at, key.handover_by, key.handover,
         key.recipient),
    )


def _checked(public: PublicKey, binding: Binding | None) -> str | None:
    """The binding's text if `public` signed it; None otherwise (never believed)."""
    return binding.text() if binding is not None and is_bound(public, binding) else None


def learn_recipient(store: Store, key: TrustedKey, binding: Binding | None) -> None:
    """Remember (or replace) the recipient of a known key, if the key signed it: a
    device that made a new encryption identity is believed only by its own key."""
    text = _checked(key.public_key, binding)
    if text is None or key.own or key.recipient == text:
        return
    store.conn.execute("UPDATE sync_key SET recipient = ? WHERE key_id = ?",
                       (text, key.key_id))


def recipients_of(store: Store, unit: str) -> list[tuple[str, str | None]]:
    """Each trusted, unrevoked device key of `unit` and its age recipient (None when
    unknown): whom a bundle for `unit` is encrypted to. A revoked key is no recipient."""
    rows = store.conn.execute("SELECT key_id, recipient FROM sync_key WHERE unit_code = ? "
                              "AND revoked_at IS NULL ORDER BY key_id", (unit,))
    found = []
    for key_id, text in rows:
        binding = Binding.parse(text)
        found.append((str(key_id), binding.recipient if binding else None))
    return found


def _now() -> str:
    return system_now().isoformat(timespec="seconds")


def revoke_key(store: Store, key_id: str) -> TrustedKey:
    """Revoke a trusted key: its bundles are refused from now on."""
    key_id = key_id.strip().upper()
    if key_id == own_key(store).key_id:
        raise Refused("This node's own key cannot be revoked here")
    with store.transaction() as conn:
        found = find_key(store, key_id)
        if found is None:
            raise Refused("No trusted key with id {key}", key=key_id)
        if not found.revoked:
            conn.execute("UPDATE sync_key SET revoked_at = ? WHERE key_id = ?", (_now(), key_id))
    found = find_key(store, key_id)
    assert found is not None
    return found


def accept_enrolment(store: Store, sender: TrustedKey, enrolment: fmt.Enrolment) -> None:
    """Record a key the sender vouches for, if it may (inside the merge's transaction).

    A sender enrols units directly under it (a township its villages), towards
    its own children only its parent (the district), and other devices of its
    own unit. Anything else is ignored. A parent's word is enough only for a
    unit's first key here: a further device of a unit, and any device of this
    node's own unit, needs a valid hand-over signed by a trusted device of that
    unit, or the bundle is refused (`no_handover`). A key already known for
    another unit rejects the bundle.
    """
    route = _route(store, sender, enrolment)
    if route is None:
        return
    try:
        public = PublicKey.from_text(enrolment.key)
    except KeyFormatError:
        raise BundleRejected("bad_manifest", N_("The bundle's manifest is invalid ({what})"),
                             what="enrolments") from None
    if route == "child":
        _check_same_parent(store, enrolment.unit, sender.unit)
    found = find_key(store, public.key_id_hex)
    if found is not None:
        if found.unit != enrolment.unit:
            raise BundleRejected("conflicting_key", N_("The bundle vouches for key {key} as unit "
                                 "{unit}, but it is trusted here for unit {other}"),
                                 key=found.key_id, unit=enrolment.unit, other=found.unit)
        _complete_handover(store, found, enrolment)
        learn_recipient(store, found, Binding.parse(enrolment.recipient))
        return
    by = _handed_over_by(store, public, enrolment)
    if by is None and _needs_handover(store, sender, enrolment.unit):
        raise BundleRejected("no_handover", N_("The bundle vouches for key {key} as a device of "
                             "unit {unit}, but no trusted device of that unit handed it over"),
                             key=public.key_id_hex, unit=enrolment.unit)
    parent = {"child": sender.unit, "upward": None, "sibling": sender.parent}[route]
    _insert(store.conn, TrustedKey(public.key_id_hex, public, enrolment.unit, parent,
                                   enrolment.role, enrolled_by=sender.key_id, trusted_at=_now(),
                                   handover_by=by, handover=enrolment.handover if by else None,
                                   recipient=_checked(public,
                                                      Binding.parse(enrolment.recipient))))
    if route == "upward":
        store.conn.execute("UPDATE sync_key SET parent_code = ? WHERE unit_code = ? "
                           "AND parent_code IS NULL", (enrolment.unit, sender.unit))


def _route(store: Store, sender: TrustedKey, enrolment: fmt.Enrolment) -> str | None:
    """How the sender stands to the unit it vouches for: None if it may not."""
    level = fmt.ROLES.index(enrolment.role)
    if enrolment.unit == sender.unit:
        return "sibling" if enrolment.role == sender.role else None
    from_parent = sender.unit == own_parent(store.conn, store.node.unit_code)
    if enrolment.parent == sender.unit and level == sender.level - 1 and \
            (enrolment.unit != store.node.unit_code or from_parent):
        return "child"
    if from_parent and level == sender.level + 1:
        return "upward"
    return None


def _needs_handover(store: Store, sender: TrustedKey, unit: str) -> bool:
    """Whether only the unit itself may vouch for a new key of `unit` here: it is this
    node's own unit, the sender's own, or a unit of which a trusted key is held."""
    if unit in (store.node.unit_code, sender.unit):
        return True
    return store.conn.execute("SELECT 1 FROM sync_key WHERE unit_code = ? AND revoked_at "
                              "IS NULL", (unit,)).fetchone() is not None


def _handed_over_by(store: Store, public: PublicKey, enrolment: fmt.Enrolment) -> str | None:
    """The trusted, unrevoked device of the unit whose valid hand-over the enrolment
    carries, or None."""
    if enrolment.handover is None:
        return None
    signer_id = handover.signer_of(enrolment.handover)
    signer = find_key(store, signer_id) if signer_id else None
    if signer is None or signer.revoked or signer.unit != enrolment.unit or \
            not handover.is_valid(signer.public_key, enrolment.unit, public, enrolment.handover):
        return None
    return signer.key_id


def _complete_handover(store: Store, found: TrustedKey, enrolment: fmt.Enrolment) -> None:
    # A key trusted here without a hand-over (say, directly) keeps the first valid one
    # that arrives, so that this node can show it to its own neighbours.
    if found.own or found.handover is not None:
        return
    by = _handed_over_by(store, found.public_key, enrolment)
    if by is not None and enrolment.handover is not None:
        _store_handover(store.conn, found.key_id, by, enrolment.handover)


def _check_same_parent(store: Store, unit: str, parent: str) -> None:
    # A township may not enrol keys for a unit this node knows under another parent.
    row = store.conn.execute("SELECT parent_code FROM sync_key WHERE unit_code = ? AND "
                             "parent_code IS NOT NULL AND parent_code != ?",
                             (unit, parent)).fetchone()
    if row is not None:
        raise BundleRejected("conflicting_key", N_("The bundle vouches for a key of unit "
                             "{unit}, which is under unit {parent} here"),
                             unit=unit, parent=row[0])


def accept_revocation(store: Store, sender: TrustedKey, key_id: str) -> None:
    """Revoke a key the sender had vouched for, or one of a unit under it."""
    found = find_key(store, key_id)
    if found is None or found.own or found.revoked:
        return
    if found.enrolled_by == sender.key_id or found.parent == sender.unit:
        store.conn.execute("UPDATE sync_key SET revoked_at = ? WHERE key_id = ?",
                           (_now(), key_id))


def bind_device(store: Store, key: TrustedKey, device: str) -> None:
    """Tie a device id to the key that signs for it: another key may never use it."""
    row = store.conn.execute("SELECT device_id FROM sync_key WHERE key_id = ?",
                             (key.key_id,)).fetchone()
    bound = row[0] if row else key.device_id
    if bound is not None:
        if bound != device:
            raise _device_mismatch(device)
        return
    taken = store.conn.execute("SELECT key_id FROM sync_key WHERE device_id = ? AND "
                               "key_id != ?", (device, key.key_id)).fetchone()
    if taken is not None or device == store.node.device_id:
        raise _device_mismatch(device)
    store.conn.execute("UPDATE sync_key SET device_id = ? WHERE key_id = ?",
                       (device, key.key_id))


def _device_mismatch(device: str) -> BundleRejected:
    return BundleRejected("device_mismatch",
                          N_("Device {device} already signs with another key"), device=device)


def enrolments_for(store: Store, receiver: str) -> list[fmt.Enrolment]:
    """What to vouch for in a bundle to `receiver`: our units' keys going up; our
    parent's keys, and the keys of the receiver's other devices, going down; our own
    unit's other devices both ways. Only keys the receiver can accept travel: those
    with a hand-over, and the first key of a unit other than ours and the receiver's
    (a parent's word counts for a unit's first key only). Oldest first, so a
    hand-over's signer arrives before the key it hands over."""
    node = store.node
    parent = own_parent(store.conn, node.unit_code)
    params: tuple[str, ...]
    if receiver == parent:
        where, params = "(parent_code = ? OR unit_code = ?)", (node.unit_code, node.unit_code)
    else:
        where, params = "unit_code IN (?, ?, ?)", (parent or "", receiver, node.unit_code)
    rows = store.conn.execute(f"SELECT {_COLUMNS} FROM sync_key WHERE revoked_at IS NULL "
                              f"AND {where} ORDER BY rowid", params)
    vouched = vouchable_keys(store)
    return [fmt.Enrolment(key.public_key.base64(), key.unit, key.parent, key.role,
                          key.handover, key.recipient)
            for key in map(_row_key, rows)
            if key.key_id in vouched and (key.unit != receiver or key.handover)]


def vouchable_keys(store: Store) -> set[str]:
    """Unrevoked keys whose word this node can pass on: each with a hand-over by a
    key not revoked here, and the first key of each unit other than this node's own
    (its parent's delegation).

    A segment signed by any other key is not relayed: its receivers would not
    accept the key (it is for the unit itself to hand it over).
    """
    own_unit = store.node.unit_code
    first: set[str] = set()
    chosen: set[str] = set()
    for key_id, unit, handed_over in store.conn.execute(
            "SELECT k.key_id, k.unit_code, k.handover IS NOT NULL AND s.revoked_at IS NULL "
            "FROM sync_key k LEFT JOIN sync_key s ON s.key_id = k.handover_by "
            "WHERE k.revoked_at IS NULL ORDER BY k.rowid"):
        if handed_over or (unit != own_unit and unit not in first):
            chosen.add(key_id)
        first.add(unit)
    return chosen


def revocations_for(store: Store) -> list[str]:
    """Keys of units under this node that it revoked (they travel up)."""
    rows = store.conn.execute("SELECT key_id FROM sync_key WHERE parent_code = ? AND "
                              "revoked_at IS NOT NULL ORDER BY key_id", (store.node.unit_code,))
    return [row[0] for row in rows]


@dataclass(frozen=True)
class Hierarchy:
    """Parents and roles of the units this node trusts keys of."""

    parents: dict[str, str]
    roles: dict[str, str]

    def parent(self, unit: str) -> str | None:
        """The unit's parent, when known."""
        return self.parents.get(unit)

    def below(self, unit: str, ancestor: str) -> bool:
        """Whether `unit` lies under `ancestor` (or is it)."""
        seen: set[str] = set()
        current: str | None = unit
        while current is not None and current not in seen:
            if current == ancestor:
                return True
            seen.add(current)
            current = self.parents.get(current)
        return False


def hierarchy(store: Store) -> Hierarchy:
    """The hierarchy as this node trusts it (revoked keys still place their units)."""
    node = store.node
    parents: dict[str, str] = {}
    roles = {node.unit_code: node.role.value}
    mine = own_parent(store.conn, node.unit_code)
    if mine:
        parents[node.unit_code] = mine
    districts = []
    for unit, parent, role in store.conn.execute(
            "SELECT unit_code, parent_code, role FROM sync_key"):
        roles.setdefault(unit, role)
        if parent:
            parents.setdefault(unit, parent)
        if role == "district":
            districts.append(unit)
    if mine and node.role.value == "village" and mine not in parents and len(districts) == 1:
        parents[mine] = districts[0]
    return Hierarchy(parents, roles)
