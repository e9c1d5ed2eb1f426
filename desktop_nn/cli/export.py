"""``desktop-nn export MODEL.npz OUT.onnx``: a saved model as an ONNX graph from the raw input
to the class probabilities (desktop_nn/io/onnx_export.py says what the graph holds)."""

from __future__ import annotations

from desktop_nn.cli.checks import UsageError, check_output_path, file_name, write_failure
from desktop_nn.cli.checks import _same_file as same_file


def add_export_parser(sub) -> None:
    e = sub.add_parser(
        "export", help="write a saved model as ONNX (needs: pip install 'desktop-nn[onnx]')",
        description="Write a saved model as an ONNX file that onnxruntime (or any ONNX "
        "runtime) runs: the whole path from the raw input to the class probabilities. For an "
        "image model the input 'pixels' is float32 (batch, height, width, channels), the image "
        "converted to the model's colour and resized to its size, values 0..255; the scaling "
        "or standardisation and the channel-planes flatten order are inside the graph. For a "
        "model trained on arrays the input 'features' is float32 (batch, n_x). Outputs: "
        "'probabilities' (batch, classes), as 'desktop-nn predict' gives them (one sigmoid "
        "unit a gives [1 - a, a]), and 'class' (batch,), the index of the largest. The class "
        "names, the input layout and the app version are in the file's metadata.")
    e.add_argument("model", metavar="MODEL.npz", type=file_name,
                   help="a model saved by train --save or by the app")
    e.add_argument("output", metavar="OUT.onnx", type=file_name,
                   help="the ONNX file to write (replaced atomically when it exists; never the "
                   "model itself)")
    e.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_export(args) -> int:
    import json

    from desktop_nn.io.model_file import ModelFileError, load_model
    from desktop_nn.io.onnx_export import (
        OnnxExportError,
        OnnxUnavailableError,
        export_onnx,
        input_description,
        metadata,
    )

    model_path, out = args.model, args.output
    check_output_path("OUT.onnx", out)
    if same_file(out, model_path):
        raise UsageError(f"OUT.onnx {out} is the model {model_path}; writing it would "
                         f"replace the model: name another file")
    try:
        model = load_model(model_path)
    except ModelFileError as exc:
        raise UsageError(str(exc)) from None
    try:
        export_onnx(model, out)
    except OnnxUnavailableError as exc:
        raise UsageError(str(exc)) from None
    except OnnxExportError as exc:
        raise UsageError(f"{model_path}: {exc}") from None
    except OSError as exc:
        raise UsageError(write_failure(out, exc)) from None
    meta = metadata(model)
    names = json.loads(meta["class_names"])
    if args.json:
        print(json.dumps({"model": model_path, "onnx": out, "input": meta["input"],
                          "input_layout": meta["input_layout"],
                          "input_shape": ["batch", *json.loads(meta["input_shape"])],
                          "outputs": {"probabilities": ["batch", len(names)],
                                      "class": ["batch"]},
                          "class_names": names}, ensure_ascii=False))
    else:
        print(f"wrote {out}")
        print(f"  input   {input_description(model)}")
        print(f"  outputs probabilities (batch, {len(names)}) over the classes "
              f"{', '.join(names)}; class (batch,) int64, the index of the largest")
    return 0
