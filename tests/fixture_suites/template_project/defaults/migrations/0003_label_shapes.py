"""RunPython with a function of this file that reads another module."""

from django.db import migrations

from defaults import labels


def label_shapes(apps, schema_editor):
    Shape = apps.get_model("defaults", "Shape")
    Shape.objects.using(schema_editor.connection.alias).update(label=labels.SHAPE_LABEL)


class Migration(migrations.Migration):
    dependencies = [("defaults", "0002_seed_shapes")]

    operations = [migrations.RunPython(label_shapes, migrations.RunPython.noop)]
