"""The AuroraX data-product dashboard (a Panel app): ``panel serve dashboard`` from the repo root.

``dashboard.state`` holds all state (param + aurorax_core only); ``dashboard.views`` are thin Panel
views over it; ``dashboard.app.create_app`` builds one fresh set per browser session.
"""
