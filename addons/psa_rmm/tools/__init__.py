from . import adapters, billing, contacts, events
