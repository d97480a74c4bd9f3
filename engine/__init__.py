"""callflow engine: making the plan happen on live FreeSWITCH calls.

The outbound event-socket server, one Call per channel, the flow runner and one module
per step, settings, logging, metrics and the `callflow` command.
"""
