"""What the commands share: the usage error (exit 2), argument types and groups, image
loading options and the loading progress line."""

from __future__ import annotations

import argparse
import sys
import time

from desktop_nn.nn.activations import HIDDEN_ACTIVATIONS
from desktop_nn.nn.costs import VALID_PAIRS
from desktop_nn.nn.init import BIAS_INITS, INITS
from desktop_nn.nn.network import DTYPES


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


def int_list(text: str) -> list[int]:
    if not text.strip():
        return []
    try:
        return [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") \
            from None


def name_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def add_network_args(p: argparse.ArgumentParser, default_output: str | None,
                      default_bias_init: str = "zeros") -> None:
    g = p.add_argument_group("network")
    g.add_argument("--layers", type=int_list, default=None,
                   help="hidden layer sizes, comma separated (e.g. 30 or 20,7,5; '' for none)")
    g.add_argument("--activations", type=name_list, default=None,
                   help="hidden activations, one or one per layer: "
                   + ", ".join(HIDDEN_ACTIVATIONS))
    g.add_argument("--output", default=default_output, choices=sorted(VALID_PAIRS),
                   help="output activation (default: sigmoid for 2 classes, softmax for more)")
    g.add_argument("--cost", default="cross-entropy", choices=["cross-entropy", "quadratic"])
    g.add_argument("--init", default="he", choices=INITS)
    g.add_argument("--bias-init", default=default_bias_init, choices=BIAS_INITS,
                   help=f"bias initialisation (default {default_bias_init})")
    g.add_argument("--seed", type=int, default=0)
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
        raise UsageError(str(exc)) from None


def add_image_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("images (when DATA is a folder)")
    g.add_argument("--image-size", metavar="WxH", default=None,
                   help="resize every image to this size (default: the most common size)")
    g.add_argument("--color", choices=["gray", "rgb"], default=None,
                   help="default: gray when every image is grayscale, else rgb")
    g.add_argument("--resize", choices=["stretch", "fit"], default="stretch",
                   help="fit keeps the aspect ratio and pads with black")
    g.add_argument("--no-cache", action="store_true", help="decode again, ignoring the cache")
