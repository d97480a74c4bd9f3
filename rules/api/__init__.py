"""The management REST API (`callflow api`): numbers, their features, the dry run, the
call statement and its recordings, over the same Redis store as `callflow rules push`.

Its own process (FastAPI + uvicorn), never the gevent engine: nothing in this package
imports gevent. ``rules.api.app.create_app(settings, store)`` builds the application.
"""
