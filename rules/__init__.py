"""callflow rules: what should happen to a call.

Models of the number configuration, schedules, number normalisation, the planner and
the stores. Pure where it can be; nothing in this package imports gevent.
"""
