"""`villagebook check --prune`: a village removes a photo and, once every neighbour
holds it, the file leaves its home; a file that may still need relaying, or that
a change not yet sent points at, never does. Viewer copies go after a day."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from tests.conftest import VILLAGE, run_cli
from tests.sync_helpers import CASE, send, three_nodes
from villagebook.services import attachments, cases
from villagebook.store import files
from villagebook.store.node import Store
from villagebook.sync.merge import merge_file

_DAY = 24 * 3600


def _doc(folder: Path, name: str, seed: int) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(b"%PDF-1.4\n" + random.Random(seed).randbytes(20_000))
    return path


def _age_files(home: Path, days: float = 2) -> None:
    """Make every stored file look written `days` ago (past the prune's grace)."""
    old = time.time() - days * _DAY
    for path in (home / "files").glob("*/*"):
        os.utime(path, (old, old))


def _pruned(home: Path) -> list[str]:
    result = run_cli(home, "check", "--prune", "--json")
    assert result.code == 0, result
    return sorted(result.json()["pruned"]["files"])


def _sha(store: Store, attachment_id: str) -> str:
    return str(attachments.get_attachment(store, attachment_id)["sha256"])


def _round_trip(n: object, root: Path, name: str) -> None:
    """Village up to the township, the township back down (its acks reach the village)."""
    village, township = n.village, n.township  # type: ignore[attr-defined]
    assert merge_file(township, send(village, root / f"{name}-up")).status == "merged"
    down = send(township, root / f"{name}-down", VILLAGE[0])
    assert merge_file(village, down).status in ("merged", "already")


def test_a_removed_photo_leaves_the_village_only_once_every_neighbour_holds_it(
        tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        scans = tmp_path / "scans"
        kept, removed, unsent = (attachments.attach(
            n.village, "case", case_id, [_doc(scans, f"{name}.pdf", seed)])[0]
            for seed, name in enumerate(("kept", "removed", "unsent")))
        shas = {key: _sha(n.village, aid) for key, aid in
                (("kept", kept), ("removed", removed), ("unsent", unsent))}
        attachments.remove(n.village, unsent)  # removed before any bundle carried it
        orphan = files.commit(n.village.home, files.write_pending(
            n.village.home, iter([b"left by a killed merge"]), 1 << 20))
        _age_files(n.village.home)
        fresh = files.commit(n.village.home, files.write_pending(
            n.village.home, iter([b"being attached right now"]), 1 << 20))
        village = n.village.home
        n.village.close()
        # Nobody has the unsent file's change yet: it stays; the old leftover goes.
        assert _pruned(village) == [orphan.name]
        assert fresh.is_file() and files.has_blob(village, shas["unsent"])
        n.village = Store(village)
        _round_trip(n, tmp_path, "first")
        attachments.remove(n.village, removed)
        _age_files(village)
        n.village.close()
        assert _pruned(village) == sorted([shas["removed"], shas["unsent"], fresh.name])
        assert files.has_blob(village, shas["kept"])
        assert run_cli(village, "check").code == 0
        # The township holds the removed photo for the district, which has not acked it.
        n.village = Store(village)
        _round_trip(n, tmp_path, "second")
        _age_files(n.township.home)
        township = n.township.home
        n.township.close()
        assert _pruned(township) == []
        assert all(files.has_blob(township, sha) for sha in shas.values())
        # A full export after the prune still goes out and merges.
        n.township = Store(township)
        full = run_cli(village, "export", "--full", "--out", str(tmp_path / "full"),
                       check=True).out.strip()
        n.township.close()
        assert run_cli(township, "merge", full).code == 0
        assert run_cli(township, "check").code == 0


def test_viewer_copies_older_than_a_day_are_swept_at_start(tmp_path: Path) -> None:
    with three_nodes(tmp_path) as n:
        case_id = cases.create_case(n.village, CASE)
        photo = tmp_path / "p.png"
        from tests.evidence_helpers import screenshot

        [aid] = attachments.attach(n.village, "case", case_id, [screenshot(photo)])
        old = attachments.viewer_copy(n.village, aid)
        new = attachments.viewer_copy(n.village, aid)
        village = n.village.home
    assert old.parent.parent == village / "viewing" and old != new
    assert not os.access(old, os.W_OK) or os.geteuid() == 0
    stale = time.time() - 2 * _DAY
    os.utime(old.parent, (stale, stale))
    run_cli(village, "check", check=True)
    assert not old.exists() and not old.parent.exists()
    assert new.is_file()
