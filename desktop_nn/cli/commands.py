"""``desktop-nn gradcheck``, ``inspect-data`` and ``predict``."""

from __future__ import annotations

import itertools
import json

import numpy as np

from desktop_nn.backend import BackendError, select_backend
from desktop_nn.cli.checks import UsageError, hidden_activations, naming
from desktop_nn.cli.common import LoadProgress, check_folder_memory, load_options
from desktop_nn.cli.output import json_text, prediction_line, printable
from desktop_nn.cli.toy_data import inspect_toy
from desktop_nn.nn.activations import HIDDEN_ACTIVATIONS
from desktop_nn.nn.costs import VALID_PAIRS
from desktop_nn.nn.gradcheck import TOLERANCE as GRADCHECK_TOLERANCE
from desktop_nn.nn.network import Network, NetworkSpec


def _gradcheck_case(hidden: list[int], acts: list[str], output: str, cost: str, args
                    ) -> dict:
    from desktop_nn.nn.gradcheck import gradcheck

    n_out = args.outputs or (3 if output == "softmax" else 1)
    spec = NetworkSpec(args.inputs, hidden, acts, n_out, output, cost, args.init,
                       args.bias_init)
    net = Network(spec, select_backend("cpu"), dtype="float64", seed=args.seed)
    rng = np.random.default_rng(args.seed + 1)
    X = rng.standard_normal((args.inputs, args.examples))
    if output == "softmax":
        Y = np.eye(n_out)[:, rng.integers(0, n_out, args.examples)]
    elif output == "sigmoid":
        Y = rng.integers(0, 2, (n_out, args.examples)).astype(np.float64)
    else:
        Y = rng.standard_normal((n_out, args.examples))
    eps = args.eps or (1e-5 if args.order == 2 else 1e-4)
    checks = gradcheck(net, X, Y, l2=args.l2, n=max(args.examples, 1) * 2, eps=eps,
                       order=args.order)
    worst = max(c.relative_error for c in checks)
    return {"hidden": hidden, "activations": spec.hidden_activations, "output": output,
            "cost": cost, "errors": [c.relative_error for c in checks], "worst": worst,
            "kinks": sum(c.kinks for c in checks), "ok": worst <= GRADCHECK_TOLERANCE}


def cmd_gradcheck(args) -> int:
    hidden = args.layers if args.layers is not None else [5, 4]
    if args.all:
        cases = [(hidden, [a] * len(hidden), out, cost)
                 for a, (out, costs) in itertools.product(HIDDEN_ACTIVATIONS, VALID_PAIRS.items())
                 for cost in costs]
    else:
        acts = hidden_activations(hidden, args.activations, "tanh")
        cases = [(hidden, acts, args.output, args.cost)]
    rows = []
    for h, acts, out, cost in cases:
        try:
            rows.append(_gradcheck_case(h, acts, out, cost, args))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    ok = all(r["ok"] for r in rows)
    if args.json:
        print(json.dumps({"tolerance": GRADCHECK_TOLERANCE, "ok": ok, "cases": rows}))
    else:
        print(f"{'hidden':<12} {'activations':<22} {'output':<8} {'cost':<14} "
              f"{'worst rel. error':>16}  per layer")
        for r in rows:
            per = " ".join(f"{e:.1e}" for e in r["errors"])
            mark = "ok" if r["ok"] else "FAIL"
            print(f"{','.join(map(str, r['hidden'])) or '-':<12} "
                  f"{','.join(r['activations']) or '-':<22} {r['output']:<8} {r['cost']:<14} "
                  f"{r['worst']:>16.2e}  {per}  {mark}")
        print(f"{sum(r['ok'] for r in rows)} of {len(rows)} within {GRADCHECK_TOLERANCE:g}")
        if any(r["kinks"] and not r["ok"] for r in rows):
            print("note: some ReLU pre-activations sit within eps of the kink at 0, where finite "
                  "differences are not the derivative; try --bias-init normal or another --seed")
    return 0 if ok else 1


def cmd_inspect_data(args) -> int:
    from desktop_nn.cli.tables import cmd_inspect_table, is_table_data
    from desktop_nn.data.image_folder import FolderError, load_image_folder
    from desktop_nn.data.sources import resolve
    from desktop_nn.data.toy2d import is_toy_spec

    if is_table_data(args.folder):
        return cmd_inspect_table(args)
    if args.target is not None:
        raise UsageError(f"--target goes with a table (.csv, .tsv); {args.folder} is not one")
    if is_toy_spec(args.folder):  # a built-in 2-D data set: cli/toy_data.py
        return inspect_toy(args.folder, args.json)
    options = load_options(args)
    check_folder_memory(args.folder, options, training=False)
    try:
        data = load_image_folder(resolve(args.folder), options,
                                 progress=LoadProgress(not args.json))
    except (FolderError, ValueError) as exc:  # a file name not UTF-8, say
        raise UsageError(naming(args.folder, exc)) from None
    h, w, c = data.input_shape
    splits = {s: data.counts(s) for s in ("train", "val", "test") if (data.splits == s).any()}
    report = {
        "folder": data.root, "layout": data.layout, "classes": data.class_names,
        "counts": data.counts(), "n_x": data.n_x, "input_shape": [h, w, c],
        "loaded": int(data.labels.size),
        "skipped": [{"path": s.path, "reason": s.reason} for s in data.skipped],
        "splits": splits, "sizes_seen": data.sizes_seen, "modes_seen": data.modes_seen,
        "warnings": data.warnings, "from_cache": data.from_cache,
    }
    if args.json:
        print(json_text(report))
        return 0
    # names come from the user's files: escaped before a terminal sees them (cli/output.py)
    cached = ", from cache" if data.from_cache else ""
    print(f"folder: {printable(data.root)} ({data.layout} layout{cached})")
    print(f"classes ({len(data.class_names)}):")
    width = max(len(printable(n)) for n in data.class_names)
    for name in data.class_names:
        per = "  ".join(f"{s} {splits[s][name]}" for s in splits)
        print(f"  {printable(name):<{width}}  {per}")
    print("sizes seen: " + ", ".join(f"{k} ({v})" for k, v in list(data.sizes_seen.items())[:8]))
    print("modes seen: " + ", ".join(f"{k} ({v})" for k, v in data.modes_seen.items()))
    print(f"input: {w}x{h} {'gray' if c == 1 else 'RGB'} -> n_x = {h} * {w} * {c} = {data.n_x}"
          f" (channel planes)")
    print(f"loaded {report['loaded']} images, skipped {len(data.skipped)}")
    for s in data.skipped:
        print(f"  skipped {printable(s.path)}: {printable(s.reason)}")
    for note in data.warnings:
        print(f"  note: {printable(note)}")
    return 0


def cmd_predict(args) -> int:
    from desktop_nn.cli.tables import cmd_predict_table
    from desktop_nn.data.table import is_table
    from desktop_nn.io.model_file import ModelFileError, load_model
    from desktop_nn.predict import PredictError, Predictor, predict_files

    try:
        model = load_model(args.model, select_backend(args.device))
        if is_table(model.preprocessing):
            return cmd_predict_table(args, model)
        predictor = Predictor(model, source=args.model)
    except (ModelFileError, PredictError, BackendError) as exc:
        raise UsageError(str(exc)) from None
    # one forward pass over all the readable files, as the Predict tab makes
    results, failed = [], 0
    for item in predict_files(predictor, args.images):
        if item.error is not None:
            failed += 1
            results.append({"path": item.path, "error": item.error})
            continue
        probs = item.probabilities
        results.append({"path": item.path, "class": predictor.class_names[item.predicted],
                        "probabilities": dict(zip(predictor.class_names, probs, strict=True))})
    if args.json:
        print(json_text({"model": str(args.model), "results": results}))
    else:  # names from the user's files and from the model: escaped (cli/output.py)
        for r in results:
            print(prediction_line(r, args.top, printable(r["path"])))
    return 1 if failed else 0
