"""Data migration: the genres that serialized_rollback must bring back after a flush."""

from __future__ import annotations

from django.db import migrations

GENRES = ["fiction", "history", "poetry"]


def seed(apps, schema_editor):
    Genre = apps.get_model("library", "Genre")
    db = schema_editor.connection.alias
    Genre.objects.using(db).bulk_create([Genre(name=name) for name in GENRES])


def unseed(apps, schema_editor):
    Genre = apps.get_model("library", "Genre")
    Genre.objects.using(schema_editor.connection.alias).filter(name__in=GENRES).delete()


class Migration(migrations.Migration):
    dependencies = [("library", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
