"""``genziqa serve``: an HTTP scoring service and a web page (optional extra ``[serve]``).

- ``batcher.py``: an asyncio micro-batcher, generic over a batch function (no FastAPI).
- ``limits.py``: what an upload must be before it reaches the model (size, format, pixels).
- ``app.py``: the FastAPI app factory; thin, it calls the model and the two modules above.
- ``command.py``: the ``genziqa serve`` command (imports FastAPI only when it runs).
- ``static/``: the web page (plain HTML, CSS and JavaScript; no build step, no CDN).

Importing this package imports no FastAPI, so ``genziqa --help`` stays light.
"""
