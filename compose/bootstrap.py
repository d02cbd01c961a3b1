"""First start of the compose deployment: make the system identities (admin, services) in the
key store volume, and an `authorization` file that admits them, before any nats-server node
starts. Later starts keep both (a file that still admits the admin key is left as it is, so
parties added since keep working).

    python compose/bootstrap.py AUTH_FILE        (ORDERCHAT_HOME names the key store's home)
"""

from __future__ import annotations

import sys
from pathlib import Path

from orderchat.runtime.settings import Settings
from orderchat.security.embedded import prepare_server_auth


def main(auth_file: str) -> None:
    settings = Settings()
    path = Path(auth_file)
    prepare_server_auth(settings, path)
    print(f"system identities in {settings.creds_dir}; authorization in {path}")


if __name__ == "__main__":
    main(sys.argv[1])
