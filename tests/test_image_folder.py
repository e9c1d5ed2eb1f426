"""Image folders: layouts, every bad case with its reason, modes and formats, the column layout,
the cache and its invalidation, progress, cancellation and the process pool."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from image_factory import (
    bomb_png,
    from_array,
    gray,
    jpeg_bytes,
    make_folder,
    noise,
    png_bytes,
    rgb,
    save,
    write_bytes,
)
from PIL import Image

from desktop_nn.data import image_folder
from desktop_nn.data.dataset import prepare_image_data
from desktop_nn.data.image_folder import (
    Cancelled,
    FolderError,
    LoadOptions,
    flatten_planes,
    load_image_folder,
    parse_image_size,
    unflatten_planes,
)
from desktop_nn.data.image_folder import cache as folder_cache
from desktop_nn.data.image_folder import decode as folder_decode
from desktop_nn.data.image_folder import load as folder_load


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def load(root, cache_dir=None, **options):
    """Load without touching any cache unless ``cache_dir`` is given."""
    opts = LoadOptions(use_cache=cache_dir is not None, **options)
    return load_image_folder(root, opts, cache_dir=cache_dir)


def reasons(data) -> dict[str, str]:
    return {s.path.replace(os.sep, "/"): s.reason for s in data.skipped}


def row_of(data, rel: str) -> np.ndarray:
    return data.pixels[data.paths.index(rel.replace("/", os.sep))]


# ---------------------------------------------------------------------------- layouts
def test_classes_layout_sorted_class_names_and_labels(tmp_path):
    root = make_folder(tmp_path / "d", {"zebra": 2, "ant": 3, "mole": 1})
    data = load(root)
    assert data.layout == "classes"
    assert data.class_names == ["ant", "mole", "zebra"]
    assert data.counts() == {"ant": 3, "mole": 1, "zebra": 2}
    assert set(data.splits) == {"train"}
    for path, label in zip(data.paths, data.labels, strict=True):
        assert path.split(os.sep)[0] == data.class_names[label]


def test_splits_layout_train_val_test(tmp_path):
    root = tmp_path / "d"
    make_folder(root, {"a": 3, "b": 2}, split="train")
    make_folder(root, {"a": 1, "b": 1}, split="val")
    make_folder(root, {"b": 2}, split="test")
    data = load(root)
    assert data.layout == "splits"
    assert data.class_names == ["a", "b"]
    assert data.counts("train") == {"a": 3, "b": 2}
    assert data.counts("val") == {"a": 1, "b": 1}
    assert data.counts("test") == {"a": 0, "b": 2}
    prepared = prepare_image_data(data, val_split=0.5)
    # its own val/ folder is used, never a split of train
    assert prepared.train.m == 5 and prepared.val.m == 2 and prepared.test.m == 2


def test_test_class_unknown_to_train_is_skipped(tmp_path):
    root = tmp_path / "d"
    make_folder(root, {"a": 2, "b": 2}, split="train")
    make_folder(root, {"a": 1, "c": 1}, split="test")
    data = load(root)
    assert reasons(data)["test/c/img_000.png"] == "class 'c' has no training images"
    assert data.counts("test") == {"a": 1, "b": 0}


def test_folder_named_train_among_classes_is_a_class(tmp_path):
    root = make_folder(tmp_path / "d", {"train": 2, "other": 2})
    data = load(root)
    assert data.layout == "classes" and data.class_names == ["other", "train"]


def test_nested_subfolders_belong_to_their_class(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 1, "b": 1})
    save(root / "a" / "deeper" / "x.png", gray(7))
    data = load(root)
    assert data.counts() == {"a": 2, "b": 1}


def test_unicode_and_spaces_in_names(tmp_path):
    root = tmp_path / "données d'été"
    save(root / "chat noir" / "photo 1 ünï.png", gray(10))
    save(root / "chat noir" / "写真.png", gray(20))
    save(root / "chien" / "un chien.png", gray(200))
    data = load(root)
    assert data.class_names == ["chat noir", "chien"]
    assert data.counts() == {"chat noir": 2, "chien": 1}
    assert row_of(data, "chat noir/写真.png")[0] == 20


# ---------------------------------------------------------------------------- bad input
def test_every_bad_file_is_skipped_with_its_reason(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    a, b = root / "a", root / "b"
    write_bytes(a / "junk.png", b"this is not an image")
    whole = png_bytes(noise())
    write_bytes(a / "half.png", whole[: len(whole) // 2])
    jpg = jpeg_bytes(noise())
    write_bytes(b / "half.jpg", jpg[: len(jpg) // 2])
    damaged = bytearray(whole)
    damaged[60:70] = bytes(10)
    write_bytes(b / "damaged.png", bytes(damaged))
    write_bytes(a / "bomb.png", bomb_png(10_000, 10_000))
    write_bytes(a / "empty.jpg", b"")
    write_bytes(a / "notes.txt", b"hello")
    write_bytes(a / "README", b"no extension")
    write_bytes(a / ".DS_Store", b"\0\0\0\1Bud1")
    write_bytes(b / "Thumbs.db", b"\xd0\xcf\x11\xe0")
    write_bytes(b / "._img_000.png", b"AppleDouble")
    write_bytes(root / "labels.csv", b"a,b")
    os.symlink(a / "missing.png", b / "dangling.png")
    os.symlink(a, a / "loop")

    data = load(root)
    got = reasons(data)
    assert got["a/junk.png"] == "not a readable image (Pillow cannot identify it)"
    assert got["a/empty.jpg"] == "not a readable image (Pillow cannot identify it)"
    assert got["a/half.png"].startswith("truncated image")
    assert got["b/half.jpg"].startswith("truncated image")
    assert got["b/damaged.png"].startswith("corrupt or unreadable image")
    assert got["a/bomb.png"] == ("decompression bomb: 10000x10000 pixels is over the limit "
                                 "of 50,000,000")
    assert got["a/notes.txt"] == "not an image file (extension '.txt')"
    assert got["a/README"] == "not an image file (extension 'none')"
    assert got["a/.DS_Store"] == "hidden or system file"
    assert got["b/Thumbs.db"] == "hidden or system file"
    assert got["b/._img_000.png"] == "hidden or system file"
    assert got["labels.csv"] == "not inside a class folder"
    assert got["b/dangling.png"].startswith("unreadable:")
    assert got["a/loop"] == "symlink loop: folder already visited"
    assert len(got) == 14
    # the good images all load, and nothing else does
    assert data.counts() == {"a": 2, "b": 2}
    assert sorted(p.replace(os.sep, "/") for p in data.paths) == [
        "a/img_000.png", "a/img_001.png", "b/img_000.png", "b/img_001.png"]


def test_file_that_cannot_be_opened_is_skipped_as_unreadable(tmp_path, monkeypatch):
    # Running as root, chmod cannot make a file unreadable: make open() refuse instead.
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    secret = str(root / "a" / "img_001.png")
    real_open = folder_decode.open_regular

    def guarded_open(path, max_bytes):
        if str(path) == secret:
            raise PermissionError(13, "Permission denied", secret)
        return real_open(path, max_bytes)

    monkeypatch.setattr(folder_decode, "open_regular", guarded_open)
    data = load(root)
    assert reasons(data) == {"a/img_001.png": "unreadable: Permission denied"}
    assert data.counts() == {"a": 1, "b": 2}


def test_custom_pixel_limit_refuses_big_images(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2}, size=(4, 4))
    save(root / "a" / "big.png", gray(0, (20, 20)))
    data = load(root, max_pixels=100)
    assert reasons(data)["a/big.png"].startswith("decompression bomb: 20x20 pixels")


def test_empty_class_folder_is_left_out_with_a_warning(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    (root / "empty").mkdir()
    data = load(root)
    assert data.class_names == ["a", "b"]
    assert "class folder 'empty' has no images and is left out" in data.warnings


def test_class_whose_images_are_all_broken_is_kept_with_a_warning(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2, "c": 0})
    write_bytes(root / "c" / "x.png", b"garbage")
    data = load(root)
    assert data.class_names == ["a", "b", "c"]
    assert data.counts()["c"] == 0
    assert "class 'c': none of its images could be used" in data.warnings


@pytest.mark.parametrize(("build", "message"), [
    (lambda r: None, "no such folder"),
    (lambda r: r.write_bytes(b"x"), "is not a folder"),
    (lambda r: r.mkdir(), "no class subfolders found"),
    (lambda r: save(r / "loose.png", gray(1)), "no class subfolders found"),
    (lambda r: (r / "a").mkdir(parents=True), "no images found"),
    (lambda r: write_bytes(r / "a" / "x.txt", b"text"), "no images found"),
    (lambda r: make_folder(r, {"only": 3}), "only one class ('only') has images"),
    (lambda r: (write_bytes(r / "a" / "x.png", b"junk"), write_bytes(r / "b" / "y.png", b"no")),
     "none of its 2 image files could be read (first problem: not a readable image"),
    (lambda r: (make_folder(r, {"a": 2}), write_bytes(r / "b" / "y.png", b"junk")),
     "fewer than two classes have usable training images (none usable in: b)"),
])
def test_unusable_folders_raise_one_clear_error(tmp_path, build, message):
    root = tmp_path / "d"
    build(root)
    with pytest.raises(FolderError) as err:
        load(root)
    assert message in str(err.value)
    assert str(root) in str(err.value)


def test_test_folder_may_hold_one_class(tmp_path):
    root = make_folder(tmp_path / "t", {"b": 2})
    data = load_image_folder(root, LoadOptions(use_cache=False), min_classes=1)
    assert data.class_names == ["b"]


# ---------------------------------------------------------------------------- modes, formats
def _single(tmp_path, img: Image.Image, name="x.png", **options) -> np.ndarray:
    """Load a folder holding ``img`` in class a (plus a plain class b) -> its row."""
    root = tmp_path / "d"
    save(root / "a" / name, img)
    save(root / "b" / "plain.png", gray(0, img.size))
    return row_of(load(root, **options), f"a/{name}")


@pytest.mark.parametrize(("img", "color", "expected"), [
    (Image.new("L", (2, 2), 77), "gray", [77]),
    (Image.new("1", (2, 2), 1), "gray", [255]),
    (Image.new("LA", (2, 2), (0, 0)), "gray", [255]),  # transparent black on white
    (Image.new("LA", (2, 2), (30, 255)), "gray", [30]),
    (Image.new("RGB", (2, 2), (200, 10, 40)), "rgb", [200, 10, 40]),
    (Image.new("RGBA", (2, 2), (200, 10, 40, 255)), "rgb", [200, 10, 40]),
    (Image.new("RGBA", (2, 2), (200, 10, 40, 0)), "rgb", [255, 255, 255]),
    (Image.new("RGBA", (2, 2), (0, 0, 0, 128)), "rgb", [127, 127, 127]),
    (Image.new("CMYK", (2, 2), (0, 0, 0, 0)), "rgb", [255, 255, 255]),
    (Image.new("CMYK", (2, 2), (0, 255, 255, 0)), "rgb", [255, 0, 0]),
    (Image.new("I;16", (2, 2), 65535), "gray", [255]),
    (Image.new("I;16", (2, 2), 32896), "gray", [128]),
    (Image.new("I;16", (2, 2), 0), "gray", [0]),
])
def test_modes_convert_to_8_bit_gray_or_rgb(tmp_path, img, color, expected):
    row = _single(tmp_path, img, "x.tif" if img.mode in ("I;16", "CMYK") else "x.png",
                  color=color)
    planes = row.reshape(len(expected), -1)
    for channel, value in zip(planes, expected, strict=True):
        assert np.all(np.abs(channel.astype(int) - value) <= 1), (channel, value)


def test_palette_images_with_and_without_transparency(tmp_path):
    p = Image.new("P", (2, 2), 1)
    p.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    assert list(_single(tmp_path, p, color="rgb").reshape(3, -1)[:, 0]) == [10, 200, 30]
    p.info["transparency"] = 1
    p.save(tmp_path / "t.png", transparency=1)
    again = Image.open(tmp_path / "t.png")
    assert again.mode == "P" and "transparency" in again.info
    assert list(_single(tmp_path / "2", again, color="rgb").reshape(3, -1)[:, 0]) == [255] * 3


def test_gray_of_rgb_uses_luma(tmp_path):
    row = _single(tmp_path, rgb((255, 0, 0), (2, 2)), color="gray")
    assert np.all(row == 76)  # ITU-R 601: 0.299 * 255


@pytest.mark.parametrize("ext", ["png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp"])
def test_every_format_loads(tmp_path, ext):
    img = gray(123, (6, 5))
    root = tmp_path / "d"
    save(root / "a" / f"x.{ext}", img)
    save(root / "b" / f"y.{ext}", gray(3, (6, 5)))
    data = load(root)
    assert data.input_shape == (5, 6, 1)
    tolerance = 3 if ext in ("jpg", "jpeg", "webp") else 0
    assert np.all(np.abs(row_of(data, f"a/x.{ext}").astype(int) - 123) <= tolerance)
    assert data.skipped == []


def test_upper_case_extensions_load(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 1, "b": 1})
    save(root / "a" / "PHOTO.JPG", gray(9), format="JPEG")
    assert load(root).counts() == {"a": 2, "b": 1}


def test_colour_is_gray_when_every_image_is_gray_else_rgb(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    assert load(root).input_shape[2] == 1
    save(root / "b" / "colour.png", rgb((1, 2, 3)))
    data = load(root)
    assert data.input_shape[2] == 3 and data.color == "rgb"
    # a gray image in an RGB folder has three equal planes
    assert np.all(row_of(data, "a/img_001.png").reshape(3, -1) == 1)
    assert load(root, color="gray").input_shape[2] == 1


def test_rgb_files_of_gray_pictures_count_as_gray(tmp_path):
    root = tmp_path / "d"
    save(root / "a" / "x.png", rgb((50, 50, 50), (3, 2)))
    save(root / "b" / "y.jpg", rgb((200, 200, 200), (3, 2)))
    save(root / "b" / "z.png", gray(7, (3, 2)))
    data = load(root)
    assert data.input_shape == (2, 3, 1)
    assert data.modes_seen == {"RGB": 2, "L": 1}
    assert np.all(row_of(data, "a/x.png") == 50)
    np.testing.assert_array_equal(data.pixels, load(root, color="gray").pixels)
    save(root / "b" / "tinted.png", rgb((50, 50, 51), (3, 2)))
    assert load(root).input_shape == (2, 3, 3)


def test_gray_images_with_alpha_count_as_gray(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    save(root / "a" / "la.png", Image.new("LA", (4, 4), (5, 255)))
    data = load(root)
    assert data.input_shape[2] == 1
    assert data.modes_seen == {"L": 4, "LA": 1}


def test_mixed_sizes_take_the_most_common_and_record_what_was_seen(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 3, "b": 3}, size=(8, 6))
    save(root / "a" / "wide.png", gray(50, (16, 4)))
    save(root / "b" / "small.png", gray(50, (2, 2)))
    data = load(root)
    assert data.input_shape == (6, 8, 1) and data.n_x == 48
    assert data.sizes_seen == {"8x6": 6, "16x4": 1, "2x2": 1}
    assert np.all(row_of(data, "a/wide.png") == 50)  # stretched, uniform stays uniform
    forced = load(root, image_size=(3, 5))
    assert forced.input_shape == (3, 5, 1) and forced.pixels.shape == (8, 15)


def test_size_guess_from_headers_corrected_when_the_sample_misleads(tmp_path, monkeypatch):
    # The sample of headers sees only the first file; the folder's most common size wins.
    monkeypatch.setattr(folder_load, "_most_common_size",
                        wrap_first_call(folder_load._most_common_size, (1, 1)))
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2}, size=(4, 3))
    data = load(root)
    assert data.input_shape == (3, 4, 1)
    assert np.all(row_of(data, "b/img_000.png") == 40)


def wrap_first_call(fn, first_answer):
    calls = []

    def wrapped(*args):
        calls.append(args)
        return first_answer if len(calls) == 1 else fn(*args)

    return wrapped


def test_fit_keeps_aspect_and_pads_black(tmp_path):
    root = tmp_path / "d"
    save(root / "a" / "wide.png", gray(255, (8, 4)))  # W x H = 8 x 4
    save(root / "b" / "square.png", gray(255, (8, 8)))
    data = load(root, image_size=(8, 8), resize="fit")
    img = row_of(data, "a/wide.png").reshape(8, 8)
    assert np.all(img[:2] == 0) and np.all(img[6:] == 0)  # bands above and below
    assert np.all(img[2:6] == 255)
    stretched = row_of(load(root, image_size=(8, 8), resize="stretch"), "a/wide.png")
    assert np.all(stretched == 255)


# ---------------------------------------------------------------------------- column layout
def test_columns_of_a_hand_built_2x2_rgb_image(tmp_path):
    # pixel (y, x) has red 10*(2y+x)+1, green +100, blue +200
    a = np.zeros((2, 2, 3), dtype=np.uint8)
    for y in range(2):
        for x in range(2):
            r = 10 * (2 * y + x) + 1
            a[y, x] = (r, r + 100, r + 200)
    root = tmp_path / "d"
    save(root / "a" / "hand.png", from_array(a))
    save(root / "b" / "other.png", from_array(np.zeros((2, 2, 3), dtype=np.uint8)))
    data = load(root)
    assert data.input_shape == (2, 2, 3)
    expected = [1, 11, 21, 31, 101, 111, 121, 131, 201, 211, 221, 231]
    assert row_of(data, "a/hand.png").tolist() == expected
    prepared = prepare_image_data(data, val_split=0)
    X = prepared.train.X
    assert X.shape == (12, 2)  # (n_x, m): one example per column
    col = X[:, data.paths.index(os.path.join("a", "hand.png"))]
    np.testing.assert_allclose(col, np.array(expected) / 255.0, rtol=1e-6)
    assert data.preprocessing()["flatten_order"] == "channel-planes"
    np.testing.assert_array_equal(unflatten_planes(np.array(expected), (2, 2, 3)), a)
    np.testing.assert_array_equal(flatten_planes(a), expected)


def test_prepare_gives_row_targets_for_two_classes_and_one_hot_for_more(tmp_path):
    two = prepare_image_data(load(make_folder(tmp_path / "2", {"a": 2, "b": 3})), val_split=0)
    assert two.train.Y.shape == (1, 5)
    three = prepare_image_data(load(make_folder(tmp_path / "3", {"a": 2, "b": 3, "c": 1})),
                               val_split=0)
    assert three.train.Y.shape == (3, 6)
    np.testing.assert_array_equal(three.train.Y.sum(axis=0), np.ones(6))


def test_validation_split_is_stratified_and_seeded(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 20, "b": 10, "c": 30})
    data = load(root)
    prepared = prepare_image_data(data, val_split=0.2, seed=3)
    assert prepared.val.m == 12 and prepared.train.m == 48
    val_counts = prepared.val.Y.sum(axis=1)
    np.testing.assert_array_equal(val_counts, [4, 2, 6])
    again = prepare_image_data(data, val_split=0.2, seed=3)
    np.testing.assert_array_equal(prepared.val.X, again.val.X)
    other = prepare_image_data(data, val_split=0.2, seed=4)
    assert not np.array_equal(prepared.val.X, other.val.X)


def test_parse_image_size_is_width_by_height():
    assert parse_image_size("64x48") == (48, 64)
    assert parse_image_size("32") == (32, 32)
    assert parse_image_size(" 10 X 20 ") == (20, 10)
    for bad in ("", "x", "4x4x4", "axb"):
        with pytest.raises(ValueError, match="64x64"):
            parse_image_size(bad)
    for bad in ("0x4", "-3x2", "0"):
        with pytest.raises(ValueError, match="width and height must be at least 1 pixel"):
            parse_image_size(bad)


# ---------------------------------------------------------------------------- cache
def test_second_load_comes_from_the_cache_and_is_identical(tmp_path, cache):
    root = make_folder(tmp_path / "d", {"a": 3, "b": 2})
    write_bytes(root / "a" / "bad.png", b"junk")
    first = load(root, cache)
    second = load(root, cache)
    assert not first.from_cache and second.from_cache
    np.testing.assert_array_equal(first.pixels, second.pixels)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert list(first.splits) == list(second.splits)
    assert first.paths == second.paths
    assert reasons(first) == reasons(second) == {
        "a/bad.png": "not a readable image (Pillow cannot identify it)"}
    assert (first.input_shape, first.sizes_seen, first.modes_seen) == (
        second.input_shape, second.sizes_seen, second.modes_seen)


def _edit_touch(root):
    path = root / "a" / "img_000.png"
    save(path, gray(99))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


@pytest.mark.parametrize("edit", [
    _edit_touch,
    lambda root: save(root / "b" / "new.png", gray(5)),
    lambda root: (root / "b" / "img_001.png").unlink(),
    lambda root: (root / "a").rename(root / "c"),
])
def test_an_edited_folder_is_read_again(tmp_path, cache, edit):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    before = load(root, cache)
    edit(root)
    after = load(root, cache)
    assert not after.from_cache
    assert load(root, cache).from_cache
    assert (before.pixels.shape != after.pixels.shape
            or before.class_names != after.class_names
            or not np.array_equal(before.pixels, after.pixels))


def test_different_options_do_not_share_a_cache_entry(tmp_path, cache):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    load(root, cache)
    for options in ({"image_size": (2, 2)}, {"color": "rgb"}, {"resize": "fit"}):
        data = load(root, cache, **options)
        assert not data.from_cache, options
    assert load(root, cache, workers=1).from_cache  # workers do not change the result


def test_damaged_cache_entry_is_rebuilt(tmp_path, cache):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    good = load(root, cache)
    image_folder.wait_for_cache_writes()
    (entry,) = cache.glob("*.npz")
    entry.write_bytes(b"PK\x03\x04 damaged")
    again = load(root, cache)
    assert not again.from_cache
    np.testing.assert_array_equal(good.pixels, again.pixels)
    assert load(root, cache).from_cache


def test_cache_keeps_a_bounded_number_of_entries(tmp_path, cache, monkeypatch):
    real_write = folder_cache._write_cache
    monkeypatch.setattr(folder_cache, "_write_cache",
                        lambda *args: real_write(*args, keep=2))
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    for n in (1, 2, 3, 4):
        load(root, cache, image_size=(n, n))
        image_folder.wait_for_cache_writes()
    assert len(list(cache.glob("*.npz"))) == 2
    assert not list(cache.glob(".*.tmp"))


def test_unwritable_cache_only_costs_speed(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    data = load(root, blocker / "cache")  # a file where the folder should be
    assert data.counts() == {"a": 2, "b": 2} and not data.from_cache


# ---------------------------------------------------------------------------- progress, cancel
def test_progress_reports_up_to_the_total(tmp_path, cache):
    root = make_folder(tmp_path / "d", {"a": 40, "b": 40})
    calls = []
    load_image_folder(root, LoadOptions(), progress=lambda d, t: calls.append((d, t)),
                      cache_dir=cache)
    assert calls and calls[-1][0] == calls[-1][1]
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    cached = []
    load_image_folder(root, LoadOptions(), progress=lambda d, t: cached.append((d, t)),
                      cache_dir=cache)
    assert cached == [(80, 80)]


def test_cancel_stops_loading(tmp_path, cache):
    root = make_folder(tmp_path / "d", {"a": 40, "b": 40})
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        load_image_folder(root, LoadOptions(), cancel=cancel, cache_dir=cache)
    assert not list(cache.glob("*.npz"))  # nothing half-done is cached


def test_cancel_from_the_progress_callback(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 100, "b": 100})
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        cancel.set()

    with pytest.raises(Cancelled):
        load_image_folder(root, LoadOptions(use_cache=False), progress=progress, cancel=cancel)
    assert len(seen) == 1 and seen[0] < 200


def test_worker_processes_give_the_same_result_as_in_process(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "d", {"a": 30, "b": 30}, size=(5, 3))
    write_bytes(root / "a" / "bad.png", b"junk")
    save(root / "b" / "colour.png", rgb((9, 8, 7), (5, 3)))
    serial = load(root, workers=1)
    monkeypatch.setattr(folder_decode, "PROCESS_THRESHOLD", 1)
    monkeypatch.setattr(folder_load, "PROCESS_THRESHOLD", 1)
    calls = []
    parallel = load_image_folder(root, LoadOptions(workers=2, use_cache=False),
                                 progress=lambda d, t: calls.append(d))
    np.testing.assert_array_equal(serial.pixels, parallel.pixels)
    assert serial.paths == parallel.paths
    assert reasons(serial) == reasons(parallel)
    assert calls[-1] == 62


def test_the_cache_entry_is_written_after_the_data_are_returned(tmp_path, cache, monkeypatch):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    release = threading.Event()
    real_write = folder_cache._write_cache

    def slow_write(*args):
        release.wait(10)
        real_write(*args)

    monkeypatch.setattr(folder_cache, "_write_cache", slow_write)
    first = load(root, cache)  # returns while the entry is still being written
    assert not list(cache.glob("*.npz")) and not first.from_cache
    assert not first.pixels.flags.writeable  # the writer reads them: nobody may edit them
    threading.Timer(0.2, release.set).start()
    second = load(root, cache)  # waits for the entry rather than decoding again
    assert second.from_cache
    np.testing.assert_array_equal(first.pixels, second.pixels)


def test_workers_start_during_the_scan_only_for_a_folder_never_cached(tmp_path, cache,
                                                                       monkeypatch):
    root = make_folder(tmp_path / "d", {"a": 3, "b": 3, "c": 3})
    monkeypatch.setattr(folder_decode, "PROCESS_THRESHOLD", 3)
    monkeypatch.setattr(folder_load, "PROCESS_THRESHOLD", 3)
    started_after_classes = []
    real_start, real_scan = folder_decode._Pool.start, folder_load.scan_folder
    scanned = []
    stat_asked = []

    def start(pool):
        started_after_classes.append(len(scanned))
        real_start(pool)

    def scan(root, min_classes=2, on_found=None, cancel=None, stat_files=False):
        stat_asked.append(stat_files)

        def found(n):
            scanned.append(n)
            if on_found is not None:
                on_found(n)
        return real_scan(root, min_classes, found, cancel, stat_files)

    monkeypatch.setattr(folder_decode._Pool, "start", start)
    monkeypatch.setattr(folder_load, "scan_folder", scan)
    load(root, cache, workers=2)
    # started once 3 files were found (after the first of three classes), not after the scan
    assert started_after_classes[0] == 1 and scanned == [3, 6, 9]
    image_folder.wait_for_cache_writes()
    started_after_classes.clear()
    scanned.clear()
    assert load(root, cache, workers=2).from_cache
    assert started_after_classes == []  # a cached reload starts no process
    # ... and its scan reads the files' stats, which the first (decoded) load did not need
    assert stat_asked == [False, True]


def test_a_file_whose_content_is_not_what_its_extension_says_is_read(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2}, size=(4, 4))
    write_bytes(root / "a" / "really_a_jpeg.png", jpeg_bytes(gray(200, (4, 4))))
    data = load(root)
    assert "a/really_a_jpeg.png" not in reasons(data)
    assert abs(int(row_of(data, "a/really_a_jpeg.png").mean()) - 200) <= 3
