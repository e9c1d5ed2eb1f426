"""The commands on tables (CSV / TSV, data/table.py): ``train``'s --target and --normalise
checks, ``inspect-data TABLE.csv [--target COLUMN]`` and ``predict MODEL.npz ROWS.csv``."""

from __future__ import annotations

from desktop_nn.cli.checks import UsageError
from desktop_nn.cli.output import json_text, prediction_line, printable

SHOWN_FEATURES = 20  # inspect-data names this many features on its features line


def is_table_data(data) -> bool:
    """Whether the DATA argument names a table (by its extension), not a folder."""
    from desktop_nn.data.sources import resolve
    from desktop_nn.data.table import is_table_path

    path = resolve(data)
    return is_table_path(path) and not path.is_dir()


def _columns(data) -> str:
    """The table's column names, for a message (empty when its header cannot be read: the
    loader then says why)."""
    from desktop_nn.data.sources import resolve
    from desktop_nn.data.table import TableError, read_header

    try:
        return "; its columns are " + ", ".join(f"'{c}'" for c in read_header(resolve(data)))
    except TableError:
        return ""


def check_table_args(args) -> str:
    """Refuse --target and --normalise where they do not fit DATA -> the normalisation to
    use: a table needs --target and is standardised (default) or kept as is (none); an image
    folder or arrays take no --target, and pixels are scaled (default) or standardised; a
    built-in 2-D data set's points are used as they are."""
    from desktop_nn.data.toy2d import is_toy_spec

    if is_table_data(args.data):
        if args.target is None:
            raise UsageError(f"{args.data} is a table: name the column that holds the classes "
                             f"with --target COLUMN{_columns(args.data)}")
        if args.normalise == "scale":
            raise UsageError("--normalise scale divides pixels by 255; a table's values are "
                             "standardised (--normalise standardise, the default) or used as "
                             "they are (--normalise none)")
        return args.normalise or "standardise"
    if args.target is not None:
        raise UsageError(f"--target goes with a table (.csv, .tsv) whose columns hold the "
                         f"classes; {args.data} is not one")
    if is_toy_spec(args.data):  # points used as they are (data/toy2d.py)
        if args.normalise not in (None, "none"):
            raise UsageError(f"--normalise {args.normalise} does not apply to {args.data}: a "
                             f"built-in data set's points are used as they are (--normalise "
                             f"none)")
        return "none"
    if args.normalise == "none":
        raise UsageError("--normalise none goes with a table; pixels are scaled (--normalise "
                         "scale, the default) or standardised")
    return args.normalise or "scale"


def _digits(low: float, high: float) -> int:
    """Significant digits to show a column's min and max with: 6, or more where 6 would show
    two different values the same (Unix times: 1.7e+09 and 1.7e+09)."""
    return next((d for d in (6, 10) if f"{low:.{d}g}" != f"{high:.{d}g}"), 17) \
        if low != high else 6


def cmd_inspect_table(args) -> int:
    """Columns (name, kind, role, min / max / mean), and with --target the classes and their
    counts; refused as training would refuse the table."""
    from desktop_nn.data.sources import resolve
    from desktop_nn.data.table import TableError, read_table

    try:
        table = read_table(resolve(args.folder), args.target)
    except TableError as exc:
        raise UsageError(str(exc)) from None
    report = {"table": table.path, "delimiter": table.delimiter,
              "delimiter_how": table.delimiter_how, "rows": table.m,
              "columns": [c.to_dict() for c in table.columns],
              "features": table.feature_names, "n_x": len(table.feature_names),
              "target": table.target, "classes": table.class_names,
              "counts": table.counts(), "notes": table.notes}
    if args.json:
        print(json_text(report))
        return 0
    print(f"table: {printable(table.path)} ({table.m} rows; delimiter {table.delimiter_how})")
    width = max(len(printable(c.name)) for c in table.columns)
    print(f"columns ({len(table.columns)}):")
    for c in table.columns:
        if c.kind == "numeric":
            d = _digits(c.min, c.max)
            what = f"numeric  min {c.min:.{d}g}  max {c.max:.{d}g}  mean {c.mean:.{d}g}"
        elif c.role == "target":
            what = f"{c.distinct:,} classes" if c.distinct else "the target"
        elif c.distinct:
            what = f"{c.kind}, {c.distinct:,}{'+' if c.distinct > 10_000 else ''} values"
        else:
            what = c.kind
        print(f"  {printable(c.name):<{width}}  {c.role:<8}  {what}")
    names = [printable(n) for n in table.feature_names[:SHOWN_FEATURES]]
    more = len(table.feature_names) - len(names)  # all of them are in the columns above
    print(f"features: n_x = {len(table.feature_names)} ({', '.join(names)}"
          f"{f', and {more:,} more' if more else ''})")
    if table.target is None:
        print("classes: name the target column with --target COLUMN to see them")
    else:
        print(f"classes ({len(table.class_names)}, from the column "
              f"'{printable(table.target)}'):")
        counts = table.counts()
        width = max(len(printable(n)) for n in counts)
        for name, n in counts.items():
            print(f"  {printable(name):<{width}}  {n}")
    for note in table.notes:
        print(f"note: {printable(note)}")
    return 0


def cmd_predict_table(args, model) -> int:
    """Predict every row of each table named (the model's feature columns read by name);
    exit 1 when a file or a row cannot be predicted."""
    from desktop_nn.predict import PredictError, TablePredictor

    try:
        predictor = TablePredictor(model, source=args.model)
    except PredictError as exc:
        raise UsageError(str(exc)) from None
    names = predictor.class_names
    results, files, failed = [], [], 0
    for path in args.images:
        try:
            out = predictor.predict_file(path)
        except PredictError as exc:
            failed += 1
            results.append({"path": printable(str(path)), "error": str(exc)})
            continue
        files.append({"path": out.path, "rows": int(out.rows.size), "accuracy": out.accuracy,
                      "accuracy_rows": out.scored,
                      "target": predictor.target_column if out.targets is not None else None,
                      "note": out.note})
        predicted = out.predicted()
        for k, row in enumerate(out.rows.tolist()):
            if k in out.errors:
                failed += 1
                results.append({"path": out.path, "row": row, "error": out.errors[k]})
                continue
            probs = out.P[:, k].tolist()
            results.append({"path": out.path, "row": row,
                            "class": names[int(predicted[k])],
                            "probabilities": dict(zip(names, probs, strict=True))})
    if args.json:
        print(json_text({"model": str(args.model), "results": results, "files": files}))
        return 1 if failed else 0
    for r in results:
        where = printable(r["path"]) + ("" if "error" in r else f" row {r['row']}")
        print(prediction_line(r, args.top, where))
    for f in files:
        if f["accuracy"] is not None:
            print(f"{printable(f['path'])}: accuracy {f['accuracy']:.2%} over "
                  f"{f['accuracy_rows']} rows "
                  f"(their target column '{printable(f['target'])}')")
        elif f["note"]:
            print(f"{printable(f['path'])}: note: {printable(f['note'])}")
    return 1 if failed else 0
