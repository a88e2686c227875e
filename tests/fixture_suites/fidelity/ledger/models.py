from __future__ import annotations

from django.db import models


class Entry(models.Model):
    note = models.CharField(max_length=100)
    amount = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.note
