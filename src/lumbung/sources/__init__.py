"""Source families: where their landing files live and how they map onto raw tables."""
