"""A migration module that queries the connection when it is imported, as real projects do
(a server version or feature check): it needs a database that exists at import time."""

from django.db import connection, migrations, models

with connection.cursor() as cursor:
    cursor.execute("SELECT 1")
    SERVER_ANSWERED = cursor.fetchone()[0] == 1


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="Probe",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("label", models.CharField(max_length=50)),
            ],
        ),
    ]
