"""Attach phone photos: how long reduction and storing take, and what size is left.

Generates realistic 4000×3000 JPEGs (noise and gradients, so they compress like
photos, about 3-5 MB each, with EXIF orientation, GPS and a date), attaches each
to a case of a fresh village home through the real service, and prints the time
per photo, the sizes before and after, and the peak memory. Figures only; nothing
is asserted. `python bench/bench_attach.py --count 50` for a quick run.
"""

from __future__ import annotations

import argparse
import functools
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from villagebook.domain.enums import Role
from villagebook.services import attachments, cases
from villagebook.store.node import Store
from villagebook.sync.identity import set_up_node

SIZE = (4000, 3000)
_BASES = 8


@functools.lru_cache(maxsize=_BASES)
def _base(seed: int) -> Image.Image:
    """A photo-like picture: coloured gradients, some texture, a little sensor noise."""
    gradient = Image.linear_gradient("L").resize(SIZE).rotate(seed * 40)
    texture = Image.effect_mandelbrot(SIZE, (-2.0 + seed / 10, -1.2, 1.0, 1.2), 60)
    noise = Image.effect_noise(SIZE, 12)
    return Image.merge("RGB", (Image.blend(gradient, noise, 0.2),
                               Image.blend(texture, noise, 0.25),
                               Image.blend(gradient, texture, 0.5)))


def _photo(args: tuple[Path, int]) -> Path:
    """One distinct JPEG (a numbered patch makes each file unique)."""
    folder, number = args
    image = _base(number % _BASES).copy()
    image.paste((number * 37 % 256, number * 91 % 256, 80), (0, 0, 64 + number % 64, 64))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (31.0, 39.0, 10.0), 3: "E", 4: (119.0, 1.0, 40.0)}
    exif.get_ifd(0x8769)[0x9003] = "2026:05:01 09:30:00"
    path = folder / f"IMG_{number:04d}.jpg"
    image.save(path, "JPEG", quality=92, exif=exif.tobytes())
    return path


def _photos(folder: Path, count: int) -> list[Path]:
    """`count` photos, made in worker processes (their memory is not counted below)."""
    with ProcessPoolExecutor() as pool:
        return list(pool.map(_photo, [(folder, n) for n in range(count)], chunksize=4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500, help="how many photos (500)")
    count = parser.parse_args().count
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "phone"
        folder.mkdir()
        start = time.perf_counter()
        photos = _photos(folder, count)
        made = time.perf_counter() - start
        size_in = sum(p.stat().st_size for p in photos)
        print(f"generated {count} photos of {SIZE[0]}x{SIZE[1]} in {made:.1f} s, "
              f"{size_in / count / 1e6:.2f} MB each on average")
        with Store(Path(root) / "village") as store:
            set_up_node(store, Role.VILLAGE, "320117100201", "白马村", "320117100000")
            case_id = cases.create_case(store, {"title": "照片", "lead_person": "王芳",
                                                "direction": "implementation"})
            start = time.perf_counter()
            for photo in photos:
                attachments.attach(store, "case", case_id, [photo], caption=photo.stem)
            spent = time.perf_counter() - start
            stored = attachments.attachments_of(store, "case", case_id)
        size_out = sum(int(item["size"]) for item in stored)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"attached {len(stored)} photos in {spent:.1f} s: "
              f"{spent / count * 1000:.0f} ms per photo, {count / spent:.1f} photos/s")
        print(f"size before {size_in / 1e6:.1f} MB, after reduction {size_out / 1e6:.1f} MB "
              f"({size_out / count / 1e3:.0f} KB per photo, {size_out / size_in:.1%} "
              f"of the originals)")
        print(f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
