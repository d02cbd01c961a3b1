"""The Docker Compose deployment (compose/), checked without a Docker engine: the file against
the Compose Specification's JSON schema (as vendored and kept current by the maintained
`check-jsonschema` validator), its shape against what orderchat needs, and every NATS node's
configuration by the shipped nats-server's own config test (`nats-server -t`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orderchat.runtime.nats_server import find_nats_server
from orderchat.runtime.services import SERVICES

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
FILE = COMPOSE / "docker-compose.yml"
NODES = ("nats1", "nats2", "nats3")


def check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "check-jsonschema"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "check_jsonschema"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(FILE.read_text())


def test_compose_file_matches_the_compose_specification(tmp_path: Path) -> None:
    result = check_jsonschema("--builtin-schema", "vendor.compose-spec", str(FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    # The same check rejects a file that breaks the specification (it can fail).
    broken = tmp_path / "broken.yml"
    broken.write_text(FILE.read_text().replace("    restart: unless-stopped\n    networks: [erp]", "    restart: 42\n    networks: [erp]"))
    assert broken.read_text() != FILE.read_text()
    assert check_jsonschema("--builtin-schema", "vendor.compose-spec", str(broken)).returncode != 0


def test_three_clustered_jetstream_nodes_with_replicated_streams(compose: dict) -> None:
    services = compose["services"]
    for node in NODES:
        spec = services[node]
        assert spec["image"].startswith("nats:2.1"), spec["image"]
        conf = spec["command"][-1].removeprefix("/etc/nats/")
        assert (COMPOSE / "nats" / conf).is_file()
        assert any(v.endswith(":/data") for v in spec["volumes"]), f"{node} keeps no JetStream store"
        assert "healthcheck" in spec
    common = (COMPOSE / "nats" / "common.conf").read_text()
    for node in NODES:
        assert f"nats-route://{node}:6222" in common
    assert "sync_interval: always" in common and 'include "auth/auth.conf"' in common
    # Streams are provisioned with 3 replicas, after every node is healthy.
    provision = services["provision"]
    assert provision["command"] == ["provision"]
    assert provision["environment"]["ORDERCHAT_REPLICAS"] == "3"
    assert set(provision["depends_on"]) == set(NODES)


def test_services_odoo_and_postgres(compose: dict) -> None:
    services = compose["services"]
    assert services["odoo"]["image"] == "odoo:17"
    assert services["db"]["image"] == "postgres:16"
    assert services["odoo"]["environment"]["HOST"] == "db"
    app = services["services"]
    assert app["build"] == {"context": "..", "dockerfile": "compose/Dockerfile"}
    assert (COMPOSE / "Dockerfile").is_file()
    command = app["command"]
    assert command[0] == "serve"
    served = [c for c in command[1:] if not c.startswith("--") and not c.isdigit()]
    assert served and all(name in SERVICES for name in served), f"unknown services in compose: {served}"
    assert set(SERVICES) <= set(served), f"registered services missing from compose: {set(SERVICES) - set(served)}"
    dockerfile = (COMPOSE / "Dockerfile").read_text()
    assert "RUN pip install ." in dockerfile and 'ENTRYPOINT ["orderchat"]' in dockerfile
    assert "compose/bootstrap.py" in dockerfile and services["bootstrap"]["entrypoint"][1] == "/app/compose/bootstrap.py"


def nats_config_test(conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([find_nats_server(), "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)


def test_nats_node_configurations_pass_the_servers_own_config_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf_dir = tmp_path / "nats"
    shutil.copytree(COMPOSE / "nats", conf_dir)
    # The authorization file the bootstrap step writes on the first start, made the same way.
    monkeypatch.setenv("ORDERCHAT_HOME", str(tmp_path / "home"))
    bootstrap = subprocess.run(
        [sys.executable, str(COMPOSE / "bootstrap.py"), str(conf_dir / "auth" / "auth.conf")],
        capture_output=True, text=True, timeout=60,
    )
    assert bootstrap.returncode == 0, bootstrap.stderr
    assert "nkey:" in (conf_dir / "auth" / "auth.conf").read_text()
    for i in (1, 2, 3):
        result = nats_config_test(conf_dir / f"nats-{i}.conf")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "is valid" in result.stdout + result.stderr
    # The config test rejects a broken configuration (it can fail).
    common = conf_dir / "common.conf"
    common.write_text(common.read_text().replace("sync_interval: always", "sync_interval: sometimes"))
    assert nats_config_test(conf_dir / "nats-1.conf").returncode != 0
