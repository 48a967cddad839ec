"""Signing bundles: a village signs, the township verifies, and minisign agrees.

The interoperability tests run the real `minisign` binary. They skip when it is
missing, except on CI (`CI` set), where a missing binary is a failure.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
from base64 import b64decode, b64encode
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from villagebook.sync.minisign import (
    MAX_SIGNATURE_TEXT_BYTES,
    MAX_TRUSTED_COMMENT_BYTES,
    MAX_UNTRUSTED_COMMENT_BYTES,
    KeyFormatError,
    PublicKey,
    SecretKey,
    SignatureError,
    parse_signature,
    sign,
    sign_file,
    verify,
    verify_file,
)

BUNDLE = b"PK\x03\x04 pretend zip: 3 cases, 2 problems from Shuangjiang village\n"
COMMENT = "origin:shuangjiang-laptop\tseq:42\t双江村 bundle"

# Generated once: key generation is cheap, but hypothesis runs many examples.
VILLAGE_KEY = SecretKey.generate()

# Every character a trusted comment may hold: anything printable, TAB, CJK.
comment_text = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"), include_characters="\t"),
    max_size=200,
)


def reason_of(action: Callable[[], object]) -> str:
    """The reason code `action` fails with; any other exception fails the test."""
    with pytest.raises(SignatureError) as caught:
        action()
    return caught.value.reason


def flip_bit(data: bytes, index: int, mask: int = 0x01) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def edit_line(signature_text: str, line_number: int, edit: Callable[[str], str]) -> str:
    lines = signature_text.splitlines()
    lines[line_number] = edit(lines[line_number])
    return "\n".join(lines) + "\n"


def flip_in_base64(line: str, index: int, mask: int = 0x01) -> str:
    """Flip bits of one decoded byte (`b"D" ^ 0x20 == b"d"`: "ED" becomes legacy "Ed")."""
    return b64encode(flip_bit(b64decode(line), index, mask)).decode("ascii")


# --- Signing and verifying ---------------------------------------------------------


def test_township_verifies_a_signed_bundle_and_reads_its_trusted_comment() -> None:
    signature = sign(VILLAGE_KEY, BUNDLE, COMMENT)

    assert verify(VILLAGE_KEY.public_key(), BUNDLE, signature) == COMMENT
    assert signature.count("\n") == 4
    assert signature.startswith("untrusted comment: signature from villagebook secret key\n")


def test_township_picks_the_key_by_the_key_id_in_the_signature() -> None:
    other = SecretKey.generate()
    keys = {k.public_key().key_id: k.public_key() for k in (other, VILLAGE_KEY)}
    signature = sign(VILLAGE_KEY, BUNDLE, COMMENT)

    parsed = parse_signature(signature)

    assert parsed.algorithm == "ED"
    assert parsed.key_id_hex == VILLAGE_KEY.public_key().key_id_hex
    assert verify(keys[parsed.key_id], BUNDLE, signature) == COMMENT


def test_signature_files_are_accepted_as_bytes_and_with_windows_line_ends() -> None:
    signature = sign(VILLAGE_KEY, BUNDLE, COMMENT)
    public = VILLAGE_KEY.public_key()

    assert verify(public, BUNDLE, signature.encode("utf-8")) == COMMENT
    assert verify(public, BUNDLE, signature.replace("\n", "\r\n")) == COMMENT
    assert verify(public, BUNDLE, signature.rstrip("\n")) == COMMENT


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        pytest.param(
            lambda s: edit_line(s, 0, lambda _: "untrusted comment: hi"),
            None,
            id="untrusted comment is not protected",
        ),
        pytest.param(
            lambda s: edit_line(s, 1, lambda line: flip_in_base64(line, 0)),
            "unknown_algorithm",
            id="algorithm",
        ),
        pytest.param(
            lambda s: edit_line(s, 1, lambda line: flip_in_base64(line, 1, mask=0x20)),
            "legacy_refused",
            id="ED becomes legacy Ed",
        ),
        pytest.param(
            lambda s: edit_line(s, 1, lambda line: flip_in_base64(line, 5)),
            "key_mismatch",
            id="key id",
        ),
        pytest.param(
            lambda s: edit_line(s, 1, lambda line: flip_in_base64(line, 10)),
            "bad_signature",
            id="signature first byte",
        ),
        pytest.param(
            lambda s: edit_line(s, 1, lambda line: flip_in_base64(line, 73)),
            "bad_signature",
            id="signature last byte",
        ),
        pytest.param(
            lambda s: edit_line(s, 2, lambda line: line + "!"),
            "bad_global_signature",
            id="trusted comment extended",
        ),
        pytest.param(
            lambda s: edit_line(s, 2, lambda line: line.replace("42", "43")),
            "bad_global_signature",
            id="trusted comment changed",
        ),
        pytest.param(
            lambda s: edit_line(s, 2, lambda line: line + "\x1b[2J"),
            "bad_comment",
            id="escape sequence in trusted comment",
        ),
        pytest.param(
            lambda s: edit_line(s, 2, lambda line: line + "\u2028x"),
            "bad_comment",
            id="line separator in trusted comment",
        ),
        pytest.param(
            lambda s: edit_line(s, 3, lambda line: flip_in_base64(line, 0)),
            "bad_global_signature",
            id="global signature",
        ),
        pytest.param(
            lambda s: edit_line(s, 3, lambda line: line[:-4]),
            "malformed",
            id="global signature shortened",
        ),
        pytest.param(
            lambda s: edit_line(s, 1, lambda line: line.replace("=", "A")),
            "malformed",
            id="signature base64 padding",
        ),
        pytest.param(
            lambda s: edit_line(s, 0, lambda line: line.replace("un", "")),
            "malformed",
            id="first line prefix",
        ),
        pytest.param(
            lambda s: edit_line(s, 2, lambda line: line.replace("trusted", "t")),
            "malformed",
            id="third line prefix",
        ),
        pytest.param(lambda s: s + "extra line\n", "malformed", id="fifth line"),
        pytest.param(lambda s: s.replace("\n", "\n\n", 1), "malformed", id="blank line"),
    ],
)
def test_tampering_with_the_signature_is_reported_by_reason(
    tamper: Callable[[str], str], expected: str | None
) -> None:
    tampered = tamper(sign(VILLAGE_KEY, BUNDLE, COMMENT))
    public = VILLAGE_KEY.public_key()

    if expected is None:
        assert verify(public, BUNDLE, tampered) == COMMENT
    else:
        assert reason_of(lambda: verify(public, BUNDLE, tampered)) == expected


@pytest.mark.parametrize("index", [0, len(BUNDLE) // 2, len(BUNDLE) - 1])
def test_a_courier_flipping_one_bit_of_the_bundle_is_caught(index: int) -> None:
    signature = sign(VILLAGE_KEY, BUNDLE, COMMENT)
    tampered = flip_bit(BUNDLE, index)

    assert reason_of(lambda: verify(VILLAGE_KEY.public_key(), tampered, signature)) == (
        "bad_signature"
    )


def test_a_signature_from_another_village_is_a_key_mismatch() -> None:
    signature = sign(SecretKey.generate(), BUNDLE, COMMENT)

    assert reason_of(lambda: verify(VILLAGE_KEY.public_key(), BUNDLE, signature)) == (
        "key_mismatch"
    )


def test_an_impostor_copying_our_key_id_fails_the_signature_check() -> None:
    impostor = SecretKey(key_id=VILLAGE_KEY.key_id, seed=os.urandom(32))
    signature = sign(impostor, BUNDLE, COMMENT)

    assert reason_of(lambda: verify(VILLAGE_KEY.public_key(), BUNDLE, signature)) == (
        "bad_signature"
    )


def test_legacy_signatures_are_refused_unless_asked_for() -> None:
    private = Ed25519PrivateKey.from_private_bytes(VILLAGE_KEY.seed)
    data_signature = private.sign(BUNDLE)  # legacy: over the raw data
    global_signature = private.sign(data_signature + b"old style")
    legacy = (
        "untrusted comment: legacy\n"
        + b64encode(b"Ed" + VILLAGE_KEY.key_id + data_signature).decode()
        + "\ntrusted comment: old style\n"
        + b64encode(global_signature).decode()
        + "\n"
    )
    public = VILLAGE_KEY.public_key()

    assert reason_of(lambda: verify(public, BUNDLE, legacy)) == "legacy_refused"
    assert verify(public, BUNDLE, legacy, allow_legacy=True) == "old style"
    assert parse_signature(legacy).is_legacy


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "\n",
        "hello",
        "untrusted comment: x\nRUS\ntrusted comment: x\nAAAA\n",
        "untrusted comment: x\n\n\n\n",
        "\x00" * 100,
        "untrusted comment: \udcff\n",
        "中" * (MAX_SIGNATURE_TEXT_BYTES // 2),
        "x" * (MAX_SIGNATURE_TEXT_BYTES + 1),
        b"\xff\xfe\x00",
        b"untrusted comment: \xc3\n",
    ],
    ids=repr,
)
def test_garbage_signature_text_is_malformed(garbage: str | bytes) -> None:
    assert reason_of(lambda: verify(VILLAGE_KEY.public_key(), BUNDLE, garbage)) == "malformed"


def test_a_truncated_signature_file_is_malformed(tmp_path: Path) -> None:
    signature_file = tmp_path / "bundle.zip.minisig"
    signature_file.write_text(sign(VILLAGE_KEY, BUNDLE, COMMENT), encoding="utf-8")
    whole = signature_file.read_bytes()

    # Every cut short of dropping only the final newline (still valid) loses a line.
    for cut in range(len(whole) - 1):
        signature_file.write_bytes(whole[:cut])
        truncated = signature_file.read_bytes()
        reason = reason_of(functools.partial(verify, VILLAGE_KEY.public_key(), BUNDLE, truncated))
        assert reason == "malformed", cut


@pytest.mark.parametrize(
    "comment",
    ["two\nlines", "carriage\rreturn", "bell\x07", "nul\x00", "c1\x85", "sep\u2029", "x" * 3000],
    ids=repr,
)
def test_unsafe_trusted_comments_are_refused_when_signing(comment: str) -> None:
    assert reason_of(lambda: sign(VILLAGE_KEY, BUNDLE, comment)) == "bad_comment"


def test_unsafe_untrusted_comments_are_refused_when_signing() -> None:
    assert reason_of(lambda: sign(VILLAGE_KEY, BUNDLE, "ok", "two\nlines")) == "bad_comment"


def test_longest_comments_still_fit_the_parse_bound() -> None:
    trusted = "中" * (MAX_TRUSTED_COMMENT_BYTES // 3)
    signature = sign(VILLAGE_KEY, BUNDLE, trusted, "u" * MAX_UNTRUSTED_COMMENT_BYTES)

    assert len(signature.encode("utf-8")) <= MAX_SIGNATURE_TEXT_BYTES
    assert verify(VILLAGE_KEY.public_key(), BUNDLE, signature) == trusted


def test_large_bundle_files_are_signed_and_verified_in_chunks(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.zip"
    content = os.urandom(3 * 1024 * 1024 + 17)  # several hash chunks, odd tail
    bundle.write_bytes(content)
    public = VILLAGE_KEY.public_key()

    signature = sign_file(VILLAGE_KEY, bundle, COMMENT)

    assert verify_file(public, bundle, signature) == COMMENT
    assert verify(public, content, signature) == COMMENT  # same bytes, same signature
    bundle.write_bytes(flip_bit(content, len(content) - 1))
    assert reason_of(lambda: verify_file(public, bundle, signature)) == "bad_signature"


def test_verify_file_never_reads_the_bundle_for_the_wrong_key(tmp_path: Path) -> None:
    signature = sign(SecretKey.generate(), BUNDLE, COMMENT)
    missing = tmp_path / "not-there.zip"

    # If it hashed first, this would be FileNotFoundError.
    assert reason_of(lambda: verify_file(VILLAGE_KEY.public_key(), missing, signature)) == (
        "key_mismatch"
    )


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=4096), trusted=comment_text, untrusted=comment_text)
def test_any_bundle_and_comment_survive_a_round_trip(
    data: bytes, trusted: str, untrusted: str
) -> None:
    signature = sign(VILLAGE_KEY, data, trusted, untrusted)

    assert verify(VILLAGE_KEY.public_key(), data, signature) == trusted
    assert parse_signature(signature).trusted_comment == trusted


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.characters())
def test_a_corrupted_signature_fails_only_with_signature_error(
    position: int, replacement: str
) -> None:
    signature = sign(VILLAGE_KEY, BUNDLE, COMMENT)
    position %= len(signature)
    corrupted = signature[:position] + replacement + signature[position + 1 :]

    try:
        comment = verify(VILLAGE_KEY.public_key(), BUNDLE, corrupted)
    except SignatureError:
        return
    # Only edits that cannot matter may pass: the untrusted comment, or a line end.
    assert comment == COMMENT


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=600), st.binary(max_size=600)))
def test_arbitrary_input_fails_only_with_signature_error(text: str | bytes) -> None:
    with pytest.raises(SignatureError):
        verify(VILLAGE_KEY.public_key(), BUNDLE, text)


# --- Keys ------------------------------------------------------------------------


def test_public_key_text_round_trips_whole_file_or_bare_line() -> None:
    public = VILLAGE_KEY.public_key()
    text = public.to_text()

    assert (
        text == f"untrusted comment: minisign public key {public.key_id_hex}\n{public.base64()}\n"
    )
    assert PublicKey.from_text(text) == public
    assert PublicKey.from_text(public.base64()) == public
    assert PublicKey.from_text(f"  {public.base64()}\r\n") == public
    assert PublicKey.from_text(public.to_text("Shuangjiang laptop")) == public
    assert PublicKey.from_text(public.to_text("")) == public
    assert re.fullmatch(r"RW[QRST][A-Za-z0-9+/]{53}", public.base64())


def test_key_id_hex_reads_the_id_as_little_endian() -> None:
    public = PublicKey(key_id=bytes.fromhex("0100000000000000"), key=VILLAGE_KEY.public_key().key)

    assert public.key_id_hex == "0000000000000001"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "RWQ",
        "untrusted comment: x\nnot base64!\n",
        "a\nb\nc\n",
        b64encode(b"XX" + bytes(40)).decode(),  # unknown algorithm
        b64encode(b"Ed" + bytes(39)).decode(),  # too short
        "x" * 10_000,
    ],
    ids=repr,
)
def test_malformed_public_keys_are_refused(text: str) -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_text(text)


# Points of small order (orders 1, 2, 4, 8), some with the sign bit set, and the
# non-canonical spellings p and p + 1 of 0 and 1.
WEAK_KEYS = [
    bytes(32),
    bytes([1]) + bytes(31),
    bytes([1]) + bytes(30) + bytes([0x80]),
    bytes.fromhex("ec" + "ff" * 30 + "7f"),
    bytes.fromhex("ed" + "ff" * 30 + "7f"),
    bytes.fromhex("ee" + "ff" * 30 + "7f"),
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
]


@pytest.mark.parametrize("weak", WEAK_KEYS, ids=lambda key: key.hex()[:8])
def test_keys_anyone_could_forge_for_are_refused(weak: bytes) -> None:
    with pytest.raises(KeyFormatError, match="small order"):
        PublicKey(key_id=bytes(8), key=weak)
    with pytest.raises(KeyFormatError):
        PublicKey.from_text(b64encode(b"Ed" + bytes(8) + weak).decode())


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300))
def test_arbitrary_public_key_text_fails_only_with_key_format_error(text: str) -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_text(text)


def test_fingerprint_is_four_groups_of_four_digits_and_tells_keys_apart() -> None:
    public = VILLAGE_KEY.public_key()
    same_key_other_id = PublicKey(key_id=bytes(8), key=public.key)

    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", public.fingerprint())
    assert public.fingerprint() == PublicKey.from_text(public.to_text()).fingerprint()
    assert public.fingerprint() != same_key_other_id.fingerprint()
    assert public.fingerprint() != SecretKey.generate().public_key().fingerprint()


def test_secret_key_repr_never_shows_the_seed() -> None:
    assert VILLAGE_KEY.seed.hex() not in repr(VILLAGE_KEY)
    assert repr(VILLAGE_KEY.seed) not in repr(VILLAGE_KEY)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_secret_key_file_is_private_from_creation_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "village.key"

    VILLAGE_KEY.save(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SecretKey.load(path) == VILLAGE_KEY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["village.key"]  # no temp left


def test_saving_never_overwrites_an_existing_key(tmp_path: Path) -> None:
    path = tmp_path / "village.key"
    VILLAGE_KEY.save(path)
    before = path.read_bytes()

    with pytest.raises(FileExistsError):
        SecretKey.generate().save(path)

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["village.key"]


def test_saving_refuses_a_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "village.key"
    link.symlink_to(tmp_path / "elsewhere.key")

    with pytest.raises(FileExistsError):
        VILLAGE_KEY.save(link)

    assert not (tmp_path / "elsewhere.key").exists()


def _corrupt_seed(text: str) -> str:
    seed_line = next(line for line in text.splitlines() if line.startswith("seed: "))
    other = b64encode(flip_bit(b64decode(seed_line[6:]), 0)).decode()
    return text.replace(seed_line, "seed: " + other)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda t: t[: len(t) // 2], "missing"),
        (lambda t: "", "missing"),
        (_corrupt_seed, "seed does not match public-key"),
        (lambda t: t.replace("key-id: ", "key-id: 0"), "key-id does not match"),
        (lambda t: t.replace("format: villagebook-secret-key 1", "format: v9"), "unknown format"),
        (lambda t: t + "seed: AAAA\n", "seed appears twice"),
        (lambda t: t + "colour: blue\n", "line 7"),
        (lambda t: t.replace("seed: ", "seed: !"), "seed is not"),
        (lambda t: t.replace("public-key: RW", "public-key: XX"), "public key"),
        (lambda t: t + "é", "not ASCII"),
        (lambda t: t + "#" * 5000, "too large"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_damaged_secret_key_file_gives_a_clear_error(
    tmp_path: Path, corrupt: Callable[[str], str], message: str
) -> None:
    path = tmp_path / "village.key"
    VILLAGE_KEY.save(path)
    path.write_text(corrupt(path.read_text(encoding="ascii")), encoding="utf-8")

    with pytest.raises(KeyFormatError, match=message) as caught:
        SecretKey.load(path)

    assert str(path) in str(caught.value)


# --- The real minisign binary ----------------------------------------------------------


@pytest.fixture
def minisign_binary() -> str:
    """Path of the `minisign` executable; fails on CI if it is missing."""
    found = shutil.which("minisign")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("minisign is not installed; on CI run `apt-get install minisign`")
        pytest.skip("minisign is not installed (apt-get install minisign)")
    return found


def run(
    binary: str, *args: str | Path, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run minisign non-interactively: no stdin (no password prompt can hang us),
    and a private HOME so ~/.minisign is never touched."""
    result = subprocess.run(
        [binary, *map(str, args)],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        env={**os.environ, "HOME": str(cwd)},
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_minisign_verifies_what_we_sign(minisign_binary: str, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(BUNDLE * 1000)
    signature_file = tmp_path / "bundle.zip.minisig"
    signature_file.write_text(sign_file(VILLAGE_KEY, bundle, COMMENT), encoding="utf-8")
    key = VILLAGE_KEY.public_key().base64()
    check = ("-V", "-P", key, "-m", bundle, "-x", signature_file)

    run(minisign_binary, *check, cwd=tmp_path)
    run(minisign_binary, *check, "-H", cwd=tmp_path)  # -H: prehashed signatures only
    quiet = run(minisign_binary, *check, "-Q", cwd=tmp_path)
    assert quiet.stdout == COMMENT + "\n"

    bundle.write_bytes(BUNDLE * 999)
    assert run(minisign_binary, *check, cwd=tmp_path, check=False).returncode != 0


def test_minisign_reads_our_public_key_file(minisign_binary: str, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(BUNDLE)
    (tmp_path / "bundle.zip.minisig").write_text(sign(VILLAGE_KEY, BUNDLE, COMMENT))
    (tmp_path / "village.pub").write_text(VILLAGE_KEY.public_key().to_text())

    quiet = run(minisign_binary, "-V", "-p", "village.pub", "-m", "bundle.zip", "-Q", cwd=tmp_path)

    assert quiet.stdout == COMMENT + "\n"


def test_minisign_rejects_our_signature_with_a_forged_comment(
    minisign_binary: str, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(BUNDLE)
    forged = edit_line(sign(VILLAGE_KEY, BUNDLE, COMMENT), 2, lambda line: line + " (approved)")
    (tmp_path / "bundle.zip.minisig").write_text(forged)
    key = VILLAGE_KEY.public_key().base64()

    result = run(minisign_binary, "-V", "-P", key, "-m", "bundle.zip", cwd=tmp_path, check=False)

    assert result.returncode != 0


def test_minisign_accepts_our_longest_comments(minisign_binary: str, tmp_path: Path) -> None:
    (tmp_path / "bundle.zip").write_bytes(BUNDLE)
    trusted = "中" * (MAX_TRUSTED_COMMENT_BYTES // 3)
    signature = sign(VILLAGE_KEY, BUNDLE, trusted, "u" * MAX_UNTRUSTED_COMMENT_BYTES)
    (tmp_path / "bundle.zip.minisig").write_text(signature, encoding="utf-8")
    key = VILLAGE_KEY.public_key().base64()

    quiet = run(minisign_binary, "-V", "-P", key, "-m", "bundle.zip", "-Q", cwd=tmp_path)

    assert quiet.stdout == trusted + "\n"


def test_minisign_also_refuses_the_identity_key_forgery(
    minisign_binary: str, tmp_path: Path
) -> None:
    """Our small-order check matches libsodium's: this all-zero forgery fails in both."""
    identity = bytes([1]) + bytes(31)
    (tmp_path / "bundle.zip").write_bytes(BUNDLE)
    forged = (
        "untrusted comment: forged\n"
        + b64encode(b"ED" + bytes(8) + bytes(64)).decode()
        + "\ntrusted comment: approved\n"
        + b64encode(bytes(64)).decode()
        + "\n"
    )
    (tmp_path / "bundle.zip.minisig").write_text(forged)
    key = b64encode(b"Ed" + bytes(8) + identity).decode()

    result = run(minisign_binary, "-V", "-P", key, "-m", "bundle.zip", cwd=tmp_path, check=False)

    assert result.returncode != 0
    with pytest.raises(KeyFormatError):
        PublicKey.from_text(key)


def make_minisign_keys(binary: str, tmp_path: Path) -> tuple[Path, Path]:
    """A minisign key pair without a password (`-W`), as an outside signer has."""
    run(binary, "-G", "-W", "-p", "outside.pub", "-s", "outside.key", cwd=tmp_path)
    return tmp_path / "outside.pub", tmp_path / "outside.key"


def test_we_verify_what_minisign_signs(minisign_binary: str, tmp_path: Path) -> None:
    pub_file, key_file = make_minisign_keys(minisign_binary, tmp_path)
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(BUNDLE)
    run(minisign_binary, "-S", "-s", key_file, "-m", bundle, "-t", COMMENT, cwd=tmp_path)
    signature = (tmp_path / "bundle.zip.minisig").read_bytes()

    public = PublicKey.from_text(pub_file.read_text(encoding="utf-8"))

    assert verify(public, BUNDLE, signature) == COMMENT
    assert verify_file(public, bundle, signature) == COMMENT
    assert reason_of(lambda: verify(public, BUNDLE + b"x", signature)) == "bad_signature"
    # 0.11 prints the id without leading zeros, 0.12 pads it to 16 digits.
    shown_id = pub_file.read_text().splitlines()[0].rsplit(" ", 1)[1]
    assert public.key_id_hex == shown_id.zfill(16)


def test_we_verify_minisign_default_comment_and_legacy_signatures(
    minisign_binary: str, tmp_path: Path
) -> None:
    pub_file, key_file = make_minisign_keys(minisign_binary, tmp_path)
    public = PublicKey.from_text(pub_file.read_text(encoding="utf-8"))
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(BUNDLE)

    run(minisign_binary, "-S", "-s", key_file, "-m", bundle, cwd=tmp_path)
    default = verify(public, BUNDLE, (tmp_path / "bundle.zip.minisig").read_text())
    assert re.fullmatch(r"timestamp:\d+\tfile:bundle\.zip\thashed", default)

    run(minisign_binary, "-S", "-l", "-s", key_file, "-m", bundle, "-t", "old", cwd=tmp_path)
    legacy = (tmp_path / "bundle.zip.minisig").read_text()
    assert reason_of(lambda: verify(public, BUNDLE, legacy)) == "legacy_refused"
    assert reason_of(lambda: verify_file(public, bundle, legacy)) == "legacy_refused"
    assert verify(public, BUNDLE, legacy, allow_legacy=True) == "old"


def test_blake2b_prehash_matches_minisign(minisign_binary: str, tmp_path: Path) -> None:
    """Guards the one non-obvious choice: plain Ed25519 over BLAKE2b-512, not Ed25519ph."""
    pub_file, key_file = make_minisign_keys(minisign_binary, tmp_path)
    public = PublicKey.from_text(pub_file.read_text(encoding="utf-8"))
    (tmp_path / "empty").write_bytes(b"")
    run(minisign_binary, "-S", "-s", key_file, "-m", "empty", "-t", "e", cwd=tmp_path)
    parsed = parse_signature((tmp_path / "empty.minisig").read_text())

    Ed25519PublicKey.from_public_bytes(public.key).verify(
        parsed.signature, hashlib.blake2b(b"", digest_size=64).digest()
    )
