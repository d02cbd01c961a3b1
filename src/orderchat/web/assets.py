"""Where the built browser client lives: `static/` inside this package, written by the
install's build step (hatch_build.py runs `npm ci` and esbuild over `web/`)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# What the build writes; the server refuses to start a client that was not built.
BUILT_FILES = ("index.html", "app.js", "app.css")


class ClientNotBuilt(RuntimeError):
    pass


def static_dir() -> Path:
    return Path(str(resources.files("orderchat.web") / "static"))


def check_built(folder: Path | None = None) -> Path:
    folder = folder or static_dir()
    missing = [name for name in BUILT_FILES if not (folder / name).is_file()]
    if missing:
        raise ClientNotBuilt(
            f"the web client is not built ({', '.join(missing)} missing in {folder}): reinstall orderchat "
            "with npm on PATH (`pip install .` builds it), or run `python hatch_build.py` in the repository"
        )
    return folder
