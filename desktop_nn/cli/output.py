"""What the command line writes, and where.

Text made safe for a terminal. A class name, a file name or a message can come from a file
someone else made: a model whose class name holds ``ESC [31m`` or an OSC title sequence, a
folder named with a carriage return. :func:`printable` escapes every control, format and
line-separator character (``\\x1b``, ``\\r``, ``\\u202e``) and every byte that is not UTF-8
(``\\xff``) before it reaches a terminal; :func:`json_text` keeps JSON valid JSON and escapes
the few characters JSON leaves raw that a terminal would still act on.

Standard streams whose failure never costs the work. Progress, notes and messages go to
stderr, results to stdout. When one of them fails (a full disk, ``/dev/full``, a closed
descriptor, a pipe whose reader has gone), :func:`standard_streams` keeps the command going:
the failing stream's descriptor is pointed at ``/dev/null``, so the interpreter's flush at
exit cannot fail again, and what was lost is recorded. A failure of stdout (a result the user
asked for) is then one line on stderr and exit 2 (a pipe closed early, as by ``head``: exit
141, quietly); a failure of stderr changes nothing: the exit code still tells how the command
went, and its outputs (a model, the metrics) are written as if nothing had happened.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import signal
import sys
from collections.abc import Iterator

from desktop_nn.data.user_files import shown

# C0 and C1 controls, DEL, the bidirectional and zero-width format characters, the Unicode
# line and paragraph separators and the byte-order mark
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e"
                     "\u2060-\u2069\ufeff\ufff9-\ufffb]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# what json.dumps(..., ensure_ascii=False) leaves raw: all of the above but C0 (JSON escapes
# those itself), and lone surrogates
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e"
                             "\u2060-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    c = match.group()
    return _SHORT.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def printable(text: object, keep_newlines: bool = False) -> str:
    r"""``text`` (a name, a path, a message) as it may be written to a terminal: bytes that
    are not UTF-8 as ``\xff`` (:func:`shown`), control and format characters escaped
    (``\x1b``, ``\r``, ``\n``, ``\u202e``). ``keep_newlines``: a line break stays one (a
    message of several lines); every other character is still escaped."""
    text = shown(str(text))
    if not keep_newlines:
        return _UNSAFE.sub(_escape, text)
    return "\n".join(_UNSAFE.sub(_escape, line) for line in text.split("\n"))


def prediction_line(result: dict, top: int, where: str) -> str:
    """One ``predict`` result as a line: ``WHERE: CLASS   (name p  name p ...)`` with the
    ``top`` most probable classes, or ``WHERE: error: ...``. ``where`` is already printable
    (the file, and a table's row)."""
    if "error" in result:
        return f"{where}: error: {printable(result['error'])}"
    best = sorted(result["probabilities"].items(), key=lambda kv: -kv[1])[:top]
    shown_top = "  ".join(f"{printable(name)} {p:.3f}" for name, p in best)
    return f"{where}: {printable(result['class'])}   ({shown_top})"


def json_text(obj: object) -> str:
    """``obj`` as one line of JSON, non-ASCII text kept readable, with the characters JSON
    would leave raw that a terminal acts on (DEL, C1 controls, bidirectional marks, line
    separators) and lone surrogates written as ``\\uXXXX`` escapes: still the same JSON."""
    text = json.dumps(obj, ensure_ascii=False)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class GuardedStream:
    """stdout or stderr, whose write and flush never raise: the first failure is recorded
    (:attr:`problem`), the descriptor is pointed at /dev/null, and the rest is dropped. Text
    the stream's encoding cannot hold is written with backslash escapes."""

    def __init__(self, stream, label: str) -> None:
        self.stream = stream
        self.label = label
        self.problem: str | None = None  # why what was written could not be, if it could not
        self.written = False

    def write(self, text: str) -> int:
        if text:
            self.written = True
        if self.problem is None:
            if self.stream is None:
                self.problem = "it is closed"
            else:
                try:
                    try:
                        self.stream.write(text)
                    except UnicodeEncodeError:
                        encoding = getattr(self.stream, "encoding", None) or "utf-8"
                        self.stream.write(text.encode(encoding, "backslashreplace")
                                          .decode(encoding))
                except (OSError, ValueError) as exc:  # ValueError: a closed file
                    self._failed(exc)
        return len(text)

    def flush(self) -> None:
        if self.problem is None and self.stream is not None:
            try:
                self.stream.flush()
            except (OSError, ValueError) as exc:
                self._failed(exc)

    def isatty(self) -> bool:
        try:
            return self.problem is None and self.stream is not None and self.stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self.stream is None:
            raise io.UnsupportedOperation(f"{self.label} is closed")
        return self.stream.fileno()

    def __getattr__(self, name: str):
        if self.stream is None:
            raise AttributeError(name)
        return getattr(self.stream, name)

    @property
    def broken_pipe(self) -> bool:
        return self.problem == os.strerror(errno.EPIPE)

    def _failed(self, exc: BaseException) -> None:
        self.problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else \
            (str(exc) or type(exc).__name__)
        try:  # what is still buffered can never be written: let it go to /dev/null
            fd = self.stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, fd)
            finally:
                os.close(null)
        except (OSError, ValueError, AttributeError):
            return  # no descriptor of its own (a test's capture): nothing is left to flush
        with contextlib.suppress(OSError, ValueError):
            self.stream.flush()


def _occupy_closed_descriptors() -> None:
    """Started with stdin, stdout or stderr closed (``2>&-``), the first file opened would
    get that number, and whatever writes to stderr then (a C library, a worker process)
    would write into it: a model file, say. /dev/null takes each closed one first."""
    for fd, mode in ((0, os.O_RDONLY), (1, os.O_WRONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                null = os.open(os.devnull, mode)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)


class Streams:
    """The guarded stdout and stderr of one command."""

    def __init__(self) -> None:
        self.stdout = GuardedStream(sys.stdout, "standard output")
        self.stderr = GuardedStream(sys.stderr, "standard error")

    def exit_code(self, code: int) -> int:
        """``code``, or what a failed stdout makes of it: 141 for a pipe whose reader went
        away (quietly, as a shell tool), else one line on stderr and 2 (unless ``code``
        already says a failure)."""
        self.stdout.flush()
        problem = self.stdout.problem
        if problem is None or not self.stdout.written:
            return code
        if self.stdout.broken_pipe:
            return code or 141
        print(f"desktop-nn: error: cannot write the output to standard output: {problem}",
              file=self.stderr)
        return code or 2


@contextlib.contextmanager
def standard_streams() -> Iterator[Streams]:
    """Guard stdout and stderr while a command runs (restored after it); SIGPIPE is
    ignored, as Python does by default, so that a closed pipe is an error to catch, never a
    death before the model is saved."""
    _occupy_closed_descriptors()
    if hasattr(signal, "SIGPIPE"):
        with contextlib.suppress(ValueError):  # not the main thread: leave it as it is
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    streams = Streams()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = streams.stdout, streams.stderr
    try:
        yield streams
    finally:
        streams.stdout.flush()
        streams.stderr.flush()
        sys.stdout, sys.stderr = saved
