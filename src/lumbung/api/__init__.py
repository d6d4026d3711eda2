"""The read-only HTTP API: ``/datasets`` and CKAN-compatible actions (see app.py)."""
