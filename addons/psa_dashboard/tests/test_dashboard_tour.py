from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestDashboardTour(HttpCase):
    """The PSA dashboard opens in the Dashboards app on the demo data and shows every figure."""

    def test_dashboard_tour(self):
        self.start_tour("/odoo/dashboards", "psa_dashboard_tour", login="admin", timeout=180)

    def test_dashboard_mobile_tour(self):
        self.browser_size = "390x844"
        self.touch_enabled = True
        self.start_tour("/odoo/dashboards", "psa_dashboard_mobile_tour", login="admin", timeout=180)
