"""Event.timezone: events created before it were all read and shown in Europe/London."""

from django.db import migrations, models

import apps.events.zones


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0003_event_title_trigram"),
    ]

    operations = [
        migrations.AddField(
            model_name="event",
            name="timezone",
            field=models.CharField(default="Europe/London", max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="event",
            name="timezone",
            field=models.CharField(
                default=apps.events.zones.default_timezone,
                help_text="IANA name: naive times of the event are read, and its times shown, in it.",
                max_length=64,
            ),
        ),
    ]
