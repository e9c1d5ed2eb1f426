"""The image-folder cache removes only its own entries (issue 21, item 1): the cache directory
may be any folder (``DESKTOP_NN_CACHE_DIR``), holding the user's own files, even files named
like an entry, and a FIFO named like one does not hang a load."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from image_factory import finishes, make_folder

from desktop_nn.data import image_folder
from desktop_nn.data.image_folder import LoadOptions, load_image_folder
from desktop_nn.data.image_folder import cache as folder_cache


def _load(root, cache, **options):
    data = load_image_folder(root, LoadOptions(**options), cache_dir=cache)
    image_folder.wait_for_cache_writes()
    return data


def _user_files(cache):
    """The user's own files in the cache folder: models, an .npz named like an entry, a file
    with the entry's member names but no marker, other files."""
    cache.mkdir(parents=True)
    made = []
    for i in range(25):
        p = cache / f"model{i:02d}.npz"
        np.savez(p, W1=np.full((2, 2), i))
        made.append(p)
    lookalike = cache / ("0123456789ab-" + "0" * 32 + ".npz")
    np.savez(lookalike, W1=np.zeros(3))
    made.append(lookalike)
    members = cache / ("ba9876543210-" + "f" * 32 + ".npz")
    np.savez(members, pixels=np.zeros(1), file_stats=np.zeros(1), labels=np.zeros(1),
             splits=np.zeros(1), paths=np.zeros(1),
             meta=np.frombuffer(b'{"version": 4}', dtype=np.uint8))
    made.append(members)
    notes = cache / "notes.txt"
    notes.write_text("mine")
    made.append(notes)
    tmp_like = cache / ".my.npz.1.2.tmp"
    tmp_like.write_text("mine too")
    made.append(tmp_like)
    old = time.time() - 10 * 3600
    for p in made:
        os.utime(p, (old, old))  # older than every entry: first in line if pruning took them
    return made


def test_pruning_never_removes_the_users_files(tmp_path, monkeypatch):
    real_write = folder_cache._write_cache
    monkeypatch.setattr(folder_cache, "_write_cache",
                        lambda *args: real_write(*args, keep=2))
    cache = tmp_path / "models"
    made = _user_files(cache)
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    for n in (1, 2, 3, 4):
        _load(root, cache, image_size=(n, n))
    assert all(p.exists() for p in made)
    entries = [p for p in cache.glob("*.npz") if folder_cache._is_own_entry(p)]
    assert len(entries) == 2  # the cache's own entries are still bounded
    assert all(folder_cache.ENTRY_NAME.fullmatch(p.name) for p in entries)


def test_a_version_3_entry_and_a_killed_writers_temp_file_are_pruned(tmp_path):
    cache = tmp_path / "cache"
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    _load(root, cache)
    (entry,) = cache.glob("*.npz")
    with np.load(entry) as z:  # the same entry as version 3 wrote it: no marker
        arrays = {k: z[k] for k in z.files}
    import json

    meta = json.loads(bytes(arrays["meta"]).decode())
    del meta["format"]
    meta["version"] = 3
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    legacy = cache / ("abcdefabcdef-" + "1" * 32 + ".npz")
    np.savez(legacy, **arrays)
    temp = cache / f".{legacy.name}.123.456.tmp"
    temp.write_bytes(b"PK half written")
    old = time.time() - 10 * folder_cache.STALE_TEMP_SECONDS
    os.utime(legacy, (old, old))
    os.utime(temp, (old, old))
    assert folder_cache._is_own_entry(legacy)
    folder_cache._prune(cache, keep=1)
    assert not legacy.exists() and not temp.exists()
    assert entry.exists()


def test_a_recent_temp_file_of_a_writer_at_work_is_kept(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    temp = cache / (".abcdefabcdef-" + "1" * 32 + ".npz.123.456.tmp")
    temp.write_bytes(b"PK being written")
    folder_cache._prune(cache, keep=1)
    assert temp.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_named_like_the_entry_is_not_read(tmp_path):
    cache = tmp_path / "cache"
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    first = _load(root, cache)
    (entry,) = cache.glob("*.npz")
    entry.unlink()
    os.mkfifo(entry)
    again = finishes(lambda: _load(root, cache), [entry], 20)  # blocked in open() before
    assert not again.from_cache
    np.testing.assert_array_equal(first.pixels, again.pixels)


def test_a_killed_writers_temp_file_goes_at_the_next_load(tmp_path):
    """Issue 21 re-test: a load killed while writing a big entry left gigabytes in the cache
    until an hour had passed and another entry was written. Now the next load (even one
    served from the cache) removes a temporary whose writer is gone; a live writer's stays."""
    import subprocess
    import sys

    cache = tmp_path / "cache"
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    _load(root, cache)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    name = "abcdefabcdef-" + "1" * 32 + ".npz"
    dead = cache / f".{name}.{int(gone.stdout)}.1.tmp"
    alive = cache / f".{name}.{os.getpid()}.2.tmp"
    minute_ago = time.time() - 60
    for temp in (dead, alive):
        temp.write_bytes(b"PK half written")
        os.utime(temp, (minute_ago, minute_ago))
    _load(root, cache)  # from the cache: nothing is written
    assert not dead.exists() and alive.exists()
