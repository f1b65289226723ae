"""Study configuration files (TOML) and the typed schema every section is checked with.

A config has one table (or array of tables) per stage. Each stage keeps the
pydantic model(s) of its section(s) in its own ``config`` module; the pipeline
composes them into one ``StudyConfig`` (``repalign.pipeline.config``)::

    [run]                      # output directory, seed, name     (RunSection, here)
    output = "results/demo"    # relative paths are relative to the config file
    seed = 0

    [[stimuli]]   ...          # stimulus sets          (repalign.features.config)
    [[models]]    ...          # models × layers        (repalign.features.config)
    [[representations]] ...    # precomputed embeddings (repalign.features.config)
    [[metrics]]   ...          # alignment metrics      (repalign.metrics.config)
    [[learners]]  ...          # simulated learners     (repalign.learners.config)
    [dynamics]    ...          # learning dynamics      (repalign.dynamics.config)
    [[embed]]     ...          # SPoSE/VICE training    (repalign.embeddings.config)
    [r]           ...          # mixed models           (repalign.r_config)
    [executor]    ...          # local | dask | slurm   (repalign.pipeline.config)
    [report]                   # (no keys yet)          (repalign.pipeline.config)

Every section model derives from ``Section``: unknown keys are errors, values are
checked strictly (TOML types: ``"5"`` is not an integer, ``true`` is not a number),
and ``parse_section`` turns the first pydantic error into one ``ValidationError``
line naming the section, entry number, key, the expected type and the value given,
e.g. ``[[models]] #2 layers: expected a string or a list of strings, got 5``.
Defaults in the models are the defaults the planners use; a planner that keys its
tasks on the entry as written dumps it with ``exclude_unset=True``.
"""

from __future__ import annotations

import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import pydantic
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from repalign.errors import ValidationError

SECTIONS = (
    "run",
    "stimuli",
    "models",
    "representations",
    "metrics",
    "learners",
    "dynamics",
    "embed",
    "r",
    "executor",
    "report",
)
#: sections written as arrays of tables (``[[models]]``); the others are tables (``[run]``)
ARRAY_SECTIONS = ("stimuli", "models", "representations", "metrics", "learners", "embed")
#: sections that plan tasks; a config without any of them is an empty study
STAGE_SECTIONS = ("stimuli", "models", "representations", "metrics", "learners", "dynamics", "embed", "r")

#: a TOML integer or float, kept as written (``C = 1`` stays 1: task keys hash the entry)
Number = int | float
#: the fidelity switch of [[metrics]], [[learners]], [[embed]] entries and [r]
Variant = Literal["default", "published"]
#: the values of ``Variant`` (the one list: every stage and function reads it from here)
VARIANTS: tuple[str, ...] = typing.get_args(Variant)


def check_variant(variant: object, what: str) -> None:
    """A ``variant`` outside ``VARIANTS`` is an error naming ``what`` (a function or
    class called from Python; config entries are checked by their ``Variant`` key)."""
    if variant not in VARIANTS:
        raise ValidationError(f"{what}: variant must be {VARIANTS[0]!r} or {VARIANTS[1]!r}, got {variant!r}")


# --- ranges: every numeric key has one, checked before any work ---------------------------------
#: the largest seed: R's ``set.seed`` takes an R integer (``.Machine$integer.max``);
#: numpy and torch take any non-negative seed up to it
MAX_SEED = 2**31 - 1
#: a seed of any stage: [0, 2^31 − 1]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
#: a count of at least one (sizes, folds, epochs, workers …)
Count = Annotated[int, Field(ge=1)]
#: a count that may be 0 (retries, resamples, GPUs …)
NonNegative = Annotated[int, Field(ge=0)]
#: a finite number > 0 (temperatures, penalties, learning rates)
Positive = Annotated[Number, Field(gt=0, allow_inf_nan=False)]
#: a finite number ≥ 0
NonNegativeNumber = Annotated[Number, Field(ge=0, allow_inf_nan=False)]
#: a probability: a finite number in [0, 1]
Probability = Annotated[Number, Field(ge=0, le=1, allow_inf_nan=False)]
#: a share strictly between 0 and 1 (CI levels, holdout fractions)
OpenUnit = Annotated[Number, Field(gt=0, lt=1, allow_inf_nan=False)]

#: pydantic error types of a value outside its range
RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number")


def key_error(key: str, text: str) -> PydanticCustomError:
    """Raise this from a model validator for a problem of one key: ``error_line``
    makes it ``<section> #i <key>: <text>`` (e.g. ``expected a non-empty list, got []``)."""
    return PydanticCustomError("repalign_key", "{key}: {text}", {"key": key, "text": text})


def check_nonempty(model: BaseModel, keys: Sequence[str], hint: str = "") -> None:
    """A list key written as ``[]`` where an empty list would mean nothing (or, silently,
    "all") is an error naming the key."""
    for key in keys:
        if getattr(model, key, None) == []:
            raise key_error(key, f"expected a non-empty list{hint}, got []")


def machine_memory() -> int | None:
    """Bytes of memory of this machine (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def size_words(n_bytes: float) -> str:
    """``1536`` → ``"1.5 KiB"``; astronomical sizes in powers of ten of bytes."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            break
        n_bytes /= 1024
    if n_bytes >= 1024 * 1000:
        return f"{n_bytes * 1024**5:.1e} B"
    return f"{n_bytes:.3g} {unit}"


def memory_problem(n_bytes: float, what: str, how: str) -> str | None:
    """None when ``n_bytes`` fit in this machine's memory; else the words of the
    problem: ``<what> need about 22 TiB of memory (<how>), more than this machine's 24 GiB``."""
    total = machine_memory()
    if total is None or not math.isfinite(n_bytes) or n_bytes <= total:
        return None
    return f"{what} need about {size_words(n_bytes)} of memory ({how}), more than this machine's {size_words(total)}"


class Section(BaseModel):
    """Base of every config section model: unknown keys are errors, no coercion
    (strict), defaults are not re-validated."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def spec(self, exclude_unset: bool = False) -> dict[str, Any]:
        """Plain dict of the entry (``exclude_unset``: only the keys written); a
        ``variant`` left at "default" is left out, so that configs written before
        the key existed keep their task keys."""
        d = self.model_dump(exclude_unset=exclude_unset)
        if d.get("variant", None) == "default":
            d.pop("variant")
        return d


class RunSection(Section):
    """``[run]``: name (default: the config file's stem), output directory (default
    ``results/<stem>``, relative to the config file), seed, description."""

    name: str | None = None
    output: str | None = None
    seed: Seed = 0
    description: str = ""


# --- one-line error messages ------------------------------------------------------------------
_SCALARS = {
    int: ("an integer", "integers"),
    float: ("a number", "numbers"),
    str: ("a string", "strings"),
    bool: ("true or false", "booleans"),
    type(None): ("nothing", "nothing"),
}


def _members(tp: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _members(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return tuple(m for a in typing.get_args(tp) if a is not type(None) for m in _members(a))
    return (tp,)


def _constraints(tp: Any, metadata: Sequence[Any] = ()) -> dict[str, Any]:
    """The range of a scalar annotation: {"ge"/"gt"/"le"/"lt": bound, "finite": bool}
    from its ``Field(...)`` metadata (also inside ``Annotated[...] | None``)."""
    out: dict[str, Any] = {}
    items = list(metadata)
    todo = [tp]
    while todo:
        t = todo.pop()
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            args = typing.get_args(t)
            todo.append(args[0])
            for a in args[1:]:
                items += list(getattr(a, "metadata", [])) if isinstance(a, pydantic.fields.FieldInfo) else [a]
        elif origin in (Union, types.UnionType, list):  # a list's range is its items'
            todo += list(typing.get_args(t))
    for m in items:  # annotated_types.Ge/Gt/Le/Lt (pydantic's constraint records)
        name = type(m).__name__.lower()
        if name in ("ge", "gt", "le", "lt") and hasattr(m, name):
            out[name] = getattr(m, name)
        if type(m).__name__ == "AllowInfNan" and not getattr(m, "allow_inf_nan", True):
            out["finite"] = True
    return out


def range_words(tp: Any, metadata: Sequence[Any] = ()) -> str:
    """``an integer in [0, 2147483647]``, ``a finite number > 0`` …: the type and range of a key."""
    c = _constraints(tp, metadata)
    what = describe(tp)
    if c.get("finite") and what == "a number":
        what = "a finite number"
    lo = ("[", c["ge"]) if "ge" in c else ("(", c["gt"]) if "gt" in c else None
    hi = ("]", c["le"]) if "le" in c else (")", c["lt"]) if "lt" in c else None
    if lo and hi:
        return f"{what} in {lo[0]}{lo[1]}, {hi[1]}{hi[0]}"
    if lo:
        return f"{what} {'≥' if lo[0] == '[' else '>'} {lo[1]}"
    if hi:
        return f"{what} {'≤' if hi[0] == ']' else '<'} {hi[1]}"
    return what


def describe(tp: Any, plural: bool = False) -> str:
    """Words for a type annotation: ``list[str]`` → "a list of strings"."""
    parts = _members(tp)
    if set(parts) == {int, float}:
        return "numbers" if plural else "a number"
    if len(parts) > 1:
        return " or ".join(describe(p, plural) for p in parts)
    tp = parts[0]
    origin = typing.get_origin(tp)
    if origin is Literal:
        return ("values among " if plural else "one of ") + ", ".join(map(repr, typing.get_args(tp)))
    if origin in (list, tuple, Sequence):
        args = typing.get_args(tp)
        return ("lists" if plural else "a list") + (f" of {describe(args[0], True)}" if args else "")
    if origin is dict or (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return "tables" if plural else "a table"
    if tp in _SCALARS:
        return _SCALARS[tp][1 if plural else 0]
    return getattr(tp, "__name__", str(tp))


def _model_of(tp: Any) -> type[BaseModel] | None:
    parts = _members(tp)
    if len(parts) == 1 and isinstance(parts[0], type) and issubclass(parts[0], BaseModel):
        return parts[0]
    return None


def _item_model(tp: Any) -> type[BaseModel] | None:
    parts = _members(tp)
    if len(parts) == 1 and typing.get_origin(parts[0]) is list:
        return _model_of(typing.get_args(parts[0])[0])
    return None


def _one_of(values: Sequence[Any]) -> str:
    if len(values) == 2:
        return f"{values[0]!r} or {values[1]!r}"
    return "one of " + ", ".join(map(str, values))


def error_line(model: type[BaseModel], data: Any, err: Mapping[str, Any], where: str) -> str:
    """One line for a pydantic error of ``model.model_validate(data)``: follows the
    error's location through nested tables to the key at fault."""
    cls, value, path = model, data, []
    loc = list(err["loc"])
    fld = None
    while loc:
        key = loc.pop(0)
        if cls is None or not isinstance(key, str) or key not in cls.model_fields:
            if err["type"] == "extra_forbidden" and isinstance(key, str):
                path.append(key)
            break
        fld = cls.model_fields[key]
        path.append(key)
        value = value.get(key) if isinstance(value, Mapping) else None
        sub, item = _model_of(fld.annotation), _item_model(fld.annotation)
        if sub is not None and isinstance(value, Mapping) and loc:
            cls, fld = sub, None
        elif item is not None and isinstance(value, list) and loc and isinstance(loc[0], int):
            i = loc.pop(0)  # an entry of a nested array of tables, e.g. [[dynamics.simulate]] #2
            table = where[1:-1] if where.startswith("[") and where.endswith("]") and " " not in where else None
            where = f"[[{table}.{'.'.join(path)}]] #{i + 1}" if table else f"{where} {'.'.join(path)} #{i + 1}"
            path, value, cls, fld = [], value[i], item, None
        else:
            break
    kind = err["type"]
    if kind == "repalign_key":  # key_error(): a model validator's problem of one of its keys
        ctx = err.get("ctx") or {}
        return f"{where} {'.'.join([*path, ctx.get('key', '')])}: {ctx.get('text', err['msg'])}"
    shown = path[:-1] if kind in ("extra_forbidden", "missing") else path  # those name the key in the message
    at = where + (" " + ".".join(shown) if shown else "")
    if kind == "extra_forbidden":
        owner = cls if cls is not None else model
        unknown = [k for k in (value if isinstance(value, Mapping) else {}) if k not in owner.model_fields]
        valid = f"valid keys: {', '.join(owner.model_fields)}" if owner.model_fields else "this section takes no keys"
        return f"{at}: unknown key(s) {unknown or path[-1:]}; {valid}"
    if kind == "missing":
        return f"{at}: missing required key(s) {path[-1:]}"
    if kind == "literal_error" and fld is not None and typing.get_origin(_members(fld.annotation)[0]) is Literal:
        vals = typing.get_args(_members(fld.annotation)[0])
        inside = " " + ".".join(path[:-1]) if len(path) > 1 else ""
        return f"{where}{inside}: {path[-1]} must be {_one_of(vals)}, got {value!r}"
    if kind in ("value_error", "assertion_error"):  # a model validator's message names its key(s) itself
        msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return f"{where}: {msg}"
    if kind in RANGE_ERRORS and fld is not None:
        return f"{at}: expected {range_words(fld.annotation, fld.metadata)}, got {value!r}"
    if fld is not None:
        return f"{at}: expected {describe(fld.annotation)}, got {value!r}"
    if isinstance(data, Mapping) or cls is not model:
        return f"{at}: expected a table, got {value!r}"
    return f"{at}: {err['msg']}"


def parse_section(model: type[BaseModel], data: Any, where: str) -> Any:
    """``model.model_validate(data)``; the first error becomes one ValidationError line."""
    if not isinstance(data, Mapping):
        kind = "an array of tables" if isinstance(data, list) else repr(data)
        raise ValidationError(f"{where}: expected a table, got {kind}")
    try:
        return model.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        raise ValidationError(error_line(model, data, exc.errors()[0], where)) from None


def parse_entries(model: type[BaseModel] | Any, data: Any, section: str) -> list[Any]:
    """Validate an array of tables (``[[section]]``), entry by entry (numbered from 1).
    ``model``: a Section class, or a function entry → Section class (e.g. by its
    ``metric``), which may raise ValidationError itself."""
    if data is None:
        return []
    if isinstance(data, Mapping):
        raise ValidationError(
            f"[[{section}]]: expected an array of tables ([[{section}]] entries), got a table ([{section}])"
        )
    if not isinstance(data, list):
        raise ValidationError(f"[[{section}]]: expected an array of tables, got {data!r}")
    out = []
    for i, entry in enumerate(data):
        where = f"[[{section}]] #{i + 1}"
        if not isinstance(entry, Mapping):
            raise ValidationError(f"{where}: expected a table, got {entry!r}")
        cls = model if isinstance(model, type) else model(entry, where)
        out.append(parse_section(cls, entry, where))
    return out


# --- the config file ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    """A parsed, top-level-validated config. ``raw`` holds every section as read;
    ``path`` the file; ``output`` the resolved output directory."""

    path: Path
    raw: Mapping[str, Any]
    output: Path
    seed: int = 0
    name: str = "run"
    extra: dict = field(default_factory=dict)

    def section(self, name: str, default: Any = None) -> Any:
        if name not in SECTIONS:
            raise ValidationError(f"unknown config section {name!r}; valid: {', '.join(SECTIONS)}")
        return self.raw.get(name, default)

    def resolve(self, p: str | Path) -> Path:
        """A path from the config: relative to the config file's directory."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else (self.path.parent / p).resolve()


def check_shape(raw: Mapping[str, Any]) -> None:
    """Top level: known section names, arrays of tables where arrays belong, tables elsewhere."""
    unknown = [k for k in raw if k not in SECTIONS]
    if unknown:
        raise ValidationError(f"unknown section(s) {unknown}; valid sections: {', '.join(SECTIONS)}")
    for name, value in raw.items():
        if name in ARRAY_SECTIONS:
            if isinstance(value, Mapping):
                raise ValidationError(
                    f"[[{name}]]: expected an array of tables ([[{name}]] entries), got a table ([{name}])"
                )
            if not isinstance(value, list) or not all(isinstance(e, Mapping) for e in value):
                raise ValidationError(f"[[{name}]]: expected an array of tables, got {value!r}")
        elif not isinstance(value, Mapping):
            got = "an array of tables" if isinstance(value, list) else repr(value)
            raise ValidationError(f"[{name}]: expected a table, got {got}")


def load_config(path: str | Path, output: str | Path | None = None) -> Config:
    """Read a config file and check its top level and ``[run]`` (the stages check
    their own sections when they plan; ``repalign.pipeline.plan_all`` checks all of
    them before any task runs)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ValidationError(f"config file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{path}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read config file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    check_shape(raw)
    run = parse_section(RunSection, raw.get("run", {}), "[run]")
    out = Path(output) if output is not None else Path(run.output or f"results/{path.stem}")
    out = out if out.is_absolute() else (path.parent / out).resolve() if output is None else out.resolve()
    return Config(path=path, raw=raw, output=out, seed=run.seed, name=run.name or path.stem)
