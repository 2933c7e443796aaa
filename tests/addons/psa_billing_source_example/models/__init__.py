from . import psa_example_fee
