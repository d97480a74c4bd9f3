"""The Asterisk side of the switch seam (``engine.switch``).

* ``engine.asterisk.call``: ``AsteriskCall``, one call over its FastAGI socket
  (``engine.agi``);
* ``engine.asterisk.dial``: one forward attempt as an ``EXEC Dial`` and how its result
  (``DIALSTATUS``) is read;
* ``engine.asterisk.dialstring``: destinations -> Asterisk dial strings (``DialTemplates``);
* ``engine.asterisk.causes``: cause names <-> Q.850 codes.

Only the service, which accepts Asterisk's connections, imports this package.
"""
from engine.asterisk.call import AsteriskCall
from engine.asterisk.dialstring import DialTemplates

__all__ = ["AsteriskCall", "DialTemplates"]
