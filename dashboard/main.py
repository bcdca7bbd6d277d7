"""Entry point of ``panel serve dashboard``: Bokeh runs this file once per browser session."""

from dashboard.app import create_app

create_app().servable(title="AuroraX data products")
