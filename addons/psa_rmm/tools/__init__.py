from . import adapters, billing, events
