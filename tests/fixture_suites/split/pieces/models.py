from __future__ import annotations

from django.db import models


class Seed(models.Model):
    label = models.CharField(max_length=40)

    def __str__(self) -> str:
        return self.label
