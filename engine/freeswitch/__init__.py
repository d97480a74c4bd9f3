"""The FreeSWITCH side of the switch seam (``engine.switch``).

* ``engine.freeswitch.call``: ``FreeSwitchCall``, one call over its outbound event
  socket (``engine.esl``);
* ``engine.freeswitch.bridge``: one forward attempt as a ``bridge`` and how its result
  is read;
* ``engine.freeswitch.dialstring``: destinations -> FreeSWITCH endpoints.

Only the service, which accepts FreeSWITCH's connections, imports this package.
"""
from engine.freeswitch.call import FreeSwitchCall
from engine.freeswitch.dialstring import DialTemplates

__all__ = ["DialTemplates", "FreeSwitchCall"]
