from django.db import models


class Probe(models.Model):
    label = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.label
