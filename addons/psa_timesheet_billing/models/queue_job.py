from odoo import fields, models


class QueueJob(models.Model):
    """The billing run a job works for: its form counts them and opens them (``psa.billing.run._job_store_values``)."""

    _inherit = "queue.job"

    psa_billing_run_id = fields.Many2one(
        "psa.billing.run", string="Billing Run", readonly=True, index="btree_not_null", ondelete="set null"
    )

    def _psa_related_action_billing_run(self):
        """Related action of the billing run's jobs: open the run (its lines say what each batch billed)."""
        self.ensure_one()
        run = self.psa_billing_run_id or self.records.filtered(lambda record: record._name == "psa.billing.run")[:1]
        if not run:
            return None
        return {
            "type": "ir.actions.act_window",
            "name": run.display_name,
            "res_model": "psa.billing.run",
            "view_mode": "form",
            "res_id": run.id,
        }

    def _psa_batch_line_ids(self):
        """The billing run lines these batch jobs (``psa.billing.run._psa_job_bill_batch``) bill."""
        line_ids = set()
        for job in self.filtered(lambda job: job.method_name == "_psa_job_bill_batch"):
            if job.args:
                line_ids.update(job.args[0])
        return line_ids
