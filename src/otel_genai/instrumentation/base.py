"""The base every otel-genai instrumentor derives from: a declarative patch table, applied when the library is imported.

An instrumentor says *what* to patch (:meth:`LibraryInstrumentor.patches`: a list of :class:`Patch` and
:class:`Setup`); this module owns *how*:

* **Per-library dependency check, always.** ``opentelemetry-instrument`` checks a distribution's ``instruments`` /
  ``instruments-any`` extras and then calls ``instrument(skip_dep_check=True)``. Our distribution instruments several
  libraries and declares them as ``instruments-any`` (the loader loads it when any one is installed), so each
  instrumentor checks its own library here even then, and is skipped with a debug line when its library is missing
  (a WARNING when it is installed in an unsupported version).
* **Patched on import.** ``instrument()`` imports nothing: the table is applied by a post-import hook when the
  application imports the library (at once when it already has), so start-up never imports a library the app does
  not use. The hook cannot be removed, so each ``instrument()`` has a generation and a stale hook does nothing.
* **Isolated.** A failing patch is logged and skipped, the others still apply; nothing raises into the import
  statement that triggered the hook. ``uninstrument()`` undoes exactly what was applied, in reverse order.
* **The enabled guard.** Every wrapper is called through a guard that passes the call straight through while the
  instrumentor is not instrumented, so a bound method an SDK cached while we were instrumented stays harmless.
* **Telemetry per ``instrument()``**: tracer, meters and event logger, under the scope of the instrumentation's
  package (``otel_genai.instrumentation.openai``).
* **Neighbours.** When another instrumentation of the same library is active (OpenInference, OpenLLMetry, the
  official packages), every call would be traced twice: one WARNING names it and the exact
  ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` value that keeps one of the two (checked when the table is applied and
  again at the first traced call, since the loader may instrument the other one after us).
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any, ClassVar, NamedTuple

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from packaging.requirements import Requirement

from otel_genai import content
from otel_genai.instrumentation._llm import Telemetry

__all__ = ["LibraryInstrumentor", "Patch", "Setup", "Wrapper"]

logger = logging.getLogger(__name__)

Wrapper = Callable[[Telemetry, Callable[..., Any], Any, tuple, dict], Any]
"""``wrapper(telemetry, wrapped, instance, args, kwargs)``: a wrapt wrapper that also gets the call's telemetry."""


class Patch(NamedTuple):
    """Wrap ``module``'s ``target`` (``"Class.method"`` or ``"function"``) with ``wrapper`` (a :data:`Wrapper`)."""

    module: str
    target: str
    wrapper: Wrapper


class Setup(NamedTuple):
    """A step that is not a method wrap (register a processor, add a descriptor).

    ``apply()`` runs once ``module`` is imported (the library itself when None) and returns the callable that undoes
    it (or None).
    """

    name: str
    apply: Callable[[], Callable[[], None] | None]
    module: str | None = None


class LibraryInstrumentor(BaseInstrumentor):
    """One library's instrumentor. Subclasses set the class attributes and implement :meth:`patches`."""

    entry_point: ClassVar[str]  # our entry point's name, e.g. "otel_genai_openai"
    library: ClassVar[str]  # the top-level module the table waits for, e.g. "openai"
    instruments: ClassVar[tuple[str, ...]]  # supported versions, e.g. ("openai >= 1.66.0",), from its package.py

    telemetry: Telemetry | None = None  # set while instrumented; None makes every wrapper pass through
    _generation: object | None = None
    _undo: list[Callable[[], None]]
    _neighbours_pending = False

    def patches(self) -> Sequence[Patch | Setup]:
        """The table, built at each ``instrument()`` (closures may refer to ``self``)."""
        raise NotImplementedError

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.instruments

    @property
    def scope(self) -> str:
        """The instrumentation scope name: the instrumentation's package."""
        module = type(self).__module__
        return module.rsplit(".", 1)[0] if module.endswith(".instrumentor") else module

    # -- instrument / uninstrument ---------------------------------------------------------------------------------

    def instrument(self, **kwargs: Any) -> Any:
        if kwargs.get("skip_dep_check") and not self.is_instrumented_by_opentelemetry:
            conflict = self._check_dependency_conflicts()
            if conflict is not None:  # the loader only checked that *one* of our libraries is installed
                log = logger.warning if getattr(conflict, "found", None) else logger.debug
                log("otel-genai: skipping %s: %s", self.entry_point, conflict)
                return None
        return super().instrument(**kwargs)

    def _instrument(self, **kwargs: Any) -> None:
        content.reload()
        self.telemetry = Telemetry(self.scope, **kwargs)
        self._undo = []
        generation = self._generation = object()
        self._neighbours_pending = True
        wrapt.register_post_import_hook(lambda module: self._apply(generation), self.library)

    def _uninstrument(self, **kwargs: Any) -> None:
        with _LOCK:  # atomic with a table being applied in another thread: each step is undone or never applied
            self._generation = None
            self.telemetry = None
            undo, self._undo = self._undo, []
        for step in reversed(undo):
            try:
                step()
            except Exception:
                logger.debug("otel-genai: undoing a patch of %s failed", self.library, exc_info=True)

    # -- applying the table ----------------------------------------------------------------------------------------

    def _apply(self, generation: object) -> None:
        """Apply the table (from the library's post-import hook): never raises into the application's import.

        Each step waits for its own module (``Patch.module``, ``Setup.module``): a library that imports its API
        modules lazily (openai's resources) is not made to import them by us (start-up), and they are patched when
        the app first uses them. A step in an optional companion package (LangGraph's part of the LangChain table)
        is applied if and when the app imports it.
        """
        if generation is not self._generation:
            return  # uninstrumented (or instrumented again) since this hook was registered
        try:
            table = self.patches()
        except Exception:
            logger.warning("otel-genai: %s could not be instrumented", self.library, exc_info=True)
            return
        by_module: dict[str, list[Patch | Setup]] = {}
        for step in table:
            by_module.setdefault(step.module or self.library, []).append(step)
        self._apply_steps(generation, self.library, by_module.pop(self.library, []))
        for module, steps in by_module.items():
            self._apply_on_import(generation, module, steps)
        self.check_neighbours()

    def _apply_on_import(self, generation: object, module: str, steps: Sequence[Patch | Setup]) -> None:
        wrapt.register_post_import_hook(lambda _module: self._apply_steps(generation, module, steps), module)

    def _apply_steps(self, generation: object, module: str, steps: Sequence[Patch | Setup]) -> None:
        """Apply ``steps`` (all waiting for ``module``) unless this ``instrument()`` is over.

        The module is imported *before* the lock is taken: the hook may fire in one thread while another is still
        executing that module (it is in ``sys.modules`` from the start), and the import then waits for that thread,
        which may itself be about to run one of our hooks. Waiting for an import while holding the lock deadlocks
        (the toggling load test found it). Under the lock only attributes are set, and setups import nothing the
        library has not imported already.
        """
        try:
            importlib.import_module(module)
        except Exception:
            logger.warning("otel-genai: %s: could not import %s", self.library, module, exc_info=True)
            return
        with _LOCK:
            if generation is not self._generation:
                return  # uninstrumented (or instrumented again) since this hook was registered
            for step in steps:
                try:
                    undo = self._wrap(step) if isinstance(step, Patch) else step.apply()
                except Exception:
                    logger.warning("otel-genai: %s: could not apply %s", self.library, step[:2], exc_info=True)
                    continue
                if undo is not None:
                    self._undo.append(undo)

    def _wrap(self, patch: Patch) -> Callable[[], None] | None:
        module = sys.modules[patch.module]  # imported by _apply_steps
        path, _, name = patch.target.rpartition(".")
        owner = module
        for part in path.split(".") if path else ():
            owner = getattr(owner, part)
        if name not in vars(owner):
            logger.debug("otel-genai: %s has no %s.%s; not patched", self.library, patch.module, patch.target)
            return None
        original = vars(owner)[name]
        wrapt.wrap_function_wrapper(owner, name, self._guard(patch.wrapper))
        installed = vars(owner)[name]

        def undo() -> None:
            if vars(owner).get(name) is installed:
                setattr(owner, name, original)
            else:  # someone wrapped on top of ours since: leave theirs in place; our guard now passes through
                logger.debug("otel-genai: %s.%s was wrapped again by someone else; left in place", owner, name)

        return undo

    def _guard(self, wrapper: Wrapper) -> Callable[..., Any]:
        """The enabled guard: pass through while not instrumented; check for neighbours at the first call."""

        def guarded(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            telemetry = self.telemetry
            if telemetry is None:
                return wrapped(*args, **kwargs)
            if self._neighbours_pending:  # once per instrument(): the loader may have instrumented others after us
                self._neighbours_pending = False
                self.check_neighbours()
            return wrapper(telemetry, wrapped, instance, args, kwargs)

        return guarded

    # -- neighbours ------------------------------------------------------------------------------------------------

    def check_neighbours(self) -> list[str]:
        """Warn once for each other active instrumentation of this library; return their entry point names."""
        try:
            found = self.neighbours()
        except Exception:
            logger.debug("otel-genai: looking for other instrumentations of %s failed", self.library, exc_info=True)
            return []
        for name, distribution in found:
            if (self.entry_point, name) in _WARNED:
                continue
            _WARNED.add((self.entry_point, name))
            logger.warning(
                "otel-genai: %s is also traced by %s (entry point %r): every call would be traced twice. Keep one: "
                "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=%s keeps otel-genai's spans, "
                "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=%s keeps %s's.",
                self.library,
                distribution,
                name,
                name,
                self.entry_point,
                distribution,
            )
        return [name for name, _ in found]

    def neighbours(self) -> list[tuple[str, str]]:
        """(entry point name, distribution) of every other instrumentor of our library that is instrumented now.

        Another instrumentation is found by what it declares: an ``opentelemetry_instrumentor`` entry point whose
        instrumentor (already imported: one that was never imported is not active) is instrumented and whose
        ``instrumentation_dependencies()`` name our library's distribution.
        """
        ours = {Requirement(spec).name.lower() for spec in self.instruments}
        found = []
        for ep, module_name, attr in _instrumentor_entry_points():
            module = sys.modules.get(module_name)
            if module is None or module_name.startswith("otel_genai."):
                continue
            cls = getattr(module, attr, None)
            instance = vars(cls).get("_instance") if isinstance(cls, type) else None
            if instance is None or not getattr(instance, "_is_instrumented_by_opentelemetry", False):
                continue
            try:
                theirs = {Requirement(spec).name.lower() for spec in instance.instrumentation_dependencies()}
            except Exception:
                continue
            if theirs & ours:
                dist = getattr(getattr(ep, "dist", None), "name", None) or module_name
                found.append((ep.name, dist))
        return found


_LOCK = threading.RLock()  # guards each instrumentor's generation and undo list; never held across an import
_WARNED: set[tuple[str, str]] = set()
_ENTRY_POINTS: list[tuple[Any, str, str]] | None = None


def _instrumentor_entry_points() -> list[tuple[Any, str, str]]:
    """(entry point, module, attribute) of every installed instrumentor; read once (scanning metadata is slow)."""
    global _ENTRY_POINTS
    if _ENTRY_POINTS is None:
        from importlib.metadata import entry_points

        found = []
        for ep in entry_points(group="opentelemetry_instrumentor"):
            module, _, attr = ep.value.partition(":")
            found.append((ep, module.strip(), attr.strip()))
        _ENTRY_POINTS = found
    return _ENTRY_POINTS
