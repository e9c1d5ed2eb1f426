"""Load a folder of images sorted into one subfolder per class into feature columns.

Layouts, detected automatically:
    DIR/<class>/<images>                                   ("classes")
    DIR/train/<class>/... + DIR/test/<class>/... [+ DIR/val/<class>/...]   ("splits")
Classes are the subfolder names, sorted. Images inside a class folder may sit in subfolders.

Each usable image is decoded with Pillow, converted to gray or RGB (alpha composited on white,
16-bit scaled to 8-bit, palette and CMYK converted), resized to (H, W) by ``stretch`` or ``fit``
(keep the aspect ratio, pad with black), and flattened in *channel planes* as in the course
notes: all red values row by row, then all green, then all blue, so pixel (y, x) of channel c
is feature c*H*W + y*W + x. A gray image has one plane.

Files that cannot be used are skipped and listed with the reason; a folder that cannot be used
raises :class:`FolderError` with one clear message. Big folders decode in worker processes with
a progress callback and cancellation; decoded arrays are cached in the user cache directory,
keyed by every file's path, size and mtime and by the options, so reopening is near instant and
an edited folder is re-read.

Modules, one job each:
    records  the file formats, :class:`LoadOptions`, the errors and the records passed along
    scan     the layout, the classes and the candidate files (:func:`scan_folder`)
    decode   one file to a row of pixels, and the pool of worker processes
    cache    the decoded folders kept in the user cache directory
    load     :func:`load_image_folder`, which puts them together
This package re-exports their public names.
"""

from desktop_nn.data.image_folder.cache import default_cache_dir, wait_for_cache_writes
from desktop_nn.data.image_folder.decode import decode_image, flatten_planes, unflatten_planes
from desktop_nn.data.image_folder.load import load_image_folder
from desktop_nn.data.image_folder.records import (
    COLORS,
    FLATTEN_ORDER,
    FORMAT_OF_EXTENSION,
    IMAGE_EXTENSIONS,
    MAX_IMAGE_SIDE,
    MAX_PIXELS,
    RESIZE_MODES,
    Cancelled,
    FolderError,
    FolderScan,
    ImageFile,
    ImageFolderData,
    LoadOptions,
    ProgressCallback,
    Skipped,
    parse_image_size,
)
from desktop_nn.data.image_folder.scan import scan_folder
from desktop_nn.data.user_files import shown

__all__ = [
    "COLORS",
    "FLATTEN_ORDER",
    "FORMAT_OF_EXTENSION",
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_SIDE",
    "MAX_PIXELS",
    "RESIZE_MODES",
    "Cancelled",
    "FolderError",
    "FolderScan",
    "ImageFile",
    "ImageFolderData",
    "LoadOptions",
    "ProgressCallback",
    "Skipped",
    "decode_image",
    "default_cache_dir",
    "flatten_planes",
    "load_image_folder",
    "parse_image_size",
    "scan_folder",
    "shown",
    "unflatten_planes",
    "wait_for_cache_writes",
]
