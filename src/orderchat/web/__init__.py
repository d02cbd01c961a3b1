"""The browser client: static files built from `web/` (see hatch_build.py) and the small
HTTP server `orderchat up` runs to serve them (`server.py`, `component.py`)."""
