"""The wheel installs everything under the one `orderchat` namespace."""

import subprocess
import sys
import zipfile

from tests.conftest import repo_root


def test_wheel_has_only_the_orderchat_namespace(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(repo_root())],
        check=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("orderchat-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"orderchat", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    for module in (
        "orderchat/schemas/names.py",
        "orderchat/services/delivery/service.py",
        "orderchat/services/framework/request_server.py",
        "orderchat/runtime/nats_server.py",
        "orderchat/cli/main.py",
        "orderchat/client/client.py",
        "orderchat/integrations/__init__.py",
    ):
        assert module in names, module
    assert not any(n.startswith(("services/", "schemas/", "tests/")) for n in names)
    entry_points = zipfile.ZipFile(wheel).read(f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info/entry_points.txt").decode()
    assert "orderchat = orderchat.cli.main:main" in entry_points
