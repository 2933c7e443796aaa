from . import autopay
