"""Checking a bundle before anything of it is believed: the signature over the
root manifest, trust in its key, the manifest's shape, the archive's members
against the signed hashes, and each relayed segment's own signature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from villagebook.i18n import N_
from villagebook.store.node import Store
from villagebook.sync import format as fmt
from villagebook.sync.archive import SafeArchive
from villagebook.sync.errors import BundleRejected
from villagebook.sync.minisign import SignatureError, parse_signature, verify
from villagebook.sync.trust import TrustedKey, find_key


@dataclass(frozen=True)
class Segment:
    """A verified segment: its manifest, the key that signed it, where it sits."""

    manifest: fmt.Manifest
    key: TrustedKey
    prefix: str
    manifest_sha256: str = ""

    @property
    def payload_name(self) -> str:
        """The archive member holding its change sets."""
        return self.prefix + fmt.PAYLOAD


def _signature_rejected(error: SignatureError) -> BundleRejected:
    if error.reason in ("bad_signature", "bad_global_signature"):
        return BundleRejected("bad_signature", N_("The signature does not match: the bundle was "
                              "altered or damaged after signing"))
    return BundleRejected("bad_signature", N_("The bundle's signature is malformed ({what})"),
                          what=error.reason)


def signer_of(store: Store, signature: bytes) -> TrustedKey:
    """The trusted, unrevoked key a signature names; BundleRejected otherwise."""
    try:
        parsed = parse_signature(signature)
    except SignatureError as error:
        raise _signature_rejected(error) from None
    key = find_key(store, parsed.key_id_hex)
    if key is None:
        raise BundleRejected("unknown_key", N_("Signed by key {key}, which this node does not "
                             "trust; compare fingerprints and run: villagebook keys trust"),
                             key=parsed.key_id_hex)
    if key.revoked:
        raise BundleRejected("revoked_key", N_("Signed by key {key} of unit {unit}, which was "
                             "revoked"), key=key.key_id, unit=key.unit)
    return key


def verified_manifest(store: Store, archive: SafeArchive, prefix: str = "") -> Segment:
    """Verify a segment's manifest signature, then (only then) parse the manifest."""
    signature = archive.read(prefix + fmt.SIGNATURE)
    raw = archive.read(prefix + fmt.MANIFEST)
    key = signer_of(store, signature)
    try:
        comment = verify(key.public_key, raw, signature)
    except SignatureError as error:
        raise _signature_rejected(error) from None
    manifest = fmt.parse_manifest(fmt.load_json(raw))
    if (manifest.key_id, manifest.origin, manifest.role) != (key.key_id, key.unit, key.role):
        raise BundleRejected("wrong_origin", N_("The bundle says it comes from unit {claimed}, "
                             "but its key belongs to unit {unit}"),
                             claimed=manifest.origin, unit=key.unit)
    if comment != fmt.trusted_comment(manifest.origin, manifest.receiver, manifest.seq):
        raise BundleRejected("bad_manifest", N_("The bundle's manifest is invalid ({what})"),
                             what="trusted comment")
    return Segment(manifest, key, prefix, hashlib.sha256(raw).hexdigest())


def expected_members(manifest: fmt.Manifest) -> set[str]:
    """Every member name the root manifest accounts for."""
    names = {fmt.MANIFEST, fmt.SIGNATURE, fmt.PAYLOAD}
    for relayed in manifest.relayed:
        prefix = f"{fmt.SEGMENT_DIR}{relayed.segment}/"
        names |= {prefix + fmt.MANIFEST, prefix + fmt.SIGNATURE, prefix + fmt.PAYLOAD}
    return names | {ref.member for ref in manifest.carries}


def check_members(archive: SafeArchive, root: fmt.Manifest) -> None:
    """The archive holds exactly the listed members, each matching its signed hash
    (file members are hashed as they are received: `sync.bundle_files`)."""
    if len({r.segment for r in root.relayed}) != len(root.relayed):
        raise BundleRejected("bad_manifest", N_("The bundle's manifest is invalid ({what})"),
                             what="relayed")
    expected = expected_members(root)
    for name in sorted(set(archive.members) - expected):
        raise BundleRejected("bad_member", N_("The bundle holds an unexpected member {name}"),
                             name=name)
    for name in sorted(expected - set(archive.members)):
        raise BundleRejected("missing_member", N_("The bundle lacks its member {name}"), name=name)
    _check_hash(archive, fmt.PAYLOAD, root.payload.sha256, root.payload.size)
    for relayed in root.relayed:
        prefix = f"{fmt.SEGMENT_DIR}{relayed.segment}/"
        _check_hash(archive, prefix + fmt.MANIFEST, relayed.manifest_sha256)
        _check_hash(archive, prefix + fmt.SIGNATURE, relayed.signature_sha256)
        _check_hash(archive, prefix + fmt.PAYLOAD, relayed.payload_sha256)


def _check_hash(archive: SafeArchive, name: str, sha256: str, size: int | None = None) -> None:
    found, found_size = archive.sha256(name)
    if found != sha256 or (size is not None and size != found_size):
        raise BundleRejected("hash_mismatch", N_("Member {name} does not match its hash in the "
                             "signed manifest (swapped, altered or damaged)"), name=name)


def relayed_segment(store: Store, archive: SafeArchive, listed: fmt.Relayed) -> Segment:
    """A relayed segment, verified with its own origin's key."""
    segment = verified_manifest(store, archive, f"{fmt.SEGMENT_DIR}{listed.segment}/")
    check_listed(segment, listed)
    return segment


def check_listed(segment: Segment, listed: fmt.Relayed) -> None:
    """The verified segment is the one its carrier listed (its own fault if not)."""
    if segment.manifest.segment != listed.segment or \
            segment.manifest.payload.sha256 != listed.payload_sha256:
        raise BundleRejected("hash_mismatch", N_("Member {name} does not match its hash in the "
                             "signed manifest (swapped, altered or damaged)"),
                             name=segment.payload_name)
