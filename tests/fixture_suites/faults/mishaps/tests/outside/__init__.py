"""Faults outside test methods (issue 12): class and module fixtures, and between units.

Each fixture does its fault only when ``FAULTS_OUTSIDE`` asks for it (see ``mishaps.outside``);
unset, every test here passes.
"""
