"""The AuroraX data-product dashboard (a Panel app): ``panel serve dashboard`` from the repo root.

``dashboard.state`` holds the session's state in parts (param + aurorax_core only);
``dashboard.views`` are thin Panel views over it, the tabs listed in ``views/registry.py``;
``dashboard.app.DashboardApp`` builds one fresh set per browser session.
"""
