"""trainbridge: training management wired into the systems a company already runs."""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("trainbridge")

__all__ = ["__version__", "hookimpl"]
