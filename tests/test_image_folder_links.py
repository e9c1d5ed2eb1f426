"""Links in image folders and the EXIF orientation (issue 21, item 16). A class folder that is a
link to another class is no second class; a link inside a class to the data folder, a folder
above it or another class does not pull other classes' images in under its label; a file
reached twice counts once. Images are turned as their EXIF orientation says, on the fast PNG
path too, and the cache key changes with the decoding."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from image_factory import from_array, gray, make_folder, png_chunk, save
from PIL import Image, ImageOps, PngImagePlugin

from desktop_nn.data import image_folder
from desktop_nn.data.image_folder import LoadOptions, decode_image, load_image_folder
from desktop_nn.data.image_folder import cache as folder_cache
from desktop_nn.data.png_fast import decode_plain_png

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")


def _load(root, **kw):
    return load_image_folder(root, LoadOptions(use_cache=False, **kw))


def reasons(data) -> dict[str, str]:
    return {s.path.replace(os.sep, "/"): s.reason for s in data.skipped}


def _link(target, link):
    try:
        os.symlink(target, link, target_is_directory=os.path.isdir(target))
    except OSError as exc:  # Windows without the right to make links
        pytest.skip(f"cannot make a link here: {exc}")


@pytest.fixture
def root(tmp_path):
    return make_folder(tmp_path / "data", {"a": 2, "b": 3})


# ---------------------------------------------------------------------------- class folders
@pytest.mark.parametrize("name", ["c", "0first"])  # sorted after and before its target
def test_a_class_folder_linked_to_another_class_is_no_second_class(root, name):
    _link(root / "a", root / name)
    data = _load(root)
    assert data.class_names == ["a", "b"]
    assert data.counts() == {"a": 2, "b": 3}
    assert reasons(data) == {
        name: "a link to the same folder as class 'a' (not a second class)"}


def test_a_class_folder_linked_into_another_class_is_skipped(root):
    save(root / "a" / "sub" / "x.png", gray(9))
    _link(root / "a" / "sub", root / "c")
    data = _load(root)
    assert data.class_names == ["a", "b"] and data.counts() == {"a": 3, "b": 3}
    assert reasons(data) == {"c": "a link into class 'a' (its images belong to that class)"}


def test_a_class_folder_holding_another_class_folder_leaves_it_to_that_class(tmp_path):
    outside = make_folder(tmp_path / "outside", {"sub": 2})  # outside/sub: 2 images
    save(outside / "own.png", gray(3))
    root = tmp_path / "data"
    root.mkdir()
    _link(outside / "sub", root / "a")  # class a is outside/sub
    _link(outside, root / "b")  # class b holds it
    data = _load(root)
    assert data.counts() == {"a": 2, "b": 1}
    assert reasons(data) == {"b/sub": "the folder of class 'a'"}


def test_a_class_folder_linked_outside_the_data_folder_is_a_class(root, tmp_path):
    make_folder(tmp_path / "elsewhere", {"cats": 4})
    _link(tmp_path / "elsewhere" / "cats", root / "cats")
    data = _load(root)
    assert data.counts() == {"a": 2, "b": 3, "cats": 4} and not data.skipped


# ---------------------------------------------------------------------------- inside a class
@pytest.mark.parametrize("target", ["root", "above"])
def test_a_link_to_the_data_folder_or_above_it_pulls_nothing_in(root, target):
    _link(root if target == "root" else root.parent, root / "a" / "up")
    data = _load(root)
    assert data.counts() == {"a": 2, "b": 3}
    assert reasons(data) == {"a/up": "a link to the data folder or a folder above it"}


def test_a_link_to_another_class_pulls_nothing_in(root):
    _link(root / "b", root / "a" / "to_b")
    _link(root / "b" / "img_000.png", root / "a" / "b_image.png")
    data = _load(root)
    assert data.counts() == {"a": 2, "b": 3}
    assert reasons(data) == {
        "a/to_b": "a link into class 'b' (its images belong to that class)",
        "a/b_image.png": "a link into class 'b' (the image belongs to that class)"}


def test_a_file_reached_twice_counts_once(root, tmp_path):
    _link(root / "a" / "img_000.png", root / "a" / "same.png")
    shared = make_folder(tmp_path / "shared", {"s": 1}) / "s"
    _link(shared, root / "a" / "s1")
    _link(shared, root / "b" / "s2")
    data = _load(root)
    assert data.counts() == {"a": 3, "b": 3}
    assert reasons(data) == {
        "a/same.png": "the same file as 'a/img_000.png', reached again through a link "
                      "(counted once)",
        "b/s2": "the same folder as 'a/s1', reached again through a link (counted once)"}


def test_a_loop_inside_a_class_is_reported_once(root):
    _link(root / "a", root / "a" / "loop")
    data = _load(root)
    assert reasons(data) == {"a/loop": "symlink loop: folder already visited"}
    assert data.counts() == {"a": 2, "b": 3}


LOOP = "symlink loop: its links lead back to themselves (too many levels of links)"


@pytest.mark.parametrize("links", [{"cl": "cl"}, {"x": "y", "y": "x"}])
def test_a_class_folder_that_is_a_symlink_loop_is_skipped_and_the_rest_loads(root, links):
    for name, target in links.items():
        os.symlink(target, root / name)
    data = _load(root)
    assert data.class_names == ["a", "b"] and data.counts() == {"a": 2, "b": 3}
    assert reasons(data) == {name: LOOP for name in links}


def test_symlink_loops_in_a_split_and_inside_a_class_are_skipped(tmp_path):
    root = tmp_path / "data"
    make_folder(root, {"a": 2, "b": 2}, split="train")
    os.symlink("c", root / "train" / "c")
    os.symlink("x.png", root / "train" / "a" / "x.png")
    os.symlink("d", root / "train" / "a" / "d")
    data = _load(root)
    assert data.counts() == {"a": 2, "b": 2}
    assert reasons(data) == {"train/c": LOOP, "train/a/x.png": LOOP, "train/a/d": LOOP}


@pytest.mark.parametrize("cache", [True, False])
def test_a_data_folder_that_is_a_symlink_loop_is_named_with_the_reason(tmp_path, cache):
    from desktop_nn.data.sources import load_training_data

    os.symlink("loop", tmp_path / "loop")
    options = LoadOptions(use_cache=cache)
    for load in (lambda: load_image_folder(tmp_path / "loop", options, cache_dir=tmp_path),
                 lambda: load_training_data(tmp_path / "loop", options)):
        with pytest.raises(image_folder.FolderError, match=re.escape(f"loop: {LOOP}")):
            load()
    train = make_folder(tmp_path / "train", {"a": 1, "b": 1})
    with pytest.raises(image_folder.FolderError, match=re.escape(f"loop: {LOOP}")):
        load_training_data(train, LoadOptions(use_cache=False), test_dir=tmp_path / "loop")


def test_a_test_image_linked_to_a_training_image_is_not_counted_twice(tmp_path):
    root = tmp_path / "data"
    make_folder(root, {"a": 2, "b": 2}, split="train")
    make_folder(root, {"a": 1, "b": 1}, split="test")
    _link(root / "train" / "a" / "img_000.png", root / "test" / "a" / "leak.png")
    data = _load(root)
    assert data.counts("test") == {"a": 1, "b": 1}
    assert reasons(data) == {"test/a/leak.png": "a link into class 'a' of the train split "
                                                "(the image belongs to that class)"}


# ---------------------------------------------------------------------------- EXIF orientation
PATTERN = np.arange(6, dtype=np.uint8).reshape(2, 3) * 40  # 3 wide, 2 high, all different


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_png_with_an_exif_orientation_is_turned(tmp_path, orientation):
    path = save(tmp_path / "x.png", from_array(PATTERN), exif=_exif(orientation))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    got = decode_image(path, expected.shape, "gray")
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)
    if orientation != 1:
        assert decode_plain_png(path.read_bytes(), 10**6) is None  # left to Pillow


def test_an_xmp_orientation_in_a_png_text_chunk_is_honoured(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta><rdf:Description tiff:Orientation="3"/>'
                                       '</x:xmpmeta>')
    path = save(tmp_path / "x.png", from_array(PATTERN), pnginfo=info)
    got = decode_image(path, (2, 3), "gray").reshape(2, 3)
    np.testing.assert_array_equal(got, PATTERN[::-1, ::-1])


def test_an_ordinary_text_chunk_keeps_the_fast_path(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "a camera")
    path = save(tmp_path / "x.png", from_array(PATTERN), pnginfo=info)
    assert decode_plain_png(path.read_bytes(), 10**6) is not None
    data = path.read_bytes()  # an eXIf chunk after the pixels sends it to Pillow
    end = data.rindex(b"IEND") - 4
    late = data[:end] + png_chunk(b"eXIf", _exif(6)[6:]) + data[end:]
    assert decode_plain_png(late, 10**6) is None


def test_portrait_jpegs_stored_sideways_load_upright(tmp_path):
    root = tmp_path / "d"
    for name in ("a", "b"):
        for i in range(3):
            img = Image.new("L", (8, 4), 30 + 100 * (name == "b"))
            img.paste(255, (0, 0, 2, 4))  # a bright stripe on the stored left edge
            save(root / name / f"{i}.jpg", img, exif=_exif(6))  # 6: turn 90 degrees clockwise
    data = _load(root)
    assert data.sizes_seen == {"4x8": 6}  # width x height, upright
    assert data.input_shape == (8, 4, 1)
    first = data.pixels[0].reshape(8, 4)
    assert first[:2].mean() > 200 and first[4:].mean() < 100  # the stripe is now on top


def test_the_cache_key_changes_with_the_decoding(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    cache = tmp_path / "cache"
    opts = LoadOptions()
    load_image_folder(root, opts, cache_dir=cache)
    image_folder.wait_for_cache_writes()
    assert load_image_folder(root, opts, cache_dir=cache).from_cache
    monkeypatch.setattr(folder_cache, "DECODER_VERSION", folder_cache.DECODER_VERSION + 1)
    assert not load_image_folder(root, opts, cache_dir=cache).from_cache
