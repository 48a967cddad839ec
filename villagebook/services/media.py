"""What a file is (decided from its bytes) and how a photo is made fit to travel.

The type comes from the first bytes (magic numbers), never from the file's name:
a "photo.jpg" that is really a program is an executable here. Photos are reduced
deterministically (orientation applied, longest side 2048 px, JPEG quality 85) and
lose their location (EXIF GPS) unless the user keeps it on purpose: residents'
homes must not leak through a chat app. Pillow's pixel limit refuses a
decompression bomb before anything is decoded.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from villagebook.domain.enums import AttachmentKind
from villagebook.services.errors import Refused

LONGEST_SIDE = 2048
JPEG_QUALITY = 85
#: Larger images are refused unread: 100 megapixels is past any phone camera.
PIXEL_LIMIT = 100_000_000
# Pillow's own guard: past this it warns (made an error below), past twice it refuses.
Image.MAX_IMAGE_PIXELS = PIXEL_LIMIT

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_DATE_TIME_ORIGINAL = 0x9003
_DATE_TIME = 0x0132

#: (magic bytes at offset 0, media type); checked in order.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x7fELF", "application/x-executable"),
    (b"MZ", "application/x-msdownload"),
    (b"#!", "text/x-script"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
)
_WORD = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_EXCEL = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Types the system viewer may open; anything else can only be extracted.
VIEWABLE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp",
                      "application/pdf", "text/plain", _WORD, _EXCEL})
#: Photos are images Pillow reduces; other images (TIFF scans) are kept as they are.
_PHOTOS = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
_DOCUMENTS = frozenset({"application/pdf", "text/plain", "image/tiff", _WORD, _EXCEL})
#: The extension a read-only copy gets for the viewer, decided by type, not by name.
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif",
              "image/webp": ".webp", "application/pdf": ".pdf", "text/plain": ".txt",
              _WORD: ".docx", _EXCEL: ".xlsx"}


def sniff(path: Path) -> str:
    """The media type of a file, from its first bytes (and a zip's member names)."""
    with path.open("rb") as source:
        head = source.read(4096)
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(path)
    if _is_text(head):
        return "text/plain"
    return "application/octet-stream"


def _zip_type(path: Path) -> str:
    """Word and Excel files are zips; macro-enabled ones (vbaProject) are not viewable."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return "application/zip"
    if any(name.endswith("vbaProject.bin") for name in names):
        return "application/zip"
    if "word/document.xml" in names:
        return _WORD
    if "xl/workbook.xml" in names:
        return _EXCEL
    return "application/zip"


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # a character cut by the 4096-byte window
    return True


def kind_of(media_type: str) -> AttachmentKind:
    """Photo, document or other, from the media type."""
    if media_type in _PHOTOS:
        return AttachmentKind.PHOTO
    if media_type in _DOCUMENTS:
        return AttachmentKind.DOCUMENT
    return AttachmentKind.OTHER


def is_photo(media_type: str) -> bool:
    """Whether Pillow reduces files of this type on attach."""
    return media_type in _PHOTOS


@dataclass(frozen=True)
class Photo:
    """A photo ready to store: its bytes (None: the file's own, unchanged), its type
    and when it was taken."""

    data: bytes | None
    media_type: str
    taken: str | None


def _open(path: Path, name: str) -> Image.Image:
    """Open an image lazily, refusing a decompression bomb from its header alone."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb(name) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise Refused("{name} cannot be read as a picture; the file may be damaged",
                      name=name) from None
    if width * height > PIXEL_LIMIT:
        image.close()
        raise _bomb(name)
    return image


#: One terminal cell of a half-block preview: the colours of its upper and lower pixel.
Cell = tuple[tuple[int, int, int], tuple[int, int, int]]


def preview_cells(path: Path, name: str, columns: int, rows: int) -> list[list[Cell]]:
    """A photo fitted into `columns` x `rows` terminal cells, two pixels a cell (the
    upper and lower half of one character), upright as taken.

    Only photo types are decoded, under the pixel limit, and a JPEG at a reduced
    scale (Pillow's draft mode), so a peer's photo costs little to draw.
    """
    if sniff(path) not in _PHOTOS:
        raise Refused("{name} is not a photo; only photos are drawn here", name=name)
    columns, height = max(1, columns), max(2, rows * 2)
    with _open(path, name) as image:
        try:
            image.draft("RGB", (columns, height))
            upright = ImageOps.exif_transpose(image).convert("RGB")
        except (OSError, ValueError, SyntaxError):
            raise Refused("{name} cannot be read as a picture; the file may be damaged",
                          name=name) from None
    upright.thumbnail((columns, height), Image.Resampling.BILINEAR)
    width, tall = upright.size
    data = upright.tobytes()  # RGB, row by row

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        at = 3 * (y * width + x)
        return data[at], data[at + 1], data[at + 2]

    return [[(pixel(x, top), pixel(x, min(top + 1, tall - 1))) for x in range(width)]
            for top in range(0, tall, 2)]


def _bomb(name: str) -> Refused:
    return Refused("{name} is refused: its picture has more than {limit} megapixels; "
                   "it may be a decompression bomb", name=name, limit=PIXEL_LIMIT // 1_000_000)


def taken_date(exif: Image.Exif) -> str | None:
    """The day a photo was taken, where its EXIF says so (ISO 8601)."""
    raw = exif.get_ifd(_EXIF_IFD).get(_DATE_TIME_ORIGINAL) or exif.get(_DATE_TIME)
    if not isinstance(raw, str):
        return None
    try:
        return dt.datetime.strptime(raw.strip()[:10], "%Y:%m:%d").date().isoformat()
    except ValueError:
        return None


def prepare_photo(path: Path, name: str, *, keep_original: bool,
                  keep_location: bool) -> Photo:
    """The photo as it will be stored (its own bytes where the user keeps the
    original and it has no location to remove, or keeps that too)."""
    with _open(path, name) as image:
        media_type = Image.MIME.get(image.format or "", "image/jpeg")
        try:
            exif = image.getexif()
            taken = taken_date(exif)
            has_gps = bool(exif.get_ifd(_GPS_IFD))
            if keep_original:
                if keep_location or not has_gps:
                    return Photo(None, media_type, taken)
                return Photo(_without_location(path, image, exif), media_type, taken)
            data, reduced_type = _reduced(image, exif, keep_location)
            return Photo(data, reduced_type, taken)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            raise Refused("{name} cannot be read as a picture; the file may be damaged",
                          name=name) from None


def _reduced(image: Image.Image, exif: Image.Exif, keep_location: bool) -> tuple[bytes, str]:
    """Orientation applied, longest side at most 2048 px, GPS dropped unless kept.

    JPEG in, JPEG out (quality 85); other photos become PNG (lossless, transparency
    kept). Same input, same Pillow: same bytes.
    """
    png = image.format == "PNG" or image.mode in ("RGBA", "LA", "P")
    upright = ImageOps.exif_transpose(image)
    upright.thumbnail((LONGEST_SIDE, LONGEST_SIDE), Image.Resampling.LANCZOS)
    kept = Image.Exif()
    if keep_location and exif.get_ifd(_GPS_IFD):
        kept[_GPS_IFD] = exif.get_ifd(_GPS_IFD)
    original = exif.get_ifd(_EXIF_IFD).get(_DATE_TIME_ORIGINAL)
    if original:
        kept[_DATE_TIME] = original
    out = io.BytesIO()
    if png:
        upright.save(out, "PNG", exif=kept.tobytes() if len(kept) else b"")
    else:
        upright.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=False,
                                    progressive=False, subsampling=2,
                                    exif=kept.tobytes() if len(kept) else b"")
    return out.getvalue(), "image/png" if png else "image/jpeg"


def _without_location(path: Path, image: Image.Image, exif: Image.Exif) -> bytes:
    """The original photo, pixels untouched, with its EXIF GPS block removed."""
    del exif[_GPS_IFD]
    if image.format == "JPEG":
        return _replace_jpeg_exif(path.read_bytes(), b"Exif\x00\x00" + exif.tobytes())
    out = io.BytesIO()  # PNG, WebP, GIF: lossless formats, so re-saving keeps the pixels
    image.save(out, image.format or "PNG", exif=exif.tobytes(), lossless=True)
    return out.getvalue()


def _replace_jpeg_exif(data: bytes, exif_segment: bytes) -> bytes:
    """A JPEG with its APP1 Exif segment replaced, every other byte as it was."""
    out, position = bytearray(data[:2]), 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            break
        length = int.from_bytes(data[position + 2:position + 4], "big")
        segment = data[position:position + 2 + length]
        if marker == 0xE1 and segment[4:10] == b"Exif\x00\x00":
            segment = b"\xff\xe1" + (len(exif_segment) + 2).to_bytes(2, "big") + exif_segment
        out += segment
        position += 2 + length
    out += data[position:]
    return bytes(out)
