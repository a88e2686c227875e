"""A data migration; SLOW_MIGRATION=<seconds> makes it sleep, so a test can kill a build."""

import os
import time

from django.db import migrations


def seed(apps, schema_editor):
    time.sleep(float(os.environ.get("SLOW_MIGRATION", "0")))
    Author = apps.get_model("shelf", "Author")
    Book = apps.get_model("shelf", "Book")
    author = Author.objects.using(schema_editor.connection.alias).create(name="Seeded Author")
    Book.objects.using(schema_editor.connection.alias).create(
        title="Seeded", author=author, pages=3
    )


class Migration(migrations.Migration):
    dependencies = [("shelf", "0002_book_pages")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
