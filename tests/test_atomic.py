"""Atomic writes: temporaries left by killed writers are cleaned (only ours, only stale ones),
and a set of files is written all-or-nothing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop_nn.io import atomic
from desktop_nn.io.atomic import atomic_write_text, clean_stale_temporaries, write_together

POSIX = os.name == "posix"


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_writer_killed_in_the_middle_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    target = tmp_path / "model.npz"
    code = ("import os, sys; from desktop_nn.io.atomic import atomic_open\n"
            "with atomic_open(sys.argv[1]) as f:\n"
            "    f.write(b'half a model'); f.flush(); os._exit(9)  # as kill -9: no cleanup\n")
    for _ in range(3):
        subprocess.run([sys.executable, "-c", code, str(target)], check=False)
    left = [p.name for p in tmp_path.iterdir()]
    if POSIX:  # each write removed the temporaries of the writers killed before it
        assert len(left) == 1 and left[0].startswith(".model.npz.") and left[0].endswith(".tmp")
    else:  # no way to tell a dead writer: only old temporaries go
        assert len(left) == 3
        for p in tmp_path.iterdir():
            os.utime(p, (time.time() - 2 * atomic.STALE_AFTER_S,) * 2)
    atomic_write_text(target, "whole")
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


@pytest.mark.skipif(not POSIX, reason="process ids are probed on POSIX only")
def test_only_our_stale_temporaries_are_removed(tmp_path):
    target = tmp_path / "p.dnnproj"
    now = time.time()
    old = now - 2 * atomic.STALE_AFTER_S
    gone, alive = dead_pid(), os.getppid()
    files = {
        f".p.dnnproj.{gone}-abcd1234.tmp": (now, True),     # a dead writer's
        f".p.dnnproj.{alive}-abcd1234.tmp": (now, False),   # a live writer's
        f".p.dnnproj.{alive}-zzzz1234.tmp": (old, True),    # a live pid, but an hour old
        ".p.dnnproj.abcd1234.tmp": (old, True),             # older versions' name, old
        ".p.dnnproj.abcd9999.tmp": (now, False),            # older versions' name, fresh
        ".p.dnnproj.notes.tmp": (old, False),               # not our pattern
        ".p.dnnproj.abcd12345.tmp": (old, False),           # not our pattern
        "p.dnnproj.abcd1234.tmp": (old, False),             # not our pattern
        ".q.dnnproj.abcd1234.tmp": (old, False),            # another file's
    }
    for name, (mtime, _) in files.items():
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (mtime, mtime))
    folder = tmp_path / f".p.dnnproj.{gone}-dir00000.tmp"  # a folder of that name: not ours
    folder.mkdir()
    os.utime(folder, (old, old))
    link = tmp_path / f".p.dnnproj.{gone}-link0000.tmp"  # a link: never followed or removed
    link.symlink_to(tmp_path / ".q.dnnproj.abcd1234.tmp")
    removed = {p.name for p in clean_stale_temporaries(target)}
    assert removed == {n for n, (_, stale) in files.items() if stale}
    assert folder.is_dir() and link.is_symlink() and (tmp_path / ".q.dnnproj.abcd1234.tmp").exists()


# ------------------------------------------------------------------ write_together
def writer(text: str):
    return lambda f: f.write(text.encode())


def contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


@pytest.fixture
def old_set(tmp_path):
    for name in ("s", "m", "p"):
        (tmp_path / name).write_text(f"old {name}")
    return tmp_path


def test_a_set_is_written_and_a_file_removed(old_set):
    write_together([(old_set / "m", writer("new m")), (old_set / "p", writer("new p"))],
                   remove=[old_set / "s", old_set / "absent"])
    assert contents(old_set) == {"m": "new m", "p": "new p"}


def test_a_failing_writer_changes_nothing(old_set):
    def full_disk(f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_together([(old_set / "s", writer("new s")), (old_set / "m", full_disk),
                        (old_set / "p", writer("new p"))])
    assert contents(old_set) == {"m": "old m", "p": "old p", "s": "old s"}


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_a_failing_replace_or_remove_puts_the_old_set_back(old_set, monkeypatch, fail_at):
    """The steps are: replace m, replace p, remove s; each fails in turn (a kill there is what
    the generation stamps of a project catch, see test_project_sets.py)."""
    real_replace, real_unlink = os.replace, os.unlink
    steps: list[str] = []

    def step(name: str) -> None:
        steps.append(name)
        if len(steps) == fail_at:
            raise OSError(f"cannot {name}")

    def replace(src, dst):
        if not steps or len(steps) < fail_at:  # forward steps; the rollback passes through
            step(f"replace {Path(dst).name}")
        return real_replace(src, dst)

    def unlink(path, *args, **kwargs):
        if Path(path).name == "s" and len(steps) < fail_at:
            step("remove s")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "replace", replace)
    monkeypatch.setattr(atomic.os, "unlink", unlink)
    with pytest.raises(OSError, match="cannot"):
        write_together([(old_set / "m", writer("new m")), (old_set / "p", writer("new p"))],
                       remove=[old_set / "s"])
    monkeypatch.undo()
    assert steps == ["replace m", "replace p", "remove s"][:fail_at]
    assert contents(old_set) == {"m": "old m", "p": "old p", "s": "old s"}


def test_a_new_file_of_a_failed_set_is_removed_again(tmp_path, monkeypatch):
    (tmp_path / "p").write_text("old p")
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst).name == "p" and Path(src).name.startswith(".p."):
            raise OSError("cannot replace")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(OSError):
        write_together([(tmp_path / "m", writer("new m")), (tmp_path / "p", writer("new p"))])
    monkeypatch.undo()
    assert contents(tmp_path) == {"p": "old p"}


def test_a_folder_in_the_way_is_refused_before_anything_is_replaced(old_set):
    (old_set / "p").unlink()
    (old_set / "p").mkdir()
    with pytest.raises(IsADirectoryError, match="p"):
        write_together([(old_set / "m", writer("new m")), (old_set / "p", writer("new p"))])
    assert (old_set / "m").read_text() == "old m" and (old_set / "p").is_dir()
    assert sorted(p.name for p in old_set.iterdir()) == ["m", "p", "s"]


# ------------------------------------------------------------------ what may be replaced
def _special(kind: str, path: Path):
    """Make a file of ``kind`` at ``path``; returns what is held open (a socket) or None."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "socket":
        import socket

        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        return s
    elif kind == "device":
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # as /dev/full
    elif kind == "link to a device":
        path.symlink_to("/dev/full")
    elif kind == "link to a folder":
        path.symlink_to(path.parent)
    return None


def _kind_of(path: Path) -> int:
    return stat.S_IFMT(os.lstat(path).st_mode)


SPECIAL = ["fifo", "folder", "socket", "device", "link to a device", "link to a folder"]


def _writers(target: Path):
    from desktop_nn.io.model_file import ModelFile, save_model
    from desktop_nn.io.project_file import Project, save_project
    from desktop_nn.io.trainer_state import save_trainer_state
    from desktop_nn.nn.network import Network, NetworkSpec

    model = ModelFile(Network(NetworkSpec(4, [3], ["relu"], 2), seed=0))
    return {
        "text (metrics, marker)": lambda: atomic_write_text(target, "new"),
        "model (--save)": lambda: save_model(target, model),
        "training state": lambda: save_trainer_state(target, {"epoch": 0}, {}),
        "project": lambda: save_project(target, Project(name="p"), model),
    }


@pytest.mark.skipif(not POSIX, reason="FIFOs, sockets and devices are POSIX's")
@pytest.mark.parametrize("kind", SPECIAL)
def test_a_target_that_is_not_a_regular_file_is_refused_naming_it_before_anything_is_written(
        tmp_path, kind):
    if kind == "device" and os.geteuid() != 0:
        pytest.skip("making a device needs root")
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "x.npz"
    held = _special(kind, target)
    try:
        before, mode = sorted(p.name for p in folder.iterdir()), _kind_of(target)
        for what, write in _writers(target).items():
            with pytest.raises(OSError) as got:
                write()
            assert got.value.filename == str(target), what
            assert "not a regular file" in got.value.strerror or "folder" in got.value.strerror
            assert sorted(p.name for p in folder.iterdir()) == before, what  # no temporary
            assert _kind_of(target) == mode, what  # never replaced by a regular file
    finally:
        if held is not None:
            held.close()


@pytest.mark.skipif(not POSIX, reason="symbolic links")
def test_a_link_is_written_through_to_its_regular_file_and_kept(tmp_path):
    real_dir, link_dir = tmp_path / "models", tmp_path / "out"
    real_dir.mkdir(), link_dir.mkdir()
    real = real_dir / "v3.npz"
    real.write_text("old")
    link = link_dir / "latest.npz"
    link.symlink_to("../models/v3.npz")
    atomic_write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == "../models/v3.npz"
    assert real.read_text() == "new"
    # a project set writes through its links too, and the temporaries go beside the real file
    from desktop_nn.io.project_file import Project, load_project, save_project

    project_real = real_dir / "p.dnnproj"
    project_real.write_text("{}")
    (link_dir / "p.dnnproj").symlink_to(project_real)
    save_project(link_dir / "p.dnnproj", Project(name="p"))
    assert (link_dir / "p.dnnproj").is_symlink()
    assert load_project(project_real).name == "p"
    assert sorted(p.name for p in real_dir.iterdir()) == ["p.dnnproj", "v3.npz"]
    assert sorted(p.name for p in link_dir.iterdir()) == ["latest.npz", "p.dnnproj"]


@pytest.mark.skipif(not POSIX, reason="symbolic links")
@pytest.mark.parametrize("leads_to", ["nothing", "a loop"])
def test_a_link_that_leads_nowhere_is_refused_and_kept(tmp_path, leads_to):
    link = tmp_path / "m.npz"
    link.symlink_to("absent.npz" if leads_to == "nothing" else "m.npz")
    with pytest.raises(OSError, match="symbolic link") as got:
        atomic_write_text(link, "new")
    assert got.value.filename == str(link)
    assert link.is_symlink() and [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_two_names_of_one_file_in_a_set_are_refused(tmp_path):
    (tmp_path / "p").write_text("old p")
    (tmp_path / "m").symlink_to("p")
    with pytest.raises(OSError, match="same file"):
        write_together([(tmp_path / "m", writer("new m")), (tmp_path / "p", writer("new p"))])
    assert (tmp_path / "p").read_text() == "old p" and (tmp_path / "m").is_symlink()


# ------------------------------------------------------------------ long names
@pytest.mark.parametrize("name", ["a" * 251 + ".npz", "é" * 125 + ".npz", "b" * 255,
                                  "c" * 226 + ".tmp"])
def test_a_name_of_up_to_255_bytes_is_saved(tmp_path, name):
    """The temporary's name stays within the file system's limit (a shortened stem and a
    hash of the whole name)."""
    assert len(os.fsencode(name)) <= 255
    target = tmp_path / name
    atomic_write_text(target, "one")
    write_together([(target, writer("two"))])
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert target.read_text() == "two"


@pytest.mark.skipif(not POSIX, reason="process ids are probed on POSIX only")
def test_the_temporaries_of_a_long_name_are_cleaned_and_only_theirs(tmp_path):
    ours, other = tmp_path / ("d" * 240 + "1.npz"), tmp_path / ("d" * 240 + "2.npz")
    stem, other_stem = atomic.temporary_stem(ours), atomic.temporary_stem(other)
    assert stem != other_stem and stem[:221] == other_stem[:221]
    gone = dead_pid()
    left = [tmp_path / f".{s}.{gone}-abcd1234.tmp" for s in (stem, other_stem)]
    for p in left:
        p.write_text("x")
    atomic_write_text(ours, "whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([ours.name, left[1].name])
