"""Small immutable records for the SPDM package, without the cost of ``dataclasses``.

The stack defines about fifty message, event and hook records. As frozen
slotted dataclasses they cost ``migtd`` some 40 ms at every start with
``--key-exchange spdm`` (``python -X importtime``: generating and compiling
each class's methods, plus importing ``dataclasses`` and ``inspect``), more
than the protocol itself. :func:`record` gives the same surface the stack
uses — positional or keyword construction with defaults, read-only fields,
equality and hashing by value, a ``repr`` naming the fields,
``__match_args__`` — from one shared set of functions, reading a class's
fields from its annotations once, when the class is defined. (The same idea
as :mod:`migtd._events`.) Type checkers see a dataclass (``dataclass_transform``).
"""

from __future__ import annotations

from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T", bound=type)


def _fields(cls: type) -> tuple[str, ...]:
    annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - this class's own, as written
    return tuple(name for name, spec in annotations.items()
                 if not str(spec).replace("typing.", "").startswith("ClassVar"))


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = type(self)
    names = cls._record_fields
    if len(args) > len(names):
        raise TypeError(f"{cls.__name__}() takes {len(names)} positional arguments but {len(args)} were given")
    state = self.__dict__
    for name, value in zip(names, args):
        state[name] = value
    defaults = cls._record_defaults
    for name in names[len(args):]:
        if name in kwargs:
            state[name] = kwargs.pop(name)
        elif name in defaults:
            state[name] = defaults[name]
        else:
            raise TypeError(f"{cls.__name__}() missing required argument: {name!r}")
    if kwargs:
        raise TypeError(f"{cls.__name__}() got unexpected or repeated arguments: {', '.join(map(repr, kwargs))}")


def _setattr(self: Any, name: str, value: Any) -> None:
    raise AttributeError(f"{type(self).__name__} is immutable (cannot set {name!r})")


def _delattr(self: Any, name: str) -> None:
    raise AttributeError(f"{type(self).__name__} is immutable (cannot delete {name!r})")


def _values(self: Any) -> tuple[Any, ...]:
    state = self.__dict__
    return tuple(state[name] for name in type(self)._record_fields)


def _eq(self: Any, other: object) -> bool:
    if type(other) is not type(self):
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: Any) -> int:
    return hash((type(self), _values(self)))


def _repr(self: Any) -> str:
    inner = ", ".join(f"{name}={value!r}" for name, value in zip(type(self)._record_fields, _values(self)))
    return f"{type(self).__name__}({inner})"


@dataclass_transform(frozen_default=True)
def record(cls: T) -> T:
    """Make ``cls`` an immutable record of its annotated fields (``ClassVar`` ones excluded)."""
    names = _fields(cls)
    cls._record_fields = names  # type: ignore[attr-defined]
    cls._record_defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}  # type: ignore[attr-defined]
    cls.__match_args__ = names  # type: ignore[attr-defined, misc]
    cls.__init__ = _init  # type: ignore[misc]
    cls.__setattr__ = _setattr  # type: ignore[assignment]
    cls.__delattr__ = _delattr  # type: ignore[assignment]
    cls.__eq__ = _eq  # type: ignore[assignment]
    cls.__hash__ = _hash  # type: ignore[assignment]
    if "__repr__" not in cls.__dict__:
        cls.__repr__ = _repr  # type: ignore[assignment]
    return cls
