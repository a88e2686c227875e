from django.db import migrations, models


def seed(apps, schema_editor):
    apps.get_model("mishaps", "Seed").objects.using(schema_editor.connection.alias).create(
        name="seeded by a migration"
    )


class Migration(migrations.Migration):
    dependencies = [("mishaps", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Seed",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
            ],
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
