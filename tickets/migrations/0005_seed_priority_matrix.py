from django.db import migrations

# A copy, not an import: a migration must not change when the code does.
MATRIX = {
    (1, 1): "P1", (1, 2): "P2", (2, 1): "P2", (1, 3): "P3", (2, 2): "P3",
    (3, 1): "P3", (2, 3): "P4", (3, 2): "P4", (3, 3): "P4",
}  # fmt: skip


def seed(apps, schema_editor):
    cell = apps.get_model("tickets", "PriorityMatrixCell")
    for (impact, urgency), priority in MATRIX.items():
        cell.objects.get_or_create(impact=impact, urgency=urgency, defaults={"priority": priority})


class Migration(migrations.Migration):
    dependencies = [("tickets", "0004_priority_and_sla_clock")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
