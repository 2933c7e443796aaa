from . import test_order_kinds
