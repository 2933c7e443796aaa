from . import test_device_register
