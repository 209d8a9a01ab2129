"""Every profile gets its own calendar secret: added nullable, filled one by one (a callable
default is evaluated once for all existing rows, which a unique column refuses), then required."""

from django.db import migrations, models

import apps.accounts.models


def fill_tokens(registry, schema_editor):
    Profile = registry.get_model("accounts", "Profile")
    for profile in Profile.objects.filter(calendar_token__isnull=True).only("pk").iterator():
        Profile.objects.filter(pk=profile.pk).update(
            calendar_token=apps.accounts.models.new_calendar_token()
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="calendar_token",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="profile",
            name="calendar_token",
            field=models.CharField(
                default=apps.accounts.models.new_calendar_token,
                help_text="Secret of the personal calendar feed; a reset replaces it.",
                max_length=64,
                unique=True,
            ),
        ),
    ]
