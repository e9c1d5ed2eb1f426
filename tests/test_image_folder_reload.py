"""The cached reload's lean path (issue 23): folders of plain image files taken in bulk, the
files' stats read by the scan, the cache key over whole lists. Each must give what the
per-entry path gave: the same files, reasons and staleness."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from image_factory import gray, make_folder, save

from desktop_nn.data.image_folder import LoadOptions, load_image_folder, scan_folder
from desktop_nn.data.image_folder import cache as folder_cache
from desktop_nn.data.image_folder import scan as folder_scan


def _load(root, cache_dir):
    return load_image_folder(root, LoadOptions(), cache_dir=cache_dir)


def reasons(data) -> dict[str, str]:
    return {s.path.replace(os.sep, "/"): s.reason for s in data.skipped}


def _link(target, link):
    try:
        os.symlink(target, link, target_is_directory=os.path.isdir(target))
    except (OSError, NotImplementedError) as exc:  # Windows without the right to make links
        pytest.skip(f"cannot make a link here: {exc}")


# ---------------------------------------------------------------------------- bulk folders
def test_plain_images_only_for_a_folder_of_plain_image_files(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 3})
    entries = folder_scan._sorted_entries(str(root / "a"))
    assert folder_scan._plain_images(entries)
    for name, make in [(".hidden.png", lambda p: save(p, gray(1))),
                       ("Thumbs.db", lambda p: p.write_bytes(b"x")),
                       ("notes.txt", lambda p: p.write_bytes(b"x")),
                       ("sub.png", lambda p: p.mkdir()),
                       ("noext", lambda p: p.write_bytes(b"x"))]:
        folder = tmp_path / f"case_{len(name)}_{name.strip('.')}"
        shutil.copytree(root / "a", folder)
        make(folder / name)
        assert not folder_scan._plain_images(folder_scan._sorted_entries(str(folder))), name


def test_a_folder_holding_a_link_is_not_taken_in_bulk(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2})
    _link(root / "a" / "img_000.png", root / "a" / "zz.png")
    assert not folder_scan._plain_images(folder_scan._sorted_entries(str(root / "a")))


def test_a_link_to_a_file_of_a_folder_taken_in_bulk_counts_once(tmp_path):
    """The folder sub1 is walked first, in bulk; the link in sub2 finds its file there."""
    root = make_folder(tmp_path / "d", {"b": 2})
    make_folder(root / "a", {"sub1": 2})
    (root / "a" / "sub2").mkdir()
    _link(root / "a" / "sub1" / "img_001.png", root / "a" / "sub2" / "again.png")
    data = load_image_folder(root, LoadOptions(use_cache=False))
    assert data.counts() == {"a": 2, "b": 2}
    assert reasons(data) == {
        "a/sub2/again.png": "the same file as 'a/sub1/img_001.png', reached again through a "
                            "link (counted once)"}


def test_a_file_reached_by_a_link_first_counts_once_in_its_own_folder(tmp_path):
    """The link in a is found before the folder a/sub is walked: that folder is then walked
    entry by entry, and its file is the one left out."""
    root = make_folder(tmp_path / "d", {"b": 2})
    make_folder(root / "a", {"sub": 2})
    _link(root / "a" / "sub" / "img_000.png", root / "a" / "first.png")
    data = load_image_folder(root, LoadOptions(use_cache=False))
    assert data.counts() == {"a": 2, "b": 2}
    assert reasons(data) == {
        "a/sub/img_000.png": "the same file as 'a/first.png', reached again through a link "
                             "(counted once)"}


# ---------------------------------------------------------------------------- stats
def test_the_scan_reads_each_files_size_and_mtime(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 3, "b": 2})
    _link(root / "a" / "img_000.png", root / "b" / "link.png")  # folder b not in bulk
    scan = scan_folder(root, stat_files=True)
    expected = []
    for p in scan.paths:
        try:
            st = os.stat(p)
            expected.append((st.st_size, st.st_mtime_ns))
        except OSError:
            expected.append((-1, -1))
    assert scan.file_stats.dtype == np.int64
    np.testing.assert_array_equal(scan.file_stats, np.array(expected).reshape(-1, 2))
    np.testing.assert_array_equal(folder_scan.file_stats(scan.paths), scan.file_stats)
    assert scan_folder(root).file_stats is None  # not asked: no stat at all


def test_a_file_gone_since_the_listing_has_the_stats_the_workers_record(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2})
    gone, kept = str(root / "a" / "img_000.png"), str(root / "a" / "img_001.png")
    os.remove(gone)
    st = os.stat(kept)
    np.testing.assert_array_equal(folder_scan.file_stats([gone, kept]),
                                  [[-1, -1], [st.st_size, st.st_mtime_ns]])
    sizes, mtimes = [], []
    folder_scan._stat_names_into(str(root / "a"), ["img_000.png", "img_001.png"],
                                 [gone, kept], sizes, mtimes)
    assert (sizes, mtimes) == ([-1, st.st_size], [-1, st.st_mtime_ns])


def test_a_file_that_cannot_be_stated_still_reloads_from_the_cache(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    _link(root / "a" / "missing.png", root / "b" / "dangling.png")
    first = _load(root, tmp_path / "c")
    folder_cache.wait_for_cache_writes()
    again = _load(root, tmp_path / "c")
    assert again.from_cache and reasons(again) == reasons(first)
    assert reasons(again)["b/dangling.png"].startswith("unreadable:")


def _touch_only(path):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def _replace_same_size(path):
    """Another file of the same size moved over it (its mtime differs)."""
    other = path.with_name("other.tmp")
    other.write_bytes(path.read_bytes()[::-1])
    st = path.stat()
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    os.replace(other, path)


def _grow_same_mtime(path):
    """Bytes added without the mtime changing (a copy that keeps times)."""
    st = path.stat()
    path.write_bytes(path.read_bytes() + b"\0")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("edit", [_touch_only, _replace_same_size, _grow_same_mtime])
def test_a_touched_replaced_or_resized_file_makes_the_entry_stale(tmp_path, edit):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    _load(root, tmp_path / "c")
    folder_cache.wait_for_cache_writes()
    assert _load(root, tmp_path / "c").from_cache
    edit(root / "b" / "img_001.png")
    assert not _load(root, tmp_path / "c").from_cache


# ---------------------------------------------------------------------------- cache key
def test_the_cache_key_changes_with_any_files_path_class_or_split(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    scan = scan_folder(root)
    options = LoadOptions()
    key = folder_cache._cache_key(scan, options)
    assert folder_cache._cache_key(scan_folder(root), options) == key  # stable
    for change in [lambda s: s.paths.__setitem__(1, s.paths[1] + "x"),
                   lambda s: s.labels.__setitem__(0, 1),
                   lambda s: s.splits.__setitem__(3, "test"),
                   lambda s: (s.paths.pop(), s.labels.pop(), s.splits.pop())]:
        changed = scan_folder(root)
        change(changed)
        assert folder_cache._cache_key(changed, options) != key


def test_the_cache_entry_holds_the_pixels_as_decoded_uint8(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    data = _load(root, tmp_path / "c")
    folder_cache.wait_for_cache_writes()
    (entry,) = (tmp_path / "c").glob("*.npz")
    with np.load(entry, allow_pickle=False) as z:
        assert z["pixels"].dtype == np.uint8  # 4x less than float32; X is scaled when built
        np.testing.assert_array_equal(z["pixels"], data.pixels)
        stored_paths = bytes(z["paths"]).decode("utf-8").split("\0")
    assert stored_paths == data.paths == _load(root, tmp_path / "c").paths
