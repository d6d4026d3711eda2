"""dbt macros rendered as plain SQL, so that a rule reads a value exactly as the models do."""

from __future__ import annotations

from lumbung.config import Paths


def render_macro(name: str, *args: str) -> str:
    """The SQL of the dbt macro ``name`` of ``dbt_project/macros/<name>.sql`` (plain Jinja:
    only for macros that call nothing of dbt)."""
    import jinja2

    source = (Paths.from_env().dbt_project / "macros" / f"{name}.sql").read_text()
    template = jinja2.Environment(autoescape=False).from_string(source)  # noqa: S701 (SQL)
    return str(getattr(template.module, name)(*args)).strip()


def amount_sql(column: str) -> str:
    """An Indonesian-formatted amount as numeric, null when it is none: the dbt macro
    ``parse_id_number`` itself (written once in SQL), rendered for ``column``, its braces
    doubled (GX formats these queries with ``str.format``)."""
    return render_macro("parse_id_number", column).replace("{", "{{").replace("}", "}}")
