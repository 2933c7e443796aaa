"""Deliveries received before processing ran as a job were processed in their request: say so."""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        UPDATE psa_rmm_delivery delivery
           SET state = CASE WHEN EXISTS (
                   SELECT 1 FROM psa_rmm_event event WHERE event.delivery_id = delivery.id AND event.state = 'parked'
               ) THEN 'parked' ELSE 'done' END
         WHERE state = 'queued'
        """
    )
