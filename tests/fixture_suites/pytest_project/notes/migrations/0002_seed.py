from django.db import migrations


def seed(apps, schema_editor):
    Note = apps.get_model("notes", "Note")
    Note.objects.using(schema_editor.connection.alias).bulk_create(
        [Note(text=f"seed {n}") for n in range(3)]
    )


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
