"""The data-quality gate: Great Expectations suites over the gate views, and their runner."""
