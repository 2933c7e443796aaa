from . import psa_device, res_partner
