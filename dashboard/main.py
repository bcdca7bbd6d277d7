"""Entry point of ``panel serve dashboard``: Bokeh runs this file once per browser session."""

from dashboard.app import DashboardApp

DashboardApp().servable(title="AuroraX data products")
