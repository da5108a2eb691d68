"""Workflow types by name. Adding a type is adding a folder under ``workflows/`` whose
``__init__.py`` decorates its ``Workflow`` subclass with :func:`register`."""

from __future__ import annotations

import importlib
import pkgutil

from phi_orchestrator.workflows.base import Workflow

_WORKFLOWS: dict[str, Workflow] = {}
_loaded = False


def register(cls: type[Workflow]) -> type[Workflow]:
    if cls.type in _WORKFLOWS:
        raise ValueError(f"workflow type {cls.type} registered twice")
    _WORKFLOWS[cls.type] = cls()
    return cls


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import phi_orchestrator.workflows as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.ispkg:
            importlib.import_module(f"{package.__name__}.{module.name}")


def workflows() -> dict[str, Workflow]:
    _load()
    return dict(_WORKFLOWS)


def get_workflow(type_: str) -> Workflow | None:
    _load()
    return _WORKFLOWS.get(type_)
