"""A fast path for the plainest PNG files: 8-bit gray or RGB, not interlaced, no palette, no
transparency and no EXIF or XMP that could turn it (MNIST-style data sets are all of this
kind).

Pillow's PNG reader walks the chunks in Python, which costs more than decoding a small image.
Here the chunks are walked with ``struct`` and the pixel data go straight to Pillow's own C
decoder (the "zip" decoder its PNG plugin uses), so the pixels are Pillow's exactly.

Anything else, and anything unexpected (a bad CRC, a missing chunk, a truncated stream, an
unknown critical chunk), returns None: the caller then opens the file with Pillow, which
reads every other kind of PNG and words the error for a damaged file.
"""

from __future__ import annotations

import struct
import zlib

from PIL import Image

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# colour type -> Pillow mode (and raw mode) for 8-bit samples
_MODES = {0: "L", 2: "RGB"}
# chunks that change the pixels a reader should show (a palette, transparency, the frames of
# an animated PNG): left to Pillow
_NOT_PLAIN = frozenset({b"tRNS", b"PLTE", b"acTL", b"fcTL", b"fdAT"})
# chunks that may say the image is to be shown turned (an EXIF orientation): an eXIf chunk,
# or a text chunk holding EXIF or XMP, which Pillow reads the orientation from too
_ORIENTING = b"eXIf"
_TEXT = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_ORIENTING_KEYWORDS = frozenset({b"Raw profile type exif", b"Raw profile type APP1",
                                 b"XML:com.adobe.xmp"})


def decode_plain_png(data: bytes, max_pixels: int) -> Image.Image | None:
    """Decode ``data`` (a whole PNG file) when it is a plain 8-bit gray or RGB image of at most
    ``max_pixels`` pixels -> a loaded "L" or "RGB" image; otherwise None."""
    if not data.startswith(SIGNATURE):
        return None
    pos, end = len(SIGNATURE), len(data)
    header = None
    idat: list[bytes] = []
    while True:
        if pos + 12 > end:
            return None  # no IEND: truncated
        length, kind = struct.unpack_from(">I4s", data, pos)
        body_end = pos + 8 + length
        if body_end + 4 > end:
            return None
        body = data[pos + 8:body_end]
        (crc,) = struct.unpack_from(">I", data, body_end)
        if zlib.crc32(body, zlib.crc32(kind)) != crc or not kind.isalpha():
            return None
        if idat and kind != b"IDAT" and kind != b"IEND":
            return None  # the image data must be consecutive chunks
        if kind == b"IHDR":
            if header is not None or length != 13:
                return None
            header = struct.unpack(">IIBBBBB", body)
        elif header is None:
            return None  # IHDR must come first
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        elif kind in _NOT_PLAIN or not kind[0] & 0x20 or kind == _ORIENTING:
            return None  # palette, transparency, an unknown critical chunk, EXIF
        elif kind in _TEXT and body.split(b"\0", 1)[0] in _ORIENTING_KEYWORDS:
            return None  # EXIF or XMP in a text chunk
        pos = body_end + 4
    width, height, depth, color_type, compression, filtering, interlace = header
    mode = _MODES.get(color_type)
    if (mode is None or depth != 8 or compression or filtering or interlace or not idat
            or width == 0 or height == 0 or width * height > max_pixels):
        return None
    try:
        return Image.frombytes(mode, (width, height), b"".join(idat), "zip", mode)
    except (ValueError, OSError):
        return None  # a damaged stream: Pillow's own reader says how
