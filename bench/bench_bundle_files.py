"""Export and merge a bundle carrying N MB of evidence files (issue 10, part B).

A village home attaches N MB of files (8 MB scans of random bytes, kept as they
are), exports a bundle for its township, and the township merges it, each step
in its own `python -m villagebook` process. Printed: the time of each step next
to a plain `shutil.copyfile` + `hashlib.sha256` of the same bytes in the same run
(the ratio), and each process's peak RSS. Figures only; nothing is asserted.

    python bench/bench_bundle_files.py [--mb 200]      # --mb 1024 for the full 1 GB
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyrage
from pyrage import x25519

from villagebook.domain.enums import Role
from villagebook.services import attachments, cases
from villagebook.store.node import Store
from villagebook.sync.identity import load_key_file, set_up_node
from villagebook.sync.opening import set_policy
from villagebook.sync.trust import trust_key

FILE_MB = 8
CHUNK = 1 << 20
VILLAGE = ("320117100201", "白马村", "320117100000")
TOWNSHIP = ("320117100000", "白马镇", "320117000000")


def _homes(root: Path) -> tuple[Path, Path]:
    village, township = root / "village", root / "township"
    with Store(village) as v, Store(township) as t:
        set_up_node(v, Role.VILLAGE, *VILLAGE)
        set_up_node(t, Role.TOWNSHIP, *TOWNSHIP)
        # Key files as `keys trust` reads them: with the recipient, so bundles are encrypted.
        for store, other, unit in ((t, village, VILLAGE[0]), (v, township, TOWNSHIP[0])):
            public, binding = load_key_file(other)
            trust_key(store, public, unit, binding)
    return village, township


def _attach(village: Path, scans: Path, megabytes: int) -> list[Path]:
    """Attach `megabytes` of random scans; the stored files' paths."""
    with Store(village) as store:
        case_id = cases.create_case(store, {"title": "扫描件", "lead_person": "王芳",
                                            "direction": "implementation"})
        for number in range(max(1, megabytes // FILE_MB)):
            path = scans / f"scan{number:04d}.bin"
            path.write_bytes(os.urandom(FILE_MB * CHUNK))
            attachments.attach(store, "case", case_id, [path], caption=path.stem)
            path.unlink()
    return sorted(p for p in (village / "files").glob("*/*") if p.parent.name != "tmp")


def _run(home: Path, *args: str) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB) and output of one `villagebook` process."""
    env = {k: v for k, v in os.environ.items() if k != "VILLAGEBOOK_HOME"}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "villagebook", "--home", str(home),
                                "--lang", "en", *args], stdout=subprocess.PIPE, env=env)
    assert process.stdout is not None
    out = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    spent = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"villagebook {' '.join(args)} failed")
    return spent, usage.ru_maxrss / 1024, out.strip()


def _baseline(blobs: list[Path], target: Path) -> float:
    """A plain copy and a SHA-256 of the same bytes."""
    target.mkdir()
    start = time.perf_counter()
    for blob in blobs:
        copy = target / blob.name
        shutil.copyfile(blob, copy)
        digest = hashlib.sha256()
        with copy.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=200, help="megabytes of files (200)")
    megabytes = parser.parse_args().mb
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as name:
        root = Path(name)
        village, township = _homes(root)
        (root / "scans").mkdir()
        blobs = _attach(village, root / "scans", megabytes)
        total = sum(p.stat().st_size for p in blobs) / CHUNK
        print(f"{len(blobs)} files, {total:.0f} MB in all")
        base = _baseline(blobs, root / "baseline")
        print(f"baseline copyfile + sha256: {base:.2f} s ({total / base:.0f} MB/s)")
        start_up = min(_run(village, "status")[0] for _ in range(3))
        print(f"process start (villagebook status, best of 3): {start_up:.2f} s")
        spent, rss, out = _run(village, "export", "--out", str(root / "usb"))
        bundle = Path(out.splitlines()[-1])
        print(f"export: {spent:.2f} s, {spent / base:.2f}x the baseline "
              f"({(spent - start_up) / base:.2f}x without the process start), "
              f"peak RSS {rss:.0f} MB, bundle {bundle.stat().st_size / CHUNK:.0f} MB")
        spent, rss, _ = _run(township, "merge", str(bundle))
        print(f"merge:  {spent:.2f} s, {spent / base:.2f}x the baseline "
              f"({(spent - start_up) / base:.2f}x without the process start), "
              f"peak RSS {rss:.0f} MB")
        spent, rss, _ = _run(township, "check")
        print(f"check (every file hashed): {spent:.2f} s, peak RSS {rss:.0f} MB")
        _plain_and_floor(root, village, township, bundle, base)
        print("target: export and merge <= 1.5x the baseline, peak RSS <= 150 MB")


def _plain_and_floor(root: Path, village: Path, township: Path, bundle: Path,
                     base: float) -> None:
    """Where the time goes: the same export and merge without encryption (into a fresh
    township home), and rage (pyrage) encrypting and decrypting the same bytes alone."""
    with Store(township) as store:
        set_policy(store, "never")
    spent, _, out = _run(village, "export", "--full", "--plain", "--out", str(root / "usb2"))
    plain = Path(out.splitlines()[-1])
    print(f"export --plain: {spent:.2f} s, {spent / base:.2f}x the baseline")
    fresh = root / "township2"
    with Store(fresh) as store:
        set_up_node(store, Role.TOWNSHIP, *TOWNSHIP)
        public, binding = load_key_file(village)
        trust_key(store, public, VILLAGE[0], binding)
        set_policy(store, "never")
    spent, _, _ = _run(fresh, "merge", str(plain))
    print(f"merge --plain:  {spent:.2f} s, {spent / base:.2f}x the baseline")
    recipient = x25519.Identity.generate()
    start = time.perf_counter()
    pyrage.encrypt_file(str(plain), str(root / "alone.age"), [recipient.to_public()])
    sealed = time.perf_counter() - start
    start = time.perf_counter()
    pyrage.decrypt_file(str(root / "alone.age"), str(root / "alone.zip"), [recipient])
    opened = time.perf_counter() - start
    print(f"rage alone on the same bytes: encrypt {sealed:.2f} s ({sealed / base:.2f}x), "
          f"decrypt {opened:.2f} s ({opened / base:.2f}x)")


if __name__ == "__main__":
    main()
