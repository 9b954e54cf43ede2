"""The web studio: upload songs, queue jobs on the engine, listen and download.

    composer serve [--host 127.0.0.1] [--port 8000] [--data DIR] [--no-worker]
    composer worker [--data DIR]

Requests never run a model. They validate, write a job row (`db`, SQLAlchemy; migrations by
Alembic) and put its id on the task queue (`queue`, huey: SQLite by default, Redis by URL);
workers run the job (`jobs`, on the same engine the CLI uses) and write its progress and
result back to the row. Files live in one folder under ids (`files`); nothing a client sends
becomes a path. The page at / is static (`static/`) and talks to the JSON API (`app`).
"""
