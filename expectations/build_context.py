"""(Re)write the Great Expectations context of the quality gate in expectations/gx.

The rules are declared per source family in src/lumbung/quality/<module>_rules.py
(``suites()``) and collected, in the families' order, by src/lumbung/quality/suites.py;
this writes the committed context (great_expectations.yml, suites, validation
definitions, checkpoints) from them. Run it after changing a rule or the families, and
commit the result:

    .venv/bin/python expectations/build_context.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # a source checkout without an editable install

from lumbung.quality.gx_context import write_context  # noqa: E402

if __name__ == "__main__":
    gx_dir = write_context(HERE)
    print(f"wrote {gx_dir.relative_to(HERE.parent)}")
