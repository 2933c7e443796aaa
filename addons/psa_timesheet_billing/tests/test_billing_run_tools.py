from datetime import date

from odoo.tests import BaseCase, tagged

from ..tools.billing_run import (
    billing_key,
    chunked,
    invoice_group_key,
    quantity_watermark,
    staggered_chunks,
    summarize_time,
)


@tagged("post_install", "-at_install")
class TestBillingRunTools(BaseCase):
    def test_group_keys(self):
        per_order = [invoice_group_key("order", 1, 7, 2, order, "PO") for order in (10, 11)]
        self.assertNotEqual(per_order[0], per_order[1])
        per_customer = {invoice_group_key("customer", 1, 7, 2, order, po) for order, po in ((10, "A"), (11, "B"))}
        self.assertEqual(len(per_customer), 1)
        per_po = {invoice_group_key("po", 1, 7, 2, order, po) for order, po in ((10, "A"), (11, "A "), (12, "B"))}
        self.assertEqual(len(per_po), 2)
        self.assertNotEqual(invoice_group_key("customer", 1, 7, 2, 1), invoice_group_key("customer", 2, 7, 2, 1))
        with self.assertRaises(ValueError):
            invoice_group_key("weekly", 1, 7, 2, 1)

    def test_billing_key_and_watermark(self):
        self.assertEqual(billing_key("sale.order.line", 5, quantity_watermark(2.5)), "sale.order.line:5:2.5000")
        self.assertEqual(quantity_watermark(-0.0), quantity_watermark(0))
        self.assertNotEqual(quantity_watermark(1.0), quantity_watermark(1.001))

    def test_summarize_time_and_chunks(self):
        summary = summarize_time([(date(2026, 10, 3), 1.5), (date(2026, 10, 1), 2.0)])
        self.assertEqual(
            summary, {"count": 2, "hours": 3.5, "date_from": date(2026, 10, 1), "date_to": date(2026, 10, 3)}
        )
        self.assertEqual(summarize_time([])["date_from"], None)
        self.assertEqual(chunked(range(5), 2), [[0, 1], [2, 3], [4]])
        with self.assertRaises(ValueError):
            chunked([1], 0)

    def test_staggered_chunks(self):
        """The first batches ramp up (one step per further worker), then full batches; order and items kept."""
        sizes = [len(chunk) for chunk in staggered_chunks(range(200), 25, 2)]
        self.assertEqual(sizes, [12, 25, 25, 25, 25, 25, 25, 25, 13])
        sizes = [len(chunk) for chunk in staggered_chunks(range(200), 25, 4)]
        self.assertEqual(sizes[:4], [6, 12, 19, 25])
        self.assertEqual(sum(sizes), 200)
        self.assertEqual(sum(staggered_chunks(range(103), 10, 3), []), list(range(103)))
        # one worker, or too few items for the ramp and one full batch: plain batches
        self.assertEqual(staggered_chunks(range(60), 25, 1), chunked(range(60), 25))
        self.assertEqual(staggered_chunks(range(30), 25, 2), chunked(range(30), 25))
        self.assertEqual([len(chunk) for chunk in staggered_chunks(range(37), 25, 2)], [12, 25])
