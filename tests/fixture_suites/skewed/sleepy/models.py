from __future__ import annotations

from django.db import models


class Nap(models.Model):
    seconds = models.FloatField()

    def __str__(self) -> str:
        return f"nap of {self.seconds}s"
