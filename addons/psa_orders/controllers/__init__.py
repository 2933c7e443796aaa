from . import leads
