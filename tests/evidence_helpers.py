"""Files a secretary might attach, made with Pillow: a phone photo with its
orientation and location, a screenshot, a program posing as a photo, a bomb."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

from PIL import Image

ORIENTATION, GPS_IFD, EXIF_IFD, DATE_TIME_ORIGINAL = 0x0112, 0x8825, 0x8769, 0x9003


def phone_photo(path: Path, *, size: tuple[int, int] = (4000, 3000), seed: int = 0,
                taken: str = "2026:05:01 09:30:00") -> Path:
    """A landscape JPEG as a phone writes it: EXIF says turn it (6: 90° clockwise), where
    it was taken (GPS) and when."""
    width, height = size
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image.paste((200, 40 + seed % 200, 30), (0, 0, width // 4, height // 3))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[GPS_IFD] = {1: "N", 2: (31.0, 39.0, 10.0), 3: "E", 4: (119.0, 1.0, 40.0)}
    exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = taken
    image.save(path, "JPEG", quality=92, exif=exif.tobytes())
    return path


def screenshot(path: Path) -> Path:
    """A small PNG with transparency."""
    Image.new("RGBA", (320, 200), (0, 128, 255, 128)).save(path, "PNG")
    return path


def program_as_photo(path: Path) -> Path:
    """An ELF executable named like a photo."""
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" +
                     b"\x90" * 2000)
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def decompression_bomb(path: Path, side: int = 60_000) -> Path:
    """A PNG a few hundred bytes long that claims 60000×60000 pixels (3.6 gigapixels)."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 10_000, 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data)
                     + _chunk(b"IEND", b""))
    return path


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_files(home: Path) -> list[Path]:
    """The files of a home's file store (not its temporary folder)."""
    root = home / "files"
    return sorted(p for p in root.glob("*/*") if p.parent.name != "tmp") if root.exists() \
        else []
