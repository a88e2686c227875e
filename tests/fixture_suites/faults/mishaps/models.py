from __future__ import annotations

from django.db import models


class Entry(models.Model):
    name = models.CharField(max_length=100)
    value = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class Seed(models.Model):
    """A table whose one row a data migration writes: a TestCase relies on it, as in serial."""

    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name
