from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

DEVICES_PER_PAGE = 40


class PsaDevicePortal(CustomerPortal):
    """``/my/devices``: the customer's managed devices, read through the portal record rule (own company only)."""

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "psa_device_count" in counters:
            devices = request.env["psa.device"]
            values["psa_device_count"] = devices.search_count([]) if devices.has_access("read") else 0
        return values

    def _psa_device_domain(self):
        """Hook for extensions: the devices listed (the record rule already limits them to the user's company)."""
        return []

    @http.route(["/my/devices", "/my/devices/page/<int:page>"], type="http", auth="user", website=True)
    def portal_my_devices(self, page=1, **_kw):
        devices = request.env["psa.device"]
        if not devices.has_access("read"):
            return request.redirect("/my")
        domain = self._psa_device_domain()
        pager = portal_pager(url="/my/devices", total=devices.search_count(domain), page=page, step=DEVICES_PER_PAGE)
        page_devices = devices.search(domain, order="name", limit=DEVICES_PER_PAGE, offset=pager["offset"])
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "page_name": "psa_devices",
                "devices": page_devices,
                "open_ticket_counts": self._psa_open_ticket_counts(page_devices),
                "pager": pager,
                "default_url": "/my/devices",
            }
        )
        return request.render("psa_rmm.portal_my_devices", values)

    @http.route(["/my/devices/<int:device_id>"], type="http", auth="user", website=True)
    def portal_my_device(self, device_id, **_kw):
        try:
            device = self._document_check_access("psa.device", device_id)
        except (AccessError, MissingError):
            # another customer's device looks exactly like one that does not exist
            raise request.not_found() from None
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "page_name": "psa_device",
                "device": device,
                "open_tickets": self._psa_open_tickets(device),
            }
        )
        return request.render("psa_rmm.portal_my_device", values)

    def _psa_open_tickets(self, devices):
        """Open tickets of ``devices`` the portal user may read (helpdesk_mgmt's portal rule applies)."""
        return request.env["helpdesk.ticket"].search(
            [("psa_device_id", "in", devices.ids), ("closed", "=", False)], order="create_date desc"
        )

    def _psa_open_ticket_counts(self, devices):
        groups = request.env["helpdesk.ticket"]._read_group(
            [("psa_device_id", "in", devices.ids), ("closed", "=", False)], ["psa_device_id"], ["__count"]
        )
        return {device.id: count for device, count in groups}
