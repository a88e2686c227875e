from django.db import models


class Colour(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Shape(models.Model):
    name = models.CharField(max_length=50)
    label = models.CharField(max_length=50, default="")

    def __str__(self) -> str:
        return self.name
