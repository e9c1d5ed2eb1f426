"""The memory an image size needs (issue 21 re-test, item 8): the image-folder loader itself
refuses, before decoding, images that cannot fit in the memory available, naming the folder, the
size, what it needs and what is available, so that the CLI's train and inspect-data and the
window (all through the loader) get the same check; a size Pillow cannot make is refused with a
message, never a traceback."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from image_factory import make_folder

from desktop_nn.cli import main
from desktop_nn.data import memory
from desktop_nn.data.image_folder import (
    MAX_IMAGE_SIDE,
    FolderError,
    LoadOptions,
    load_image_folder,
    parse_image_size,
)
from desktop_nn.data.image_folder import decode as folder_decode
from desktop_nn.data.memory import (
    LOAD_BYTES_PER_VALUE,
    TRAIN_BYTES_PER_VALUE,
    NotEnoughMemory,
    check_image_memory,
)
from desktop_nn.data.sources import load_test_folder, load_training_data

GB = 1_000_000_000


@pytest.fixture
def folder(tmp_path):
    return make_folder(tmp_path / "data", {"a": 3, "b": 3})


@pytest.fixture
def no_decoding(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("images decoded before the memory was checked")

    monkeypatch.setattr(folder_decode._Pool, "run", never)


@pytest.fixture
def eight_gb(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 8 * GB)


def test_the_message_says_what_is_needed_what_is_available_and_what_fits():
    with pytest.raises(NotEnoughMemory) as info:
        check_image_memory((20000, 20000), "rgb", 1200, TRAIN_BYTES_PER_VALUE, 8 * GB)
    side = int((8 * GB / (1200 * 3 * 9)) ** 0.5)
    assert str(info.value) == (f"image size 20000x20000: 1,200 RGB images of 20000x20000 need "
                               f"at least 12960.0 GB of memory, 8.0 GB available; at most "
                               f"about {side}x{side} fits")
    check_image_memory((14, 14), None, 1200, TRAIN_BYTES_PER_VALUE, 8 * GB)  # fits


def test_memory_the_system_does_not_tell_refuses_nothing(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    check_image_memory((20000, 20000), "gray", 1200, TRAIN_BYTES_PER_VALUE)


@pytest.mark.parametrize("use_cache", [True, False])
def test_the_loader_refuses_an_image_size_that_cannot_fit_before_decoding(
        folder, no_decoding, eight_gb, use_cache):
    options = LoadOptions(image_size=(30000, 40000), use_cache=use_cache)
    with pytest.raises(FolderError) as info:
        load_image_folder(folder, options)
    message = str(info.value)
    # 6 images of 40000x30000, at least gray, 2 bytes per value to look at them
    assert message.startswith(f"{folder}: image size 40000x30000: 6 images")
    assert f"need at least {6 * 12e8 * LOAD_BYTES_PER_VALUE / GB:.1f} GB" in message
    assert "8.0 GB available" in message and "fits" in message


def test_training_counts_the_inputs_and_the_trainers_copy_too(folder, no_decoding, eight_gb):
    # 6 gray images of 30000x30000 to train on: 9 bytes per value (pixels, inputs, copy)
    with pytest.raises(FolderError, match=r"need at least 48\.6 GB of memory, 8\.0 GB"):
        load_training_data(folder, LoadOptions(image_size=(30000, 30000), color="gray"))
    # a separate test folder is read at the training images' size: checked as well
    train = SimpleNamespace(input_shape=(20000, 20000, 1), options=LoadOptions(),
                            class_names=["a", "b"])
    with pytest.raises(FolderError, match=r"image size 20000x20000: 6 gray images"):
        load_test_folder(folder, train)


def test_the_most_common_size_is_checked_too(folder, no_decoding, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 100)
    with pytest.raises(FolderError, match="image size 4x4: .*the most common size"):
        load_image_folder(folder, LoadOptions(use_cache=False))


def test_a_guessed_colour_is_checked_at_its_size(folder, monkeypatch):
    # 6 images of 4x4 to look at: 192 bytes in gray; an rgb guess would need 576
    monkeypatch.setattr(memory, "available_memory", lambda: 200)
    data = load_image_folder(folder, LoadOptions(image_size=(4, 4), use_cache=False))
    assert data.color == "gray"
    with pytest.raises(FolderError, match="6 RGB images of 4x4 need at least 576 bytes"):
        load_image_folder(folder, LoadOptions(image_size=(4, 4), color="rgb", use_cache=False))


@pytest.mark.parametrize("text", ["99999999999999999999x9", "9x99999999999999999999",
                                  f"{MAX_IMAGE_SIDE + 1}x1", f"{2**31}"])
def test_a_side_pillow_cannot_make_is_refused_with_a_message(text):
    with pytest.raises(ValueError, match="too large: a width or height of at most "
                                         "16,777,216 pixels"):
        parse_image_size(text)
    with pytest.raises(ValueError, match="too large"):
        LoadOptions(image_size=(1, MAX_IMAGE_SIDE + 1))
    assert parse_image_size(f"{MAX_IMAGE_SIDE}x1") == (1, MAX_IMAGE_SIDE)


def test_inspect_data_gets_the_check_from_the_loader(folder, no_decoding, monkeypatch, capsys):
    import desktop_nn.cli.common as common

    monkeypatch.setattr(common, "available_memory", lambda: 10**18)  # the CLI's own check
    monkeypatch.setattr(memory, "available_memory", lambda: 1 * GB)
    assert main(["inspect-data", str(folder), "--image-size", "20000x20000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(folder) in err[0] and "need at least" in err[0], err
