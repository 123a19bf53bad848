"""Start an app for the cold-start figure and note when its first screen is painted.

``python painted.py verkstad`` runs verkstad as its console script does; ``python
painted.py FILE.py`` runs a reference app. Each of them calls ``App.exit`` once the
refresh that painted its first screen is done (verkstad under
VERKSTAD_EXIT_AFTER_FIRST_PAINT), so the wall-clock time of that first call, written to
the file named by $PAINTED_AT, is the moment of the paint. The process's own end comes
100–300 ms later on every side (Textual's input thread and the interpreter's exit).
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from typing import Any

from textual.app import App

_exit = App.exit


def exit_noting_the_time(self: App[Any], *args: Any, **kwargs: Any) -> None:
    path = os.environ["PAINTED_AT"]
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(repr(time.time()))
    _exit(self, *args, **kwargs)


App.exit = exit_noting_the_time  # type: ignore[method-assign]

if __name__ == "__main__":
    target, sys.argv = sys.argv[1], sys.argv[1:]
    if target == "verkstad":
        from verkstad.cli import main

        sys.exit(main())
    runpy.run_path(target, run_name="__main__")
