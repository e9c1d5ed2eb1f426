"""The plain-PNG fast path gives Pillow's pixels exactly, and hands every other PNG (and every
damaged one) back to Pillow by returning None."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from image_factory import PNG_SIGNATURE, bomb_png, noise, png_bytes, png_chunk
from PIL import Image

from desktop_nn.data.image_folder import MAX_PIXELS, decode_image
from desktop_nn.data.png_fast import decode_plain_png


def chunks_of(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], len(PNG_SIGNATURE)
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        out.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def rebuild(parts: list[tuple[bytes, bytes]]) -> bytes:
    return PNG_SIGNATURE + b"".join(png_chunk(k, b) for k, b in parts)


def pillow_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_plain_png_gives_pillows_pixels(mode):
    data = png_bytes(noise((37, 23)).convert(mode))
    img = decode_plain_png(data, MAX_PIXELS)
    assert img is not None and img.mode == mode and img.size == (37, 23)
    np.testing.assert_array_equal(np.asarray(img), pillow_pixels(data))


def test_several_idat_chunks_and_ancillary_chunks_are_read():
    data = png_bytes(noise((40, 30)).convert("RGB"))
    parts = chunks_of(data)
    idat = b"".join(b for k, b in parts if k == b"IDAT")
    ihdr = next(b for k, b in parts if k == b"IHDR")
    thirds = [idat[: len(idat) // 3], idat[len(idat) // 3: 2 * len(idat) // 3],
              idat[2 * len(idat) // 3:]]
    split = rebuild([(b"IHDR", ihdr), (b"tEXt", b"Comment\0hello"), (b"gAMA", b"\0\0\xb1\x8f")]
                    + [(b"IDAT", t) for t in thirds] + [(b"IEND", b"")])
    img = decode_plain_png(split, MAX_PIXELS)
    assert img is not None
    np.testing.assert_array_equal(np.asarray(img), pillow_pixels(data))


@pytest.mark.parametrize("mode", ["P", "RGBA", "LA", "I;16", "1"])
def test_other_kinds_of_png_are_left_to_pillow(mode):
    img = noise((8, 8)).convert("RGB" if mode == "RGBA" else "L")
    img = img.convert(mode) if mode != "I;16" else Image.fromarray(
        np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    assert decode_plain_png(png_bytes(img), MAX_PIXELS) is None


def test_interlaced_and_transparent_pngs_are_left_to_pillow():
    buf = io.BytesIO()
    noise((16, 16)).convert("L").save(buf, "PNG", interlace=1)  # Pillow may ignore this
    parts = chunks_of(buf.getvalue())
    ihdr = bytearray(next(b for k, b in parts if k == b"IHDR"))
    ihdr[12] = 1  # interlace method: Adam7
    interlaced = rebuild([(b"IHDR", bytes(ihdr)) if k == b"IHDR" else (k, b) for k, b in parts])
    assert decode_plain_png(interlaced, MAX_PIXELS) is None
    gray_png = png_bytes(noise((8, 8)).convert("L"))
    parts = chunks_of(gray_png)
    with_trns = rebuild(parts[:1] + [(b"tRNS", b"\0\0")] + parts[1:])
    assert decode_plain_png(with_trns, MAX_PIXELS) is None
    unknown_critical = rebuild(parts[:1] + [(b"ABCD", b"x")] + parts[1:])
    assert decode_plain_png(unknown_critical, MAX_PIXELS) is None


def test_damaged_pngs_are_left_to_pillow():
    whole = png_bytes(noise((32, 32)).convert("L"))
    assert decode_plain_png(whole[: len(whole) // 2], MAX_PIXELS) is None  # truncated
    assert decode_plain_png(whole[:-12], MAX_PIXELS) is None  # no IEND
    bad_crc = bytearray(whole)
    bad_crc[40] ^= 0xFF
    assert decode_plain_png(bytes(bad_crc), MAX_PIXELS) is None
    # a stream that is damaged but carries a correct CRC: the decoder itself refuses it
    parts = chunks_of(whole)
    broken = rebuild([(k, b[:5] + bytes(len(b) - 5)) if k == b"IDAT" else (k, b)
                      for k, b in parts])
    assert decode_plain_png(broken, MAX_PIXELS) is None
    assert decode_plain_png(b"GIF89a", MAX_PIXELS) is None
    assert decode_plain_png(b"", MAX_PIXELS) is None


def test_a_decompression_bomb_is_not_decoded():
    assert decode_plain_png(bomb_png(10_000, 10_000), MAX_PIXELS) is None
    assert decode_plain_png(png_bytes(noise((8, 8)).convert("L")), 63) is None


def test_the_loader_takes_the_fast_path_for_plain_pngs(tmp_path, monkeypatch):
    path = tmp_path / "x.png"
    path.write_bytes(png_bytes(noise((6, 5)).convert("RGB")))
    calls = []
    from desktop_nn.data.image_folder import decode as folder_decode

    real = folder_decode.decode_plain_png
    monkeypatch.setattr(folder_decode, "decode_plain_png",
                        lambda data, limit: calls.append(1) or real(data, limit))
    a = decode_image(path, (5, 6), "rgb")
    assert calls == [1]
    expected = np.asarray(Image.open(path)).transpose(2, 0, 1).reshape(-1)
    np.testing.assert_array_equal(a, expected)


def test_files_pillow_refuses_are_left_to_pillow():
    data = png_bytes(noise((20, 20)).convert("L"))
    parts = chunks_of(data)
    idat = next(b for k, b in parts if k == b"IDAT")
    ihdr = next(b for k, b in parts if k == b"IHDR")
    half = len(idat) // 2
    interrupted = rebuild([(b"IHDR", ihdr), (b"IDAT", idat[:half]), (b"tEXt", b"a\0b"),
                           (b"IDAT", idat[half:]), (b"IEND", b"")])
    assert decode_plain_png(interrupted, MAX_PIXELS) is None
    not_letters = rebuild([(b"IHDR", ihdr), (b"\xa2\x14\r\x05", b"x"), (b"IDAT", idat),
                           (b"IEND", b"")])
    assert decode_plain_png(not_letters, MAX_PIXELS) is None
    animated = rebuild([(b"IHDR", ihdr), (b"acTL", struct.pack(">II", 1, 0)),
                        (b"IDAT", idat), (b"IEND", b"")])
    assert decode_plain_png(animated, MAX_PIXELS) is None
