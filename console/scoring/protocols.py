"""The request and response shapes of the model servers the http scorer speaks.

One home per protocol (docs/scoring.md, "http"): how a batch of feature columns becomes a
request body, and where the per-row predictions sit in the answer. Choosing one value per row
among those predictions (a named output, a column of predict_proba, a key of a dict) is
`select`, shared by every protocol, so each protocol only says where its predictions are.

- rows: {"rows": [{name: value}, ...]} -> {"scores": [...]} (the console's own shape)
- mlflow: `mlflow models serve` /invocations, {"dataframe_split": {"columns", "data"}}
  -> {"predictions": [...]}
- kserve-v1: KServe V1 / TF Serving row format, {"instances": [{name: value}, ...]}
  -> {"predictions": [...]}
- oip-v2: the Open Inference Protocol (KServe V2, Triton, MLServer, Seldon Core 2): one named
  input tensor per feature, {"inputs": [{"name", "shape", "datatype", "data"}]}
  -> {"outputs": [{"name", "shape", "datatype", "data"}, ...]}
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from console.errors import ConsoleError
from console.playbook.model import HttpProtocol
from console.text import one_line


@dataclass(frozen=True)
class Column:
    """One feature as the model receives it: its input name, OIP datatype and JSON values."""

    name: str
    datatype: str
    values: list[object]


def columns(table: pa.Table, names: dict[str, str], datatypes: dict[str, str]) -> list[Column]:
    """The table's columns under the model's input names and datatypes (defaults: the node id,
    and the datatype the Arrow type implies)."""
    out = []
    for field, column in zip(table.schema, table.columns, strict=True):
        datatype = datatypes.get(field.name) or _datatype(field.type)
        convert = _CONVERT[_family(datatype)]
        try:
            values = [None if v is None else convert(v) for v in column.to_pylist()]
        except (TypeError, ValueError) as exc:
            raise ConsoleError(
                f"feature {field.name} cannot be sent as {datatype} (scorer.datatypes): "
                f"{one_line(exc)}"
            ) from None
        out.append(Column(names.get(field.name, field.name), datatype, values))
    return out


def _datatype(kind: pa.DataType) -> str:
    if pa.types.is_boolean(kind):
        return "BOOL"
    if pa.types.is_integer(kind):
        return "INT64"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "FP64"
    return "BYTES"


def _family(datatype: str) -> str:
    if datatype.startswith(("INT", "UINT")):
        return "int"
    if datatype.startswith("FP"):
        return "float"
    return datatype.lower()


def _float(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    # JSON has no NaN or infinity: a missing value is null, as the rows protocol always sent.
    return number if math.isfinite(number) else None


def _int(value: object) -> int | None:
    if isinstance(value, int):
        return value  # as it is: float() would round an int64 past 2**53
    number = _float(value)
    return None if number is None else int(number)


def _text(value: object) -> str:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _decimal_safe(value: object) -> object:
    return float(value) if isinstance(value, decimal.Decimal) else value


_CONVERT: dict[str, Callable[[object], object]] = {
    "float": lambda v: _float(_decimal_safe(v)),
    "int": lambda v: _int(_decimal_safe(v)),
    "bool": bool,
    "bytes": _text,
}


def _records(cols: Sequence[Column], rows: int) -> list[dict[str, object]]:
    return [{c.name: c.values[i] for c in cols} for i in range(rows)]


def request(protocol: HttpProtocol, cols: Sequence[Column], rows: int, output: str) -> object:
    """The JSON body of one batch of `rows` rows."""
    if protocol == "rows":
        return {"rows": _records(cols, rows)}
    if protocol == "kserve-v1":
        return {"instances": _records(cols, rows)}
    if protocol == "mlflow":
        data = [[c.values[i] for c in cols] for i in range(rows)]
        return {"dataframe_split": {"columns": [c.name for c in cols], "data": data}}
    body: dict[str, object] = {
        "inputs": [
            {"name": c.name, "shape": [rows, 1], "datatype": c.datatype, "data": c.values}
            for c in cols
        ],
        # The named inputs are the columns of one table: MLServer and KServe's V2 server
        # decode them as a DataFrame only when asked ("pd"), else as a single tensor.
        "parameters": {"content_type": "pd"},
    }
    if output:
        body["outputs"] = [{"name": output}]
    return body


def predictions(protocol: HttpProtocol, answer: object, output: str) -> tuple[list[Any], str]:
    """The answer's per-row predictions, and what they are called in messages; ConsoleError
    naming what came back when the answer does not have the protocol's shape."""
    if protocol == "oip-v2":
        return _oip_rows(answer, output)
    key = "scores" if protocol == "rows" else "predictions"
    if isinstance(answer, dict) and isinstance(answer.get(key), list):
        return answer[key], key
    raise ConsoleError(f'answered without a "{key}" list: {_shown(answer)}')


def item_key(protocol: HttpProtocol, output: str) -> str:
    """The key `select` reads in each prediction: scorer.output, unless it named a tensor."""
    return "" if protocol == "oip-v2" else output


def _oip_rows(answer: object, output: str) -> tuple[list[Any], str]:
    outputs = answer.get("outputs") if isinstance(answer, dict) else None
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise ConsoleError(f'answered without an "outputs" list: {_shown(answer)}')
    names = [str(o.get("name")) for o in outputs]
    if output:
        chosen = [o for o in outputs if o.get("name") == output]
        if not chosen:
            raise ConsoleError(f"answered outputs {names} without {output!r} (scorer.output)")
        tensor = chosen[0]
    elif len(outputs) == 1:
        tensor = outputs[0]
    else:
        raise ConsoleError(f"answered outputs {names}: set scorer.output to one of them")
    where = f"output {tensor.get('name')!r}"
    shape, data = tensor.get("shape"), _flat(tensor.get("data"))
    if not (
        isinstance(shape, list)
        and shape
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        and data is not None
    ):
        raise ConsoleError(f"answered {where} without a shape and data: {_shown(tensor)}")
    width = math.prod(shape[1:])
    if len(data) != shape[0] * width:
        raise ConsoleError(f"answered {where} of shape {shape} with {len(data)} values")
    if len(shape) == 1:
        return data, where
    return [data[i * width : (i + 1) * width] for i in range(shape[0])], where


def _flat(data: object) -> list[Any] | None:
    """OIP tensor data, row-major: flat, or nested as the shape (both are allowed)."""
    if not isinstance(data, list):
        return None
    out: list[Any] = []
    for item in data:
        if isinstance(item, list):
            inner = _flat(item)
            if inner is None:
                return None
            out.extend(inner)
        else:
            out.append(item)
    return out


def select(items: list[Any], where: str, key: str, column: int | None) -> list[Any]:
    """One value per row from the predictions: the `key` of a dict, the `column` of a list
    (predict_proba's [p0, p1]), else the value itself. Checked on the first row, which names
    what came back; every row must then have that shape. `key` is scorer.output, except for
    oip-v2, where the output names the tensor (see item_key)."""
    if not items:
        return items
    first = items[0]
    if isinstance(first, dict):
        if not key or key not in first:
            keys = ", ".join(repr(k) for k in first)
            raise ConsoleError(
                f"answered {where} as objects with keys {keys}: set scorer.output to one "
                f"of them{f' (not {key!r})' if key else ''}"
            )
        return [_pick(item, key, where) for item in items]
    if isinstance(first, list):
        if column is None or not -len(first) <= column < len(first):
            wanted = "set scorer.column" if column is None else f"scorer.column {column} is outside"
            raise ConsoleError(
                f"answered {where} as lists of {len(first)} value(s), e.g. {_shown(first)}: "
                f"{wanted} (0 to {len(first) - 1})"
            )
        return [_pick(item, column, where) for item in items]
    if key:
        raise ConsoleError(
            f"answered {where} as plain values, e.g. {_shown(first)}: scorer.output "
            f"{key!r} names no key in them"
        )
    if column is not None:
        raise ConsoleError(
            f"answered {where} as plain values, e.g. {_shown(first)}: scorer.column "
            f"{column} has no column to pick"
        )
    return items


def _pick(item: object, key: str | int, where: str) -> object:
    try:
        return item[key]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        raise ConsoleError(
            f"answered {where} where one prediction lacks {key!r}: {_shown(item)}"
        ) from None


def _shown(value: object) -> str:
    """A bit of what the server answered, one line, control characters made visible."""
    text = one_line(repr(value))
    return text if len(text) <= 200 else text[:197] + "..."
