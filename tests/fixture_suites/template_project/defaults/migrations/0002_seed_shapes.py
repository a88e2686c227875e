"""RunPython with a function that lives in another module."""

from django.db import migrations

from defaults.seeding import seed_shapes


class Migration(migrations.Migration):
    dependencies = [("defaults", "0001_initial")]

    operations = [migrations.RunPython(seed_shapes, migrations.RunPython.noop)]
