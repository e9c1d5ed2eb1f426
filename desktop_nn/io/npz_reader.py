"""Reading files that may be hostile, without hanging and without reading more than they hold:
the bounded ``.npz`` reader, which lives in :mod:`desktop_nn.data.npz_archive` (below io/ in
the layers, so that the data-set reader uses it too). Re-exported here for io/'s readers."""

from desktop_nn.data.npz_archive import (
    MAX_MEMBERS,
    MAX_NPY_HEADER,
    MAX_RATIO,
    RATIO_SLACK,
    ArrayHeader,
    NotRegularFileError,
    NpzArchive,
    NpzError,
    TooLargeError,
    open_regular,
    os_problem,
    read_regular,
)

__all__ = ["MAX_MEMBERS", "MAX_NPY_HEADER", "MAX_RATIO", "RATIO_SLACK", "ArrayHeader",
           "NotRegularFileError", "NpzArchive", "NpzError", "TooLargeError", "open_regular",
           "os_problem", "read_regular"]
