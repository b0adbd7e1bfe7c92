from django.db import migrations, models


def gate_not_run_on_trial_rows(apps, schema_editor):
    """Silent-trial rows written before trials ran the input gate claimed "passed" by default: the
    gate never ran on them (their gate version is empty). Say so."""
    Prediction = apps.get_model("cases", "Prediction")
    Prediction.objects.filter(trial=True, gate_version="").update(gate_passed=None)


def gate_passed_again(apps, schema_editor):
    Prediction = apps.get_model("cases", "Prediction")
    Prediction.objects.filter(gate_passed=None).update(gate_passed=True)


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0019_model_faults'),
    ]

    operations = [
        migrations.AlterField(
            model_name='prediction',
            name='gate_passed',
            field=models.BooleanField(default=True, null=True),
        ),
        migrations.RunPython(gate_not_run_on_trial_rows, gate_passed_again),
    ]
