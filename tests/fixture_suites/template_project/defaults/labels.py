"""A module that a RunPython function of a migration file refers to."""

SHAPE_LABEL = "round"
