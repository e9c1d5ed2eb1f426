"""What the commands share: the network and image argument groups, image loading options
and the loading progress line (the usage error and the argument types: cli/checks.py)."""

from __future__ import annotations

import argparse
import sys
import time

from desktop_nn.cli.checks import (
    MAX_SEED,
    UsageError,
    activation_list,
    check_image_memory,
    int_in,
    layer_sizes,
)
from desktop_nn.data.memory import LOAD_BYTES_PER_VALUE, TRAIN_BYTES_PER_VALUE, available_memory
from desktop_nn.nn.activations import HIDDEN_ACTIVATIONS
from desktop_nn.nn.costs import VALID_PAIRS
from desktop_nn.nn.init import BIAS_INITS, INITS
from desktop_nn.nn.network import DTYPES


def add_network_args(p: argparse.ArgumentParser, default_output: str | None,
                      default_bias_init: str = "zeros") -> None:
    g = p.add_argument_group("network")
    g.add_argument("--layers", type=layer_sizes, default=None,
                   help="hidden layer sizes, comma separated (e.g. 30 or 20,7,5; '' for none)")
    g.add_argument("--activations", type=activation_list, default=None,
                   help="hidden activations, one or one per layer: "
                   + ", ".join(HIDDEN_ACTIVATIONS))
    g.add_argument("--output", default=default_output, choices=sorted(VALID_PAIRS),
                   help="output activation (default: sigmoid for 2 classes, softmax for more)")
    g.add_argument("--cost", default="cross-entropy", choices=["cross-entropy", "quadratic"])
    g.add_argument("--init", default="he", choices=INITS)
    g.add_argument("--bias-init", default=default_bias_init, choices=BIAS_INITS,
                   help=f"bias initialisation (default {default_bias_init})")
    g.add_argument("--seed", type=int_in(0, MAX_SEED), default=0)
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"])
    g.add_argument("--dtype", default=None, choices=DTYPES)


class LoadProgress:
    """'loading images 1200/60000' on stderr (a terminal only), at most 10 times a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        sys.stderr.write(f"\rloading images {done}/{total}" + ("\n" if done >= total else ""))
        sys.stderr.flush()


def load_options(args):
    from desktop_nn.data.image_folder import LoadOptions, parse_image_size

    try:
        size = parse_image_size(args.image_size) if args.image_size else None
        return LoadOptions(image_size=size, resize=args.resize, color=args.color,
                           use_cache=not args.no_cache)
    except ValueError as exc:
        raise UsageError(f"--image-size {args.image_size}: {exc}") from None


def check_folder_memory(data, options, training: bool = True) -> None:
    """With ``--image-size``, refuse before decoding a folder whose images at that size cannot
    fit in memory (the files are counted first; the colour, when auto, is taken as gray, the
    least it can need)."""
    if options.image_size is None:
        return
    from desktop_nn.data.image_folder import FolderError, scan_folder
    from desktop_nn.data.sources import resolve

    path = resolve(data)
    if not path.is_dir():
        return
    try:
        n_images = len(scan_folder(path).paths)
    except (FolderError, OSError):
        return  # the loader says what is wrong with the folder
    check_image_memory(options.image_size, options.color, n_images, available_memory(),
                       TRAIN_BYTES_PER_VALUE if training else LOAD_BYTES_PER_VALUE)


def check_run_memory(request) -> None:
    """Refuse a run that will train on the CPU and cannot fit in the memory available now,
    before its arrays are made (a GPU run is planned against the GPU by the workbench)."""
    from desktop_nn.backend import gpu_available
    from desktop_nn.train.device_memory import out_of_memory_message, run_tensors, total_bytes

    if request.device == "gpu" or (request.device == "auto" and gpu_available()):
        return
    available = available_memory()
    train, val = request.data.train, request.data.val
    tensors = run_tensors(request.spec.sizes, train.m, val.m if val is not None else 0,
                          request.config, request.dtype, on_gpu=False)
    if available is not None and total_bytes(tensors) > available:
        raise UsageError(out_of_memory_message(tensors, "this computer", available,
                                               on_gpu=False))


def add_image_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("images (when DATA is a folder)")
    g.add_argument("--image-size", metavar="WxH", default=None,
                   help="resize every image to this size (default: the most common size)")
    g.add_argument("--color", choices=["gray", "rgb"], default=None,
                   help="default: gray when every image is grayscale, else rgb")
    g.add_argument("--resize", choices=["stretch", "fit"], default="stretch",
                   help="fit keeps the aspect ratio and pads with black")
    g.add_argument("--no-cache", action="store_true", help="decode again, ignoring the cache")
