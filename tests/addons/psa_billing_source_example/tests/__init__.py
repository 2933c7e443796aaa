from . import test_example_fee
