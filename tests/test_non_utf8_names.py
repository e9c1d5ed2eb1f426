"""File and class-folder names that are not valid UTF-8 (issue 21, item 11). On Linux they come
as surrogate escapes, which cannot be printed, hashed as UTF-8 or saved in JSON. The loader
opens the real files and gives their names as valid str with backslash escapes: loading,
caching, inspect-data, training, saving the model and predicting all work."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from image_factory import gray, make_folder

from desktop_nn.cli import main
from desktop_nn.data import image_folder
from desktop_nn.data.image_folder import FolderError, LoadOptions, load_image_folder, shown
from desktop_nn.data.sources import load_training_data

CAFE = b"caf\xe9"  # "café" written in Latin-1: not UTF-8
CAFE_SHOWN = "caf\\xe9"


def _bytes_folder(root, names: list[bytes], value: int = 200):
    """Images at root/<name> for each byte path ``name`` (folders made as needed)."""
    base = os.fsencode(str(root))
    for i, name in enumerate(names):
        path = os.path.join(base, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        gray(value + i, (4, 4)).save(os.fsdecode(path), "PNG")


@pytest.fixture
def latin1_folder(tmp_path):
    root = make_folder(tmp_path / "d", {"ok": 3})
    try:
        _bytes_folder(root, [CAFE + b"/img\xff0.png", CAFE + b"/img\xff1.png",
                             CAFE + b"/sub\xfe/x.png", b"ok/junk\xfe.txt"])
    except (OSError, UnicodeError) as exc:  # macOS and Windows refuse such names
        pytest.skip(f"this file system takes only valid names ({exc})")
    return root


def _encodable(text: str) -> bool:
    text.encode("utf-8")  # strict: raises on a surrogate
    return True


def test_names_that_are_not_utf8_load_as_valid_str(latin1_folder, tmp_path):
    for cache in (None, tmp_path / "cache", tmp_path / "cache"):  # cold, then from the cache
        data = load_image_folder(latin1_folder, LoadOptions(use_cache=cache is not None),
                                 cache_dir=cache)
        image_folder.wait_for_cache_writes()
        assert data.class_names == [CAFE_SHOWN, "ok"]
        assert data.counts() == {CAFE_SHOWN: 3, "ok": 3}
        assert sorted(p.replace(os.sep, "/") for p in data.paths if p.startswith("caf")) == [
            "caf\\xe9/img\\xff0.png", "caf\\xe9/img\\xff1.png", "caf\\xe9/sub\\xfe/x.png"]
        assert [s.path.replace(os.sep, "/") for s in data.skipped] == ["ok/junk\\xfe.txt"]
        everything = [data.root, *data.class_names, *data.paths,
                      *(s.path for s in data.skipped), *data.warnings]
        assert all(_encodable(t) for t in everything)
    assert data.from_cache


def _strings(obj, seen=None):
    """Every str reachable from ``obj`` (dataclasses, dicts, lists, str arrays)."""
    import dataclasses

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(k, seen)
            yield from _strings(v, seen)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _strings(v, seen)
    elif isinstance(obj, np.ndarray) and obj.dtype.kind == "U":
        yield from _strings(obj.tolist(), seen)
    elif dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from _strings(getattr(obj, f.name), seen)


def test_a_data_folder_whose_own_name_is_not_utf8_gives_only_valid_str(tmp_path):
    base = os.fsencode(str(tmp_path))
    try:
        os.mkdir(os.path.join(base, b"data\xff"))
        os.mkdir(os.path.join(base, b"test\xfe"))
    except (OSError, UnicodeError) as exc:
        pytest.skip(f"this file system takes only valid names ({exc})")
    root = make_folder(os.fsdecode(os.path.join(base, b"data\xff")), {"a": 3, "b": 3})
    test = make_folder(os.fsdecode(os.path.join(base, b"test\xfe")), {"a": 1, "b": 1})
    loaded = load_training_data(root, LoadOptions(use_cache=False), test_dir=test)
    assert loaded.source == f"{shown(str(tmp_path))}/data\\xff"
    assert loaded.folder.root == loaded.source and loaded.folder.counts() == {"a": 3, "b": 3}
    assert all(_encodable(t) for t in _strings(loaded))
    npz = os.fsdecode(os.path.join(base, b"set\xfd.npz"))
    np.savez(npz, X=np.eye(4), Y=np.arange(4) % 2)
    loaded = load_training_data(npz)
    assert loaded.source == f"{shown(str(tmp_path))}/set\\xfd.npz"
    assert all(_encodable(t) for t in _strings(loaded))
    with pytest.raises(FolderError) as info:
        load_training_data(make_folder(root / "one", {"a": 1}))
    assert _encodable(str(info.value)) and "data\\xff" in str(info.value)


def test_inspect_data_prints_and_writes_json(latin1_folder, capsys):
    for extra in ([], ["--no-cache"]):
        assert main(["inspect-data", str(latin1_folder), "--json", *extra]) == 0
        out = capsys.readouterr().out
        out.encode("utf-8")  # what a terminal in a UTF-8 locale must be able to print
        assert json.loads(out)["classes"] == [CAFE_SHOWN, "ok"]
        assert main(["inspect-data", str(latin1_folder), *extra]) == 0
        text = capsys.readouterr().out
        text.encode("utf-8")
        assert CAFE_SHOWN in text


def test_train_saves_a_model_with_such_a_class_and_predict_names_it(latin1_folder, tmp_path,
                                                                    capsys):
    from desktop_nn.io.model_file import load_model

    model = tmp_path / "m.npz"
    assert main(["train", str(latin1_folder), "--epochs", "2", "--quiet", "--val-split", "0",
                 "--save", str(model)]) == 0
    assert load_model(model).class_names == [CAFE_SHOWN, "ok"]
    capsys.readouterr()
    image = os.fsdecode(os.path.join(os.fsencode(str(latin1_folder)), CAFE, b"img\xff0.png"))
    assert main(["predict", str(model), image, "--json"]) == 0
    out = capsys.readouterr().out
    out.encode("utf-8")
    (result,) = json.loads(out)["results"]
    assert "error" not in result and result["path"].endswith("caf\\xe9/img\\xff0.png")
    assert set(result["probabilities"]) == {CAFE_SHOWN, "ok"}


def test_a_test_folder_maps_such_classes_by_name(latin1_folder, tmp_path):
    test = make_folder(tmp_path / "t", {"ok": 1})
    _bytes_folder(test, [CAFE + b"/y.png"])
    loaded = load_training_data(latin1_folder, LoadOptions(use_cache=False), val_split=0,
                                test_dir=test)
    assert loaded.test_folder.class_names == [CAFE_SHOWN, "ok"]
    assert sorted(np.asarray(loaded.test_folder.labels).tolist()) == [0, 1]


def test_two_class_folders_shown_alike_are_refused(latin1_folder):
    (latin1_folder / CAFE_SHOWN).mkdir()  # a real backslash, x, e, 9
    _bytes_folder(latin1_folder, [CAFE_SHOWN.encode() + b"/z.png"])
    with pytest.raises(FolderError, match=r"have the same name .* once bytes that are not UTF-8"):
        load_image_folder(latin1_folder, LoadOptions(use_cache=False))


def test_shown_leaves_valid_names_alone_and_escapes_the_rest():
    assert shown("données/写真.png") == "données/写真.png"
    if os.name == "posix":
        assert shown(os.fsdecode(CAFE)) == CAFE_SHOWN
    assert shown("\ud800x") == "\\ud800x"  # a lone surrogate that is no escaped byte


def test_class_folders_named_alike_once_escaped_are_refused_before_training(tmp_path,
                                                                            capsys):
    """Issue 21 re-test: folders named ESC and '\\x1b' (the text) trained, then no model could
    be saved (a model file stores ESC as '\\x1b'): refused as the folder loads."""
    try:
        make_folder(tmp_path / "data", {"\x1b": 2, "\\x1b": 2, "ok": 2})
    except OSError as exc:
        pytest.skip(f"this file system refuses such names ({exc})")
    with pytest.raises(FolderError, match=r"the same name '\\x1b' once bytes that are not "
                                          r"UTF-8 and control characters"):
        load_image_folder(tmp_path / "data", LoadOptions(use_cache=False))
    assert main(["train", str(tmp_path / "data"), "--epochs", "1", "--save",
                 str(tmp_path / "m.npz")]) == 2
    assert "rename one of them" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()


def test_a_name_given_back_as_shown_opens_the_real_folder(latin1_folder, tmp_path):
    """A saved project (or the Data panel, or a user copying a printed name) gives the name
    as shown, caf\\xe9: it opens the real folder when nothing is named so literally."""
    from desktop_nn.data.sources import resolve
    from desktop_nn.data.user_files import unshown

    real = os.fsdecode(os.fsencode(latin1_folder) + b"/" + CAFE)
    as_shown = shown(real)
    assert as_shown != real and unshown(as_shown) == real
    assert resolve(as_shown) == Path(real)
    assert unshown("plain/name") is None and unshown("a\\x41b") is None  # ASCII: never shown so
    assert resolve(str(tmp_path / "nothing\\xe9")) == tmp_path / "nothing\\xe9"  # said missing
    (latin1_folder / as_shown.rsplit("/", 1)[1]).mkdir()  # a literal 'caf\xe9' now exists
    assert resolve(as_shown) == Path(as_shown)  # the name as written wins
