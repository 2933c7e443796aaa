from collections import defaultdict

from odoo import api, fields, models


class MailActivity(models.Model):
    _inherit = "mail.activity"

    @api.model
    def _psa_sync_activities(self, activity_type, model_name, wanted, scope_ids=None, done_feedback=None):
        """Keep one open activity of ``activity_type`` per record that needs a person, and none elsewhere.

        The crons that detect what needs a person call this on every run, so it is idempotent: a record
        that already has its open activity gets no second one (its note is refreshed when it changed);
        an open activity of that type on a record no longer in ``wanted`` is marked done, with
        ``done_feedback`` as the reason.

        :param activity_type: the ``mail.activity.type`` of this purpose (one type per purpose)
        :param model_name: the model the activities are on
        :param wanted: ``{res_id: {"user_id": id, "summary": str, "note": str}}``
        :param scope_ids: the records this call decides on (``None``: every record of ``model_name``)
        :return: the activities created
        """
        # sudo: the crons decide for every user; the activities go to the people named in ``wanted``
        activities = self.sudo()
        domain = [("activity_type_id", "=", activity_type.id), ("res_model", "=", model_name)]
        if scope_ids is not None:
            domain.append(("res_id", "in", list(scope_ids)))
        open_by_record = defaultdict(activities.browse)
        for activity in activities.search(domain):
            open_by_record[activity.res_id] |= activity
        resolved = activities.browse()
        for res_id, open_activities in open_by_record.items():
            if res_id not in wanted:
                resolved |= open_activities
                continue
            note = wanted[res_id].get("note") or False
            stale = open_activities.filtered(lambda activity, note=note: str(activity.note or "") != str(note or ""))
            if stale:
                stale.write({"note": note, "summary": wanted[res_id].get("summary")})
        if resolved:
            resolved.action_feedback(feedback=done_feedback or self.env._("Resolved: nothing left to do."))
        model_id = self.env["ir.model"]._get_id(model_name)
        today = fields.Date.context_today(self)
        return activities.create(
            [
                {
                    "res_model_id": model_id,
                    "res_id": res_id,
                    "activity_type_id": activity_type.id,
                    "user_id": vals["user_id"],
                    "summary": vals.get("summary"),
                    "note": vals.get("note"),
                    "date_deadline": today,
                }
                for res_id, vals in wanted.items()
                if res_id not in open_by_record and vals.get("user_id")
            ]
        )
