"""Device harness: the framed serial protocol (host side), links, the Device class and the pytest plugin."""
