"""Data migration code kept outside the migration file, imported by it."""

DEFAULT_SHAPE = "circle"


def seed_shapes(apps, schema_editor):
    Shape = apps.get_model("defaults", "Shape")
    Shape.objects.using(schema_editor.connection.alias).create(name=DEFAULT_SHAPE)
