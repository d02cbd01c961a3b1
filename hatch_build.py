"""Install-time build of the web client: `npm ci` and esbuild turn `web/` into
`src/orderchat/web/static/` (app.js, app.css, index.html), which the wheel ships.

hatchling runs this for `pip install .`, so README's set-up commands stay the whole set-up:
no build step by hand, nothing fetched when `orderchat up` runs. It skips work that is up to
date (node_modules newer than package-lock.json, bundle newer than every source), and it
fails the install loudly when npm is missing and no bundle exists, rather than installing
a server with no client. Run it by hand with `python hatch_build.py`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
STATIC = ROOT / "src" / "orderchat" / "web" / "static"
OUTPUTS = ("app.js", "app.css", "index.html")


def _newest(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def _sources() -> list[Path]:
    return [WEB / "package-lock.json", WEB / "build.mjs", WEB / "index.html", *sorted((WEB / "src").rglob("*"))]


def _built() -> bool:
    outputs = [STATIC / name for name in OUTPUTS]
    return all(p.is_file() for p in outputs) and min(p.stat().st_mtime for p in outputs) >= _newest(_sources())


def build_web_client(force: bool = False) -> None:
    if not WEB.is_dir():  # an sdist without web/ sources: the bundle must be in it already
        return
    if not force and _built():
        return
    npm = shutil.which("npm")
    if npm is None:
        if all((STATIC / name).is_file() for name in OUTPUTS):
            print("orderchat: npm not found; keeping the web client built earlier", file=sys.stderr)
            return
        raise RuntimeError("building orderchat's web client needs Node.js and npm (Debian: apt-get install nodejs npm)")
    modules = WEB / "node_modules" / ".package-lock.json"
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false", "npm_config_audit": "false"}
    if force or not modules.is_file() or modules.stat().st_mtime < (WEB / "package-lock.json").stat().st_mtime:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB, check=True, env=env)
    node = shutil.which("node") or "node"
    subprocess.run([node, "build.mjs", str(STATIC)], cwd=WEB, check=True, env=env)


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run by hand, outside a build
    BuildHookInterface = object  # type: ignore[assignment,misc]


class WebClientBuildHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:  # noqa: ARG002 - hatch's signature
        if self.target_name != "wheel":
            return
        build_web_client()
        # The bundle is generated (git-ignored), so name it explicitly for the wheel.
        build_data.setdefault("force_include", {}).update(
            {str(STATIC / name): f"orderchat/web/static/{name}" for name in OUTPUTS if (STATIC / name).is_file()}
        )


if __name__ == "__main__":
    build_web_client(force="--force" in sys.argv)
    print(f"web client in {STATIC}")
