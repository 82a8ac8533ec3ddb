from pynetstat.cli import entry

entry()
