"""What each Lambda handler module imports at cold start: a module-set test, never a timing one, so it
does not depend on how fast or how busy the machine is (bench/cold_imports.py gives the figures).

Each handler module is imported in a fresh interpreter, as Lambda does, and the modules it pulled in
are checked: heavy engines (templates, PDF, processor SDKs), the settings models and Powertools'
batch utility wait for the first event, and so does every service a handler or route uses
(chalicelib.runtime.deferred); the authorizer imports only what an API-key lookup needs.
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache

import pytest

from bench.cold_imports import HANDLER_MODULES
from localcloud.paths import FUNCTIONS, ROOT

# Imported on use (a render, a PDF, a debit), never at cold start by any function.
ENGINES = ("jinja2", "fpdf", "pypdf", "PIL", "stripe", "gocardless_pro")
# Validated on a function's first event (cashline.config), not when its handler module is imported.
SETTINGS = ("pydantic_settings", "cashline.config_models")
# Powertools' batch utility imports its pydantic parser models: on a queue function's first batch.
BATCH = ("aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.parser")


@cache
def imported_by(module: str) -> frozenset[str]:
    """Every module in sys.modules after `import <module>` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; import {module}; print(' '.join(sys.modules))"],
        cwd=FUNCTIONS,
        env={"PYTHONPATH": f"{FUNCTIONS}:{ROOT / 'shared'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return frozenset(done.stdout.split())


def pulled(module: str, forbidden: tuple[str, ...]) -> list[str]:
    """The forbidden packages (or any of their submodules) that importing `module` pulled in."""
    loaded = imported_by(module)
    return sorted(f for f in forbidden if any(m == f or m.startswith(f + ".") for m in loaded))


HANDLERS = list(HANDLER_MODULES)


@pytest.mark.parametrize("module", HANDLERS)
def test_no_handler_module_imports_a_heavy_engine(module: str) -> None:
    assert pulled(module, ENGINES) == []


@pytest.mark.parametrize("module", HANDLERS)
def test_settings_models_wait_for_the_first_event(module: str) -> None:
    assert pulled(module, SETTINGS) == []


@pytest.mark.parametrize("module", HANDLERS)
def test_the_batch_utility_waits_for_the_first_message(module: str) -> None:
    assert pulled(module, BATCH) == []


# What a handler module may import of the services at cold start: the authorizer's key lookup and
# the sweep loop every schedule handler shares (chalicelib.schedule_ticks). Everything else is named
# `deferred` (chalicelib.runtime) and imported by the first event that uses it.
AT_COLD_START = {"cashline.services", "cashline.services.authentication", "cashline.services.sweeps"}


@pytest.mark.parametrize("module", HANDLERS)
def test_services_wait_for_the_first_event_that_uses_them(module: str) -> None:
    loaded = imported_by(module)
    assert sorted(m for m in loaded if m.startswith("cashline.services") and m not in AT_COLD_START) == []


def test_the_authorizer_imports_only_what_a_key_lookup_needs() -> None:
    loaded = imported_by("chalicelib.auth")
    services = sorted(m for m in loaded if m.startswith("cashline.services."))
    assert services == ["cashline.services.authentication"]
    # No pydantic model at all (the settings come on the first event), no Babel, no wire schemas.
    assert (
        pulled("chalicelib.auth", ("pydantic.main", "babel", "holidays", *SETTINGS, *ENGINES, *BATCH)) == []
    )
    assert pulled("chalicelib.auth", ("cashline.schemas", "cashline.adapters")) == []


# A sweep's handler and the services of concerns it does not touch.
NOT_NEEDED = {
    "chalicelib.scheduled": (
        "cashline.services.payments",
        "cashline.services.financing",
        "cashline.services.documents",
    ),
    "chalicelib.financing_schedules": ("cashline.services.collections", "cashline.services.payments"),
    "chalicelib.queue_handlers": (
        "cashline.services.collections",
        "cashline.services.payments",
        "cashline.services.invoices",
    ),
    "chalicelib.collection_handlers": ("cashline.services.payments", "cashline.services.financing"),
    "chalicelib.statement_schedules": ("cashline.services.payments", "cashline.services.financing"),
}


@pytest.mark.parametrize("module", sorted(NOT_NEEDED))
def test_a_sweep_handler_imports_no_service_of_another_concern(module: str) -> None:
    assert pulled(module, NOT_NEEDED[module]) == []
