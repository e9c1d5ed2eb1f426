"""Files that would hang or read without end (issue 21, items 6 and 7): a FIFO named like an
image or a data set, a link to /dev/zero, a file over the size limit. Each is skipped or
refused with its reason, before a byte is read; loading can be cancelled at any point."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from image_factory import finishes, make_folder, write_bytes

from desktop_nn.cli import main
from desktop_nn.data import user_files
from desktop_nn.data.image_folder import (
    Cancelled,
    LoadOptions,
    decode_image,
    load_image_folder,
)
from desktop_nn.data.image_folder import decode as folder_decode
from desktop_nn.data.npz_data import DataFileError
from desktop_nn.data.sources import load_training_data

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
needs_dev_zero = pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")


def reasons(data) -> dict[str, str]:
    return {s.path.replace(os.sep, "/"): s.reason for s in data.skipped}


def _load(root, **kw):
    return load_image_folder(root, LoadOptions(use_cache=False, **kw))


@needs_fifo
def test_a_fifo_in_a_class_folder_is_skipped_with_its_reason(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    fifo = root / "a" / "x.png"
    os.mkfifo(fifo)
    data = finishes(lambda: _load(root), [fifo], 20)
    assert reasons(data) == {"a/x.png": "not a regular file (a FIFO)"}
    assert data.counts() == {"a": 2, "b": 2}


@needs_fifo
def test_a_fifo_reached_by_the_decoder_is_refused_unopened(tmp_path):
    # a file replaced by a FIFO after the scan, or given to predict, never blocks open()
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    errors = finishes(lambda: folder_decode._decode_chunk([str(fifo)], (2, 2), "gray",
                                                           "stretch", 10**6)[2], [fifo], 20)
    assert errors == ["not a regular file (a FIFO)"]
    with pytest.raises(ValueError, match="not a regular file"):
        finishes(lambda: decode_image(fifo, (2, 2), "gray"), [fifo], 20)


@needs_fifo
def test_inspect_data_with_a_fifo_finishes_and_lists_it(tmp_path, capsys):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    fifo = root / "b" / "x.png"
    os.mkfifo(fifo)
    assert finishes(lambda: main(["inspect-data", str(root), "--json", "--no-cache"]),
                    [fifo], 20) == 0
    out = capsys.readouterr().out
    assert '"b/x.png"' in out and "not a regular file (a FIFO)" in out


@needs_fifo
def test_a_fifo_named_like_a_data_set_is_refused(tmp_path):
    fifo = tmp_path / "data.npz"
    os.mkfifo(fifo)
    with pytest.raises(DataFileError, match=r"data\.npz: not a regular file \(a FIFO\)"):
        finishes(lambda: load_training_data(fifo), [fifo], 20)


@needs_dev_zero
def test_a_link_to_dev_zero_is_skipped_unread(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    os.symlink("/dev/zero", root / "a" / "zero.png")
    data = finishes(lambda: _load(root), (), 20)
    assert reasons(data) == {"a/zero.png": "not a regular file (a character device)"}
    with pytest.raises(ValueError, match=r"not a regular file \(a character device\)"):
        finishes(lambda: decode_image(root / "a" / "zero.png", (2, 2), "gray"), (), 20)
    os.symlink("/dev/zero", tmp_path / "zero.npz")
    with pytest.raises(DataFileError, match="character device"):
        finishes(lambda: load_training_data(tmp_path / "zero.npz"), (), 20)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    big = root / "b" / "huge.png"
    with open(big, "wb") as f:  # sparse: takes no room on disk
        f.truncate(user_files.MAX_IMAGE_FILE_BYTES + 1)
    data = _load(root)
    limit = f"{user_files.MAX_IMAGE_FILE_BYTES:,}"
    assert reasons(data) == {"b/huge.png": f"too big: {user_files.MAX_IMAGE_FILE_BYTES + 1:,}"
                             f" bytes is over the limit of {limit} bytes for this kind of file"}


def test_a_file_that_grows_while_it_is_read_is_refused(tmp_path):
    path = write_bytes(tmp_path / "x.png", b"12345")
    f, st = user_files.open_regular(path, 100)
    with f:
        with open(path, "ab") as g:
            g.write(b"more")
        with pytest.raises(user_files.FileRefused, match="grew while it was read"):
            user_files.read_whole(f, st)


def test_cancel_set_before_the_load_decodes_nothing(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "d", {"a": 5, "b": 5})
    decoded = []
    real = folder_decode._decode
    monkeypatch.setattr(folder_decode, "_decode", lambda p, *a: decoded.append(p) or real(p, *a))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        load_image_folder(root, LoadOptions(use_cache=False), cancel=cancel)
    assert decoded == []  # the scan stops: not even the headers are read


def test_cancel_during_decoding_in_this_thread_stops_before_the_next_file(tmp_path,
                                                                          monkeypatch):
    root = make_folder(tmp_path / "d", {"a": 150, "b": 150})
    cancel = threading.Event()
    decoded = []
    real = folder_decode._decode

    def decode(path, image_size, *args):
        if image_size is not None:  # the full decoding, after the header sample
            decoded.append(path)
            cancel.set()  # as the window's Cancel would, from another thread
        return real(path, image_size, *args)

    monkeypatch.setattr(folder_decode, "_decode", decode)
    with pytest.raises(Cancelled):
        load_image_folder(root, LoadOptions(use_cache=False, workers=1, image_size=(4, 4),
                                            color="gray"), cancel=cancel)
    assert len(decoded) == 1  # not the rest of its chunk of files


def test_data_sets_still_load(tmp_path):
    path = tmp_path / "xy.npz"
    np.savez(path, X=np.zeros((2, 6)), Y=np.array([0, 1, 0, 1, 0, 1]))
    assert load_training_data(path, val_split=0).prepared.train.m == 6
